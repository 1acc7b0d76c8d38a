"""wafer-softmax-reciprocal: a softmax's division by its row sums as a multiply by their reciprocals."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith

from .linalg_builders import elementwise, fill_value, splat
from .linalg_queries import PARALLEL, REDUCTION, indexing_maps, is_projected_map, iterator_types, map_dims
from .pass_base import WaferPass, find_ops


def _generic(value: ir.Value) -> ir.OpView | None:
    """The linalg.generic that computes `value`, through the reshapes that add unit dims."""
    owner = value.owner
    while isinstance(owner, ir.OpView) and owner.name == "tensor.expand_shape":
        owner = owner.operands[0].owner
    return owner if isinstance(owner, ir.OpView) and owner.name == "linalg.generic" else None


def _body(op: ir.OpView) -> tuple[list[ir.Operation], list[ir.Value]]:
    """A generic's body ops before the yield, and the values it yields."""
    ops = list(op.regions[0].blocks[0].operations)
    return ops[:-1], list(ops[-1].operands)


def _computes(op: ir.OpView, name: str) -> bool:
    """Whether `op`'s body is one `name` of its inputs, in order, whose result it yields."""
    ops, yielded = _body(op)
    arguments = list(op.regions[0].blocks[0].arguments)[:len(op.inputs)]
    return [o.name for o in ops] == [name] and list(ops[0].operands) == arguments and yielded == [ops[0].result]


def _kept_dims(affine_map: ir.AffineMap) -> set[int] | None:
    """The loop dims a projected map reads; None for any other map."""
    return {d for d in map_dims(affine_map) if d is not None} if is_projected_map(affine_map) else None


def _reduces(op: ir.OpView, source: ir.Value, kept: set[int], combine: str, start: float) -> bool:
    """Whether `op` reduces `source` (read whole) over every loop but `kept` with
    `combine` from `start`, and yields that first: a row's maximum or sum."""
    if op is None or len(op.inputs) != 1 or op.inputs[0] != source or fill_value(op.outputs[0]) != start:
        return False
    kinds = iterator_types(op)
    maps = indexing_maps(op)
    if _kept_dims(maps[0]) != set(range(len(kinds))) or {d for d, k in enumerate(kinds) if k == PARALLEL} != kept:
        return False
    ops, yielded = _body(op)
    arguments = op.regions[0].blocks[0].arguments
    first = yielded[0].owner if yielded else None
    return (REDUCTION in kinds and isinstance(first, ir.OpView) and first.name == combine
            and {first.operands[0], first.operands[1]} == {arguments[0], arguments[1]} and first.operation in ops)


def _minus_row_max(value: ir.Value, kept: set[int]) -> bool:
    """Whether `value` is x - max(x) over every loop but `kept`, broadcast back: a
    subtraction whose second operand is x's maximum over those loops."""
    op = _generic(value)
    if op is None or len(op.inputs) != 2 or not _computes(op, "arith.subf"):
        return False
    maps = indexing_maps(op)
    return (_kept_dims(maps[1]) == kept and _kept_dims(maps[0]) == set(range(len(iterator_types(op))))
            and _reduces(_generic(op.inputs[1]), op.inputs[0], kept, "arith.maximumf", float("-inf")))


def _exp_minus_row_max(value: ir.Value, kept: set[int]) -> bool:
    """Whether `value` is exp(x - max(x)) (see `_minus_row_max`): every row has a 1."""
    op = _generic(value)
    return (op is not None and len(op.inputs) == 1 and _computes(op, "math.exp")
            and _kept_dims(indexing_maps(op)[0]) == set(range(len(iterator_types(op))))
            and _minus_row_max(op.inputs[0], kept))


def softmax_division(op: ir.OpView) -> ir.Operation | None:
    """The `arith.divf` of an elementwise generic that divides e = exp(x - max(x))
    by e's sums over the loops the divisor's map leaves out, or None."""
    if op.name != "linalg.generic" or len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    kinds = iterator_types(op)
    if any(kind != PARALLEL for kind in kinds) or not _computes(op, "arith.divf"):
        return None
    maps = indexing_maps(op)
    everything = set(range(len(kinds)))
    kept = _kept_dims(maps[1])
    if _kept_dims(maps[0]) != everything or kept is None or kept == everything:
        return None
    exps, sums = op.inputs
    if not (_reduces(_generic(sums), exps, kept, "arith.addf", 0.0) and _exp_minus_row_max(exps, kept)):
        return None
    return _body(op)[0][0]


@dataclass(frozen=True)
class SoftmaxReciprocal(WaferPass):
    """Divide a softmax's exponentials by their row sums as a multiply by one
    reciprocal a row, as PyTorch's and ONNX Runtime's CPU kernels do.

    torch-mlir lowers softmax to e = exp(x - max(x)), the sums of e over the
    softmax dims, and a division of e by its row's sum: one vector division an
    element, which issues several times slower than a multiply. A sum of e
    holds a 1 (the row's maximum, less itself) and is at most the row's length,
    so its reciprocal is a normal number, and e times it differs from the
    quotient by at most one rounding. Only that form is rewritten: a division by
    a sum without the maximum subtracted could underflow to a reciprocal of
    infinity.
    """

    name = "wafer-softmax-reciprocal"
    summary = "Multiply a softmax's exponentials by their row sums' reciprocals instead of dividing"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            division = softmax_division(op.opview)
            if division is not None:
                _multiply_by_reciprocal(op.opview, division)


def _multiply_by_reciprocal(op: ir.OpView, division: ir.Operation) -> None:
    """Read `op`'s divisor as one reciprocal a row and multiply by it."""
    sums = op.inputs[1]
    shape = ir.RankedTensorType(sums.type)
    with ir.InsertionPoint(op), op.location:
        op.operands[1] = elementwise([sums], shape.shape, lambda total: arith.divf(splat(1.0, total.type), total),
                                     element=shape.element_type)
    with ir.InsertionPoint(division), division.location:
        product = arith.mulf(division.operands[0], division.operands[1])
    division.results[0].replace_all_uses_with(product)
    division.erase()
