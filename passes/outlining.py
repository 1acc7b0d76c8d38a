"""Move a set of ops of a function into a private function of its own, called
where they were, and inline such a call back: what wafer-outline-kernels and
the transform scripts' small functions (script_groups.py) share."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, func

# Defining ops without operands copied into an outlined function rather than
# passed to it: its constants stay constants (folds and LLVM see them), two
# outlined functions are only the same when their constants are, and patterns
# that fold slices and reshapes of an empty tensor still see it.
_COPIED = ("arith.constant", "ub.poison", "tensor.empty")


def inside(op: ir.Operation, members: set[ir.Operation]) -> bool:
    """Whether `op` is one of `members` or nested in one."""
    while op is not None:
        if op in members:
            return True
        op = op.parent
    return False


def captured(ops: list[ir.Operation]) -> list[ir.Value]:
    """The values `ops` (and the ops nested in them) read from outside them, in order of first use."""
    defined: set[ir.Value] = set()
    found: dict[ir.Value, None] = {}

    def collect(inner: ir.Operation) -> ir.WalkResult:
        # Pre-order: a value is defined (a result, or an argument of a block the
        # walk is about to enter) before any use the walk meets.
        for value in inner.operands:
            if value not in defined:
                found[value] = None
        defined.update(inner.results)
        for region in inner.regions:
            for block in region.blocks:
                defined.update(block.arguments)
        return ir.WalkResult.ADVANCE

    for op in ops:
        op.walk(collect, walk_order=ir.WalkOrder.PRE_ORDER)
    return list(found)


def _is_copied(value: ir.Value) -> bool:
    owner = value.owner
    return isinstance(owner, ir.OpView) and owner.operation.name in _COPIED and not owner.operands


def free_names(module: ir.Operation, prefix: str):
    """`<prefix>0`, `<prefix>1`, ...: each a symbol no op of `module` defines."""
    taken = {ir.StringAttr(op.attributes["sym_name"]).value
             for op in module.regions[0].blocks[0].operations if "sym_name" in op.attributes}
    count = 0
    while True:
        if f"{prefix}{count}" not in taken:
            yield f"{prefix}{count}"
        count += 1


def outline(module: ir.Operation, ops: list[ir.Operation], name: str) -> tuple[ir.OpView, ir.OpView]:
    """Move `ops` (of one block, in block order, none of them reading another's
    result through an op left out) into a private function `name`, called after
    the last of them; the function takes the values they read from outside, but
    for constants, which are copied in, and returns those results that ops left
    outside use. The caller moves, after the call, the ops that follow the first
    of `ops` and use what the call now returns."""
    inputs = captured(ops)
    passed = [value for value in inputs if not _is_copied(value)]
    members = set(ops)
    returned = [result for op in ops for result in op.results
                if any(not inside(use.owner.operation, members) for use in result.uses)]
    last = ops[-1]
    with ir.InsertionPoint(module.regions[0].blocks[0]), last.location:
        function = func.FuncOp(name, ([_call_type(value.type) for value in passed],
                                      [_call_type(value.type) for value in returned]), visibility="private")
        body = function.add_entry_block()
    with ir.InsertionPoint(last), last.location:
        operands = [_widened(value) for value in passed]
    with ir.InsertionPoint.after(last), last.location:
        call = func.CallOp([_call_type(value.type) for value in returned], ir.FlatSymbolRefAttr.get(name), operands)
        results = [_narrowed(new, value.type) for new, value in zip(call.results, returned)]
    for result, new in zip(returned, results):
        for use in list(result.uses):
            if not inside(use.owner.operation, members):
                use.owner.operands[use.operand_number] = new
    with ir.InsertionPoint(body), last.location:
        arguments = iter(body.arguments)
        replacements = {value: value.owner.operation.clone().results[0] if _is_copied(value)
                        else _narrowed(next(arguments), value.type) for value in inputs}
        terminator = func.ReturnOp(returned)
    for op in ops:
        op.move_before(terminator.operation)
    with ir.InsertionPoint(terminator), last.location:
        for i, value in enumerate(returned):
            terminator.operands[i] = _widened(value)

    def replace(inner: ir.Operation) -> ir.WalkResult:
        for i, value in enumerate(inner.operands):
            if value in replacements:
                inner.operands[i] = replacements[value]
        return ir.WalkResult.ADVANCE

    for op in ops:
        op.walk(replace)
    return function, call


def _call_type(type_: ir.Type) -> ir.Type:
    """How a value of `type_` crosses a call: a vector of i1 as one of i8.
    LLVM's x86 back end passes a vector of i1 in mask registers and aborts
    ("Cannot emit physreg copy instruction") on one with a unit dim, an array
    of <1 x i1>: a hoisted mask of a reduction's rows, vector<9x1xi1>."""
    if isinstance(type_, ir.VectorType) and type_.element_type == ir.IntegerType.get_signless(1):
        return ir.VectorType.get(type_.shape, ir.IntegerType.get_signless(8))
    return type_


def _widened(value: ir.Value) -> ir.Value:
    """`value` as `_call_type` has it, built at the insertion point."""
    wide = _call_type(value.type)
    return value if wide == value.type else arith.extui(wide, value)


def _narrowed(value: ir.Value, type_: ir.Type) -> ir.Value:
    """`value`, of `_call_type(type_)`, back to `type_`, built at the insertion point."""
    return value if value.type == type_ else arith.trunci(type_, value)


def inline(call: ir.OpView, function: ir.OpView) -> None:
    """Put the body of `function`, called once by `call`, in place of the call, and erase both."""
    body = function.regions[0].blocks[0]
    for argument, value in zip(body.arguments, call.operands):
        argument.replace_all_uses_with(value)
    *ops, terminator = body.operations
    for result, value in zip(call.results, terminator.operands):
        result.replace_all_uses_with(value)
    for op in ops:
        op.move_before(call)
    call.operation.erase()
    function.operation.erase()
