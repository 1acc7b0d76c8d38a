"""wafer-slice-elementwise: compute only the slice a program reads of an elementwise op."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from torch_mlir import ir

from .linalg_builders import extract_slice, generic_like, move_body
from .linalg_queries import PARALLEL, indexing_maps, is_projected_map, iterator_types, map_dims, reads_loop_indices
from .pass_base import WaferPass, find_ops


def _static_window(slice_op: ir.OpView) -> tuple[list[int], list[int]] | None:
    """The offsets and sizes of a rank-keeping, unit-stride slice whose offsets
    and sizes are constants; None for any other."""
    offsets, sizes = list(slice_op.static_offsets), list(slice_op.static_sizes)
    if len(slice_op.operands) > 1 or set(slice_op.static_strides) != {1}:
        return None  # a dynamic offset, size or stride is an operand
    if ir.RankedTensorType(slice_op.result.type).rank != len(sizes):
        return None
    return offsets, sizes


def _sliceable(generic: ir.Operation, maps: list[ir.AffineMap]) -> bool:
    """An elementwise generic with one result, one use, every loop parallel,
    its result written in loop order, each input read through a projected map
    (`maps`), and a body that does not read its loop indices (which a slice
    would shift)."""
    return (len(generic.results) == 1 and len(list(generic.results[0].uses)) == 1
            and not reads_loop_indices(generic)
            and all(kind == PARALLEL for kind in iterator_types(generic))
            and maps[-1] == ir.AffineMap.get_identity(maps[-1].n_dims)
            and all(is_projected_map(m) for m in maps[:-1]))


def _slice_operand(value: ir.Value, affine_map: ir.AffineMap, offsets: list[int], sizes: list[int]) -> ir.Value:
    """`value`, read through `affine_map`, cut to the loop window `offsets`/`sizes`
    (a dim the map keeps at 0 stays one wide)."""
    dims = map_dims(affine_map)
    if not dims:
        return value
    return extract_slice(value, [0 if d is None else offsets[d] for d in dims],
                         [1 if d is None else sizes[d] for d in dims])


def slice_producer(slice_op: ir.OpView) -> list[ir.OpView]:
    """Rewrite `slice_op` of an elementwise generic as that generic over slices of
    its operands; the operands' new slices (which may move in turn), none where
    it did not rewrite."""
    producer = slice_op.operands[0].owner
    window = _static_window(slice_op)
    if isinstance(producer, ir.Block) or producer.name != "linalg.generic" or window is None:
        return []
    generic = producer.operation
    maps = indexing_maps(generic)
    if not _sliceable(generic, maps):
        return []
    offsets, sizes = window
    with ir.InsertionPoint(slice_op), slice_op.location:
        operands = [_slice_operand(v, m, offsets, sizes) for v, m in zip(generic.operands, maps)]
    n_inputs = len(operands) - 1
    old_args = list(generic.regions[0].blocks[0].arguments)
    attributes = list(ir.ArrayAttr(generic.attributes["indexing_maps"]))
    sliced, block = generic_like(generic, operands[:n_inputs], attributes[:n_inputs], old_args,
                                 outputs=operands[n_inputs:], output_maps=attributes[n_inputs:])
    sliced.move_before(slice_op)  # after the operands' slices
    move_body(generic, block)
    slice_op.result.replace_all_uses_with(sliced.results[0])
    slice_op.erase()
    generic.erase()
    return [v.owner for v in operands if isinstance(v.owner, ir.OpView) and v.owner.name == "tensor.extract_slice"]


@dataclass(frozen=True)
class SliceElementwise(WaferPass):
    """Move each static slice of an elementwise op's result onto its operands,
    so the op computes the slice alone.

    A model that slices a buffer it converts first computes the whole buffer on
    every call: GPT-Neo's causal mask is a 2048x2048 bool buffer, stored as
    bytes, that the importer turns into i1 before slicing out the 128x128 a
    128-token call reads. Sliced first, the conversion covers 128x128 bytes.
    Only a generic whose one use is the slice moves (another use would need
    the whole result anyway); slices of slices move one after the other.
    """

    name = "wafer-slice-elementwise"
    summary = "Compute only the slice a program reads of an elementwise op"

    def apply(self, module: ir.Operation) -> None:
        # In program order, so a slice of a slice meets its source already moved;
        # the slices a move makes are new, and queue behind.
        pending = deque(op.opview for op in find_ops(module, lambda op: op.name == "tensor.extract_slice"))
        while pending:
            pending.extend(slice_producer(pending.popleft()))
