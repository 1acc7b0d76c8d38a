"""wse-materialize-indices: read each loop index a generic uses from an iota input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from .linalg_builders import with_extra_inputs
from .linalg_queries import loop_ranges
from .pass_base import WaferPass, find_ops


@dataclass(frozen=True)
class WseMaterializeIndices(WaferPass):
    """Give every static `linalg.generic` that uses `linalg.index d` an iota input instead.

    wse-distribute runs a copy of each generic on every PE over that PE's
    tiles, where `linalg.index` counts from 0 again: a tril, an eye or a
    causal mask would compare PE-local positions. An input is dealt to the
    PEs in the layout of the loops it reads, so an `arith.constant` iota
    `[0, ..., n-1]` read through `(d0, ..., dk) -> (d)` brings each PE the
    global indices of loop d. The body reads that block argument, cast to
    index, where it used `linalg.index d`. Generics on dynamic shapes or on
    buffers, which the WSE target does not take, are left alone.
    """

    name = "wse-materialize-indices"
    summary = "Replace linalg.index in linalg.generic bodies by reads of constant iota inputs"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            indices = find_ops(op, lambda inner: inner.name == "linalg.index")
            ranges = loop_ranges(op) if indices else None
            if ranges is not None:
                with op.location:
                    _materialize(op, indices, ranges)


def _index_dim(index: ir.Operation) -> int:
    return ir.IntegerAttr(index.attributes["dim"]).value


def _iota(extent: int) -> ir.Value:
    """`arith.constant dense<[0, ..., extent - 1]> : tensor<extent x i64>`."""
    i64 = ir.IntegerType.get_signless(64)
    values = np.arange(extent, dtype=np.int64)
    return arith.ConstantOp(ir.RankedTensorType.get([extent], i64),
                            ir.DenseElementsAttr.get(values, type=i64)).result


def _materialize(op: ir.Operation, indices: list[ir.Operation], ranges: list[int]) -> None:
    """Replace `op` by a generic with an iota input per indexed loop, after its own inputs."""
    dims = sorted({_index_dim(index) for index in indices})
    with ir.InsertionPoint(op):
        iotas = [_iota(ranges[d]) for d in dims]
    maps = [ir.AffineMap.get(len(ranges), 0, [ir.AffineDimExpr.get(d)]) for d in dims]
    _, iota_args = with_extra_inputs(op, iotas, maps)
    for index in indices:
        with ir.InsertionPoint(index):
            loop_index = arith.IndexCastOp(ir.IndexType.get(), iota_args[dims.index(_index_dim(index))])
        index.results[0].replace_all_uses_with(loop_index.result)
        index.erase()
