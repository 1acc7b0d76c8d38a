"""wse-trim-windows: slice each window input down to the elements its windows read."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import tensor

from .linalg_queries import indexing_maps, loop_ranges
from .pass_base import WaferPass, find_ops


def _largest(expr: ir.AffineExpr, ranges: list[int]) -> int | None:
    """The largest value of `expr` over the loop nest `ranges`: for a sum of
    nonnegative multiples of loop dims and constants (oh * stride + kh * dilation),
    the value at the last iteration; None for any other expression."""
    if isinstance(expr, ir.AffineDimExpr):
        return ranges[expr.position] - 1
    if isinstance(expr, ir.AffineConstantExpr):
        return expr.value if expr.value >= 0 else None
    if isinstance(expr, ir.AffineAddExpr):
        lhs, rhs = _largest(expr.lhs, ranges), _largest(expr.rhs, ranges)
        return None if lhs is None or rhs is None else lhs + rhs
    if isinstance(expr, ir.AffineMulExpr):
        lhs, rhs = _largest(expr.lhs, ranges), _largest(expr.rhs, ranges)
        return None if lhs is None or rhs is None else lhs * rhs
    return None


def _read_extent(affine_map: ir.AffineMap, ranges: list[int], shape: list[int]) -> list[int]:
    """Per dim of an operand of `shape`, how many leading elements `affine_map` reads
    (the whole dim where that is not known)."""
    extents = []
    for expr, size in zip(affine_map.results, shape):
        largest = _largest(expr, ranges)
        extents.append(size if largest is None else min(size, largest + 1))
    return extents


def trim_windows(op: ir.Operation) -> None:
    """Read every input of linalg.generic `op` that it reads only a prefix of
    through a slice of that prefix."""
    ranges = loop_ranges(op)
    if ranges is None:
        return
    n_inputs = len(op.operands) - len(op.results)
    for i, affine_map in enumerate(indexing_maps(op)[:n_inputs]):
        value = op.operands[i]
        shaped = ir.RankedTensorType(value.type)
        extents = _read_extent(affine_map, ranges, list(shaped.shape))
        if extents == list(shaped.shape):
            continue
        with ir.InsertionPoint(op), op.location:
            sliced = ir.RankedTensorType.get(extents, shaped.element_type)
            op.operands[i] = tensor.ExtractSliceOp(sliced, value, [], [], [], [0] * len(extents), extents,
                                                   [1] * len(extents)).result


@dataclass(frozen=True)
class WseTrimWindows(WaferPass):
    """Make every window input exactly as large as its windows read.

    A pooling in ceil mode, or a window whose stride skips the input's last
    rows, reads only a prefix of its (padded) input: oh + kh never reaches the
    last row. linalg-fold-unit-extent-dims turns a window with a unit kernel
    dim or a single output position into a plain dim read (oh + kh becomes
    oh), and a plain dim read must span its whole dim, so the folded op no
    longer verifies. A slice of the prefix the windows read keeps it valid.
    Run it on generalized ops, before linalg-fold-unit-extent-dims.
    """

    name = "wse-trim-windows"
    summary = "Slice window inputs (pooling, conv) to the prefix their windows read"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            trim_windows(op)
