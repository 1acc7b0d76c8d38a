"""wafer-lower-assert: report a failed cf.assert to the runtime and return."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import cf, func, llvm, ub

from ..diagnostics import Diagnostic, format_location
from ..symbols import ASSERT_FAILED, ASSERT_PENDING, declare_runtime
from .pass_base import PassFailure, WaferPass
from .plan_buffers import ON_EXIT


@dataclass(frozen=True)
class LowerAssert(WaferPass):
    """Replace each `cf.assert` with a call to the runtime and an early return.

    Upstream lowers `cf.assert` to `abort()`, which takes the Python process
    down with it. Here a failed assert calls `@wafer_assert_failed(message)`
    (the message is a `file:line:col: error: ...` line pointing at the
    assert), which the JIT runtime provides and which records it, then the
    function returns poison results that the runtime never reads: it raises
    instead. A function that calls one that can fail asks
    `@wafer_assert_pending()` after the call and returns too, so no caller
    computes on poison. Runs after scf-to-cf: an assert nested in a region
    cannot branch to the function's exit, so that is an error.
    """

    name = "wafer-lower-assert"
    summary = "Lower cf.assert to a runtime report and an early return"

    def apply(self, module: ir.Operation) -> None:
        functions = {
            ir.StringAttr(op.attributes["sym_name"]).value: op
            for op in module.regions[0].blocks[0].operations
            if op.operation.name == "func.func"
        }
        asserts = {name: _ops_named(f, "cf.assert") for name, f in functions.items()}
        calls = {name: _ops_named(f, "func.call") for name, f in functions.items()}
        failing = {name for name, found in asserts.items() if found}
        if not failing:
            return
        while True:  # a function that calls one that can fail can fail too
            callers = {name for name, found in calls.items() if any(_callee(c) in failing for c in found)}
            if callers <= failing:
                break
            failing |= callers
        body = module.regions[0].blocks[0]
        with ir.InsertionPoint(body), ir.Location.unknown():
            declare_runtime(ASSERT_FAILED, [llvm.PointerType.get()], [])
            declare_runtime(ASSERT_PENDING, [], [ir.IntegerType.get_signless(1)])
        messages = 0
        for name in sorted(failing):
            exit_block = _exit_block(functions[name])
            for op in asserts[name]:
                _lower_assert(op, exit_block, body, f"wafer_assert_message_{messages}")
                messages += 1
            for op in calls[name]:
                if _callee(op) in failing:
                    _return_if_pending(op, exit_block)


def _ops_named(function: ir.Operation, name: str) -> list[ir.Operation]:
    found = []

    def visit(op: ir.Operation) -> ir.WalkResult:
        if op.name == name:
            found.append(op)
        return ir.WalkResult.ADVANCE

    function.operation.walk(visit)
    return found


def _callee(call: ir.Operation) -> str:
    return ir.FlatSymbolRefAttr(call.attributes["callee"]).value


def _exit_block(function: ir.Operation) -> ir.Block:
    """A new last block that runs what every exit must (the ops marked
    `wafer.on_exit`: wafer-plan-buffers' return of the arena) and returns
    poison for every result."""
    region = function.regions[0]
    on_exit = [op for op in _ops_named(function, "func.call") if ON_EXIT in op.attributes]
    block = region.blocks[len(region.blocks) - 1].create_after()
    results = ir.FunctionType(ir.TypeAttr(function.attributes["function_type"]).value).results
    with ir.InsertionPoint(block), function.location:
        for op in on_exit:
            op.clone()
        func.ReturnOp([ub.PoisonOp(t).result for t in results])
    return block


def _split_after(op: ir.Operation) -> ir.Block:
    """Move the ops after `op` into a new block right after op's block."""
    if op.parent.name != "func.func":
        raise PassFailure(op.location, f"{op.name} inside '{op.parent.name}' cannot return early: lower it to cf first")
    rest = op.block.create_after()
    following = list(op.block.operations)
    for later in following[[o.operation for o in following].index(op) + 1 :]:
        rest.append(later)
    return rest


def _lower_assert(op: ir.Operation, exit_block: ir.Block, body: ir.Block, symbol: str) -> None:
    rest = _split_after(op)
    text = str(Diagnostic("error", format_location(op.location), ir.StringAttr(op.attributes["msg"]).value))
    message = text.encode() + b"\0"
    text_type = llvm.ArrayType.get(ir.IntegerType.get_signless(8), len(message))
    with ir.InsertionPoint.at_block_begin(body), op.location:
        llvm.GlobalOp(
            text_type, symbol, ir.Attribute.parse("#llvm.linkage<internal>"),
            constant=True, value=ir.StringAttr.get(message),
        )
    report = rest.create_before()
    with ir.InsertionPoint(op.block), op.location:
        cf.CondBranchOp(op.operands[0], [], [], rest, report)
    with ir.InsertionPoint(report), op.location:
        func.CallOp([], ASSERT_FAILED, [llvm.AddressOfOp(llvm.PointerType.get(), symbol).result])
        cf.BranchOp([], exit_block)
    op.erase()


def _return_if_pending(call: ir.Operation, exit_block: ir.Block) -> None:
    rest = _split_after(call)
    with ir.InsertionPoint(call.block), call.location:
        pending = func.CallOp([ir.IntegerType.get_signless(1)], ASSERT_PENDING, [])
        cf.CondBranchOp(pending.result, [], [], exit_block, rest)
