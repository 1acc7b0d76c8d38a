"""wafer-outline-kernels: each loop nest a function of its own, identical ones (a transformer's
layers) one function, and the function that calls them compiled without LLVM's optimizer."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import func

from ..symbols import public_functions
from .pass_base import WaferPass

# Top-level ops that are a kernel: a loop nest over buffers, or a parallel one as an OpenMP region.
_KERNELS = ("scf.for", "scf.parallel", "omp.parallel")
# Defining ops copied into a kernel's function rather than passed to it: its
# constants stay constants (LLVM folds them into the code) and must be equal
# for two kernels to be the same.
_COPIED = ("arith.constant", "ub.poison")
# Marks a function left as glue: what wafer-unoptimized-glue looks for.
GLUE = "wafer.glue"
# The outlined functions' names: wafer_kernel0, wafer_kernel1, ...
_OUTLINED = "wafer_kernel"


@dataclass(frozen=True)
class OutlineKernels(WaferPass):
    """Outline each top-level loop nest of a public function into a private
    function, one for each set of identical nests, called where each of them
    was; the public function is left as glue (allocations, views, calls),
    tagged `wafer.glue` for wafer-unoptimized-glue.

    A model of repeated layers (ViT-B/16's twelve encoder layers, GPT-2's
    blocks, ResNet's same-shaped residual blocks) runs the same loop nests on
    other buffers and weights. Lowered and JIT-compiled once per copy, they
    were most of its compile time, growing with the number of layers. Two nests
    are the same when their code is, with the values they read from outside
    (buffers, weights, sizes) as arguments in order of first use, and the
    constants they read copied in.

    What is left of the public function is thousands of descriptor updates
    and calls (ViT-B/16: three quarters of the module's LLVM ops), in which
    -O2 finds nothing to speed up but spends most of the JIT's time; every
    nest moves out, twin or not, so that the glue can skip the optimizer,
    which also keeps LLVM from inlining the shared functions back into it.
    bench/compile_time.py shows the JIT's seconds by model and layer count.
    """

    name = "wafer-outline-kernels"
    summary = "Outline loop nests into functions, one per set of identical nests, and tag the caller as glue"

    def apply(self, module: ir.Operation) -> None:
        names = _free_names(module)
        for function in public_functions(module):
            groups: dict[str, list[tuple[ir.OpView, ir.OpView]]] = defaultdict(list)
            for op in list(function.regions[0].blocks[0].operations):
                if op.operation.name in _KERNELS and not op.results:
                    kernel, call = _outline(module, op.operation)
                    # Local scope: printing a nested op otherwise names every value of the module.
                    groups[kernel.operation.get_asm(use_local_scope=True, assume_verified=True)].append((kernel, call))
            for twins in groups.values():
                name = next(names)
                twins[0][0].attributes["sym_name"] = ir.StringAttr.get(name)
                for kernel, call in twins:
                    call.attributes["callee"] = ir.FlatSymbolRefAttr.get(name)
                for kernel, _ in twins[1:]:
                    kernel.operation.erase()
            if groups:
                function.attributes[GLUE] = ir.UnitAttr.get()


def _free_names(module: ir.Operation):
    """`wafer_kernel0`, `wafer_kernel1`, ...: each a symbol no op of `module` defines."""
    taken = {ir.StringAttr(op.attributes["sym_name"]).value
             for op in module.regions[0].blocks[0].operations if "sym_name" in op.attributes}
    count = 0
    while True:
        if f"{_OUTLINED}{count}" not in taken:
            yield f"{_OUTLINED}{count}"
        count += 1


def _captured(op: ir.Operation) -> list[ir.Value]:
    """The values `op`'s body reads from outside it, in order of first use."""
    captured: dict[ir.Value, None] = {}

    def collect(inner: ir.Operation) -> ir.WalkResult:
        for value in inner.operands:
            if value not in captured and not _defined_inside(value, op):
                captured[value] = None
        return ir.WalkResult.ADVANCE

    op.walk(collect, walk_order=ir.WalkOrder.PRE_ORDER)
    return list(captured)


def _defined_inside(value: ir.Value, op: ir.Operation) -> bool:
    """Whether `value` is defined in `op` (the bindings hash an Operation by its
    operands, so no set of ops can be kept across operand updates)."""
    owner = value.owner
    inner = (owner.owner if isinstance(owner, ir.Block) else owner).operation
    while inner is not None:
        if inner == op:
            return True
        inner = inner.parent
    return False


def _is_copied(value: ir.Value) -> bool:
    return isinstance(value.owner, ir.OpView) and value.owner.operation.name in _COPIED


def _outline(module: ir.Operation, op: ir.Operation) -> tuple[ir.OpView, ir.OpView]:
    """Move `op` into a private function of its own, called where it was; the
    function takes the values `op` reads from outside, but for constants,
    which are copied in. Every such function has the same name until it is
    shared, so that two of them print the same when their code is the same."""
    captured = _captured(op)
    passed = [value for value in captured if not _is_copied(value)]
    with ir.InsertionPoint(module.regions[0].blocks[0]), op.location:
        kernel = func.FuncOp(_OUTLINED, ([value.type for value in passed], []), visibility="private")
        body = kernel.add_entry_block()
    with ir.InsertionPoint(op), op.location:
        call = func.CallOp([], ir.FlatSymbolRefAttr.get(_OUTLINED), passed)
    with ir.InsertionPoint(body):
        arguments = iter(body.arguments)
        replacements = {value: value.owner.operation.clone().results[0] if _is_copied(value) else next(arguments)
                        for value in captured}
        op.move_before(func.ReturnOp([]).operation)

    def replace(inner: ir.Operation) -> ir.WalkResult:
        for i, value in enumerate(inner.operands):
            if value in replacements:
                inner.operands[i] = replacements[value]
        return ir.WalkResult.ADVANCE

    op.walk(replace)
    return kernel, call

