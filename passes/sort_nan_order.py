"""wafer-sort-nan-order: sort NaN as the greatest value, as eager does."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith

from .pass_base import WaferPass, find_ops

_P = arith.CmpFPredicate
# predicate -> (is `lhs before rhs` strict, does a NaN lhs come first)
_ORDERS = {_P.OLT: (True, False), _P.OLE: (False, False), _P.OGT: (True, True), _P.OGE: (False, True)}


def _is_nan(value: ir.Value) -> ir.Value:
    return arith.CmpFOp(_P.UNO, value, value).result


def _nan_greatest(compare: ir.OpView) -> None:
    """Replace `compare` by its predicate over floats ordered with NaN above +inf.

    Ascending: lhs < rhs also when only rhs is NaN (lhs <= rhs when rhs is).
    Descending: lhs > rhs also when only lhs is NaN (lhs >= rhs when lhs is).
    """
    strict, nan_lhs_first = _ORDERS[compare.predicate.value]
    lhs, rhs = compare.operands
    first, second = (lhs, rhs) if nan_lhs_first else (rhs, lhs)
    with ir.InsertionPoint(compare), compare.location:
        nan_wins = _is_nan(first)
        if strict:
            second_is_number = arith.CmpFOp(_P.ORD, second, second).result
            nan_wins = arith.AndIOp(nan_wins, second_is_number).result
        ordered = arith.CmpFOp(compare.predicate.value, lhs, rhs).result
        replacement = arith.OrIOp(ordered, nan_wins).result
    compare.result.replace_all_uses_with(replacement)
    compare.operation.erase()


@dataclass(frozen=True)
class SortNanOrder(WaferPass):
    """Order NaN above every number in `tm_tensor.sort` comparators.

    torch-mlir lowers `sort` (and `topk`, `argsort`, which go through it) to a
    comparator `arith.cmpf ole/oge` between the two elements, which is false
    whenever either is NaN: a NaN stayed where it was, among the numbers.
    Eager sorts NaN as the greatest value (last ascending, first descending),
    so each such compare becomes that total order.
    """

    name = "wafer-sort-nan-order"
    summary = "Sort NaN as the greatest value in tm_tensor.sort comparators"

    def apply(self, module: ir.Operation) -> None:
        for sort in find_ops(module, lambda op: op.name == "tm_tensor.sort"):
            comparator = sort.regions[0].blocks[0]
            for op in list(comparator.operations):
                if op.name == "arith.cmpf" and op.opview.predicate.value in _ORDERS:
                    _nan_greatest(op.opview)
