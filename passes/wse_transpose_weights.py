"""wse-transpose-weights: store a constant so that a kernel walks it along its rows.

A PE's kernel issues one DSD instruction per row of its output, over the
output's innermost loop (`wse_target.kernel`). An operand indexed by that loop
in an outer dim is walked with a stride: a linear layer's weight, stored
(out, in) as PyTorch keeps it, is read down its columns. The SDK appendix
narrows a 16-bit instruction to 2 or 1 lanes for most strides, and the rows
such an operand starts at are not word-aligned. Weights are loaded before the
model runs, so their layout is free: this pass transposes the constant, at
compile time, to put that loop's dim innermost, and permutes the map to match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from .constant_pack import ConstantReader
from .linalg_queries import indexing_maps, is_projected_map, map_dims
from .pass_base import WaferPass, find_ops
from .resource_blobs import resource_attr


def _strided_weight(op: ir.Operation, position: int) -> list[int] | None:
    """The permutation that puts the output's innermost loop last in input
    `position`'s dims, if that input reads it in an outer dim; else None."""
    maps = indexing_maps(op)
    if not all(is_projected_map(m) for m in maps) or not maps[-1].results:
        return None
    vector = map_dims(maps[-1])[-1]
    dims = map_dims(maps[position])
    if vector is None or vector not in dims or dims[-1] == vector:
        return None
    outer = dims.index(vector)
    return [d for d in range(len(dims)) if d != outer] + [outer]


@dataclass(frozen=True)
class WseTransposeWeights(WaferPass):
    """Transpose each constant a linalg.generic reads along the output's
    innermost loop in an outer dim; one copy per constant and permutation."""

    name = "wse-transpose-weights"
    summary = "Transpose constants a wse kernel would walk with a stride, at compile time"

    def apply(self, module: ir.Operation) -> None:
        reader = ConstantReader(module)
        made: dict = {}  # (constant value, permutation) -> the transposed constant
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            inputs = len(op.operands) - len(op.results)
            maps, moved = indexing_maps(op), False
            for position, value in enumerate(list(op.operands)[:inputs]):
                order = _strided_weight(op, position)
                if order is None:
                    continue
                array = reader.array(value)
                if array is None:
                    continue
                key = (value, tuple(order))
                if key not in made:
                    made[key] = transposed_constant(value, np.transpose(array, order))
                op.operands[position] = made[key]
                maps[position] = ir.AffineMap.get(
                    maps[position].n_dims, 0, [maps[position].results[d] for d in order])
                moved = True
            if moved:
                op.attributes["indexing_maps"] = ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps])


def transposed_constant(value: ir.Value, array: np.ndarray) -> ir.Value:
    """A constant beside `value`'s holding `array`."""
    shaped = ir.RankedTensorType(value.type)
    type_ = ir.RankedTensorType.get(list(array.shape), shaped.element_type)
    with ir.InsertionPoint(value.owner), value.owner.location:
        return arith.ConstantOp(type_, resource_attr(np.ascontiguousarray(array), "transposed", type_)).result
