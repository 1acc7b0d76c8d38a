"""wse-materialize-indices: read each loop index a generic uses from an iota input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

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
            ranges = _static_loop_ranges(op) if indices else None
            if ranges is not None:
                with op.location:
                    _materialize(op, indices, ranges)


def _static_loop_ranges(op: ir.Operation) -> list[int] | None:
    """Each loop's extent, read from the operands' static shapes; None if any is unknown."""
    maps = [ir.AffineMapAttr(attr).value for attr in op.attributes["indexing_maps"]]
    ranges: list[int | None] = [None] * maps[0].n_dims
    for value, affine_map in zip(op.operands, maps):
        if not (isinstance(value.type, ir.RankedTensorType) and value.type.has_static_shape):
            return None
        for extent, expr in zip(value.type.shape, affine_map.results):
            if isinstance(expr, ir.AffineDimExpr):
                ranges[expr.position] = extent
    return None if None in ranges else ranges


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
    n_inputs, n_outputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])
    operands, maps = list(op.operands), list(op.attributes["indexing_maps"])
    iota_maps = [ir.AffineMapAttr.get(ir.AffineMap.get(len(ranges), 0, [ir.AffineDimExpr.get(d)])) for d in dims]
    attributes = {name: op.attributes[name] for name in op.attributes}
    attributes["indexing_maps"] = ir.ArrayAttr.get(maps[:n_inputs] + iota_maps + maps[n_inputs:])
    attributes["operandSegmentSizes"] = ir.DenseI32ArrayAttr.get([n_inputs + len(dims), n_outputs])
    with ir.InsertionPoint(op):
        iotas = [_iota(ranges[d]) for d in dims]
        generic = ir.Operation.create(
            "linalg.generic", results=[r.type for r in op.results],
            operands=operands[:n_inputs] + iotas + operands[n_inputs:], attributes=attributes, regions=1)
    iota_args = _move_body(op, generic, n_inputs, len(dims))
    for index in indices:
        with ir.InsertionPoint(index):
            loop_index = arith.IndexCastOp(ir.IndexType.get(), iota_args[dims.index(_index_dim(index))])
        index.results[0].replace_all_uses_with(loop_index.result)
        index.erase()
    for old, new in zip(op.results, generic.results):
        old.replace_all_uses_with(new)
    op.erase()


def _move_body(op: ir.Operation, generic: ir.Operation, n_inputs: int, n_iotas: int) -> list[ir.Value]:
    """Move `op`'s body into `generic`, whose block gets `n_iotas` i64 arguments after
    the inputs' (linalg requires a block argument per operand, in operand order);
    the new arguments."""
    old_block = op.regions[0].blocks[0]
    old_args = list(old_block.arguments)
    i64 = ir.IntegerType.get_signless(64)
    args = old_args[:n_inputs] + [None] * n_iotas + old_args[n_inputs:]
    block = generic.regions[0].blocks.append(
        *[i64 if a is None else a.type for a in args],
        arg_locs=[op.location if a is None else a.location for a in args])
    for old, new in zip(args, block.arguments):
        if old is not None:
            old.replace_all_uses_with(new)
    for inner in list(old_block.operations):
        inner.detach_from_parent()
        block.append(inner)
    return list(block.arguments)[n_inputs:n_inputs + n_iotas]
