"""wafer-vectorize-copies: copy static buffers a vector row at a time."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg
from torch_mlir.dialects.transform import structured

from .cpu_target import TargetedPass
from .linalg_builders import largest_divisor, touches_bools
from .pass_base import find_ops
from .transform_script import match_tagged, tag, transform_script


def _unit_inner_stride(type_: ir.MemRefType) -> bool:
    strides, _ = type_.get_strides_and_offset()
    return strides[-1] == 1


def row_length(op: ir.Operation, max_row: int, lanes: int) -> int | None:
    """The vector length for a copy between static buffers, or None to leave it alone.

    Both sides must be contiguous along the innermost dim; rows longer than
    `max_row` are split evenly (a row that splits into less than a vector
    register of `lanes` stays a scalar loop).
    """
    types = [v.type for v in op.operands]
    if touches_bools(op):
        return None
    if len(types) != 2 or not all(isinstance(t, ir.MemRefType) and t.has_static_shape and t.rank for t in types):
        return None
    if not all(_unit_inner_stride(t) for t in types):
        return None
    inner = types[0].shape[-1]
    length = largest_divisor(inner, max_row)
    return length if length == inner or length >= lanes else None


@dataclass(frozen=True)
class VectorizeCopies(TargetedPass):
    """Rewrite each copy between static buffers as vector loads and stores of its rows.

    Bufferization leaves copies of im2col windows, of padded inputs and of
    unpacked results as `memref.copy` (and unpacks as `linalg.copy`), which
    lower to scalar loops. LLVM fully unrolls short rows (LeNet's 28 and 10
    pixels) into one scalar load and store per element and guards longer
    ones with a runtime alias check. Each copy is tiled to one row per loop
    iteration and each row becomes one vector transfer, a few vector moves.

    Options:
      machine: the CPU (see cpu_target); rows narrower than its vectors stay scalar.
      max-row: longest row copied as one vector (longer rows are split).
    """

    name = "wafer-vectorize-copies"
    summary = "Copy static memrefs a vector row at a time"

    max_row: int = 1024

    def apply(self, module: ir.Operation) -> None:
        # One tag per row shape: matching a tag walks the module, and DenseNet has 700 copies.
        shapes: dict[tuple[int, int], str] = {}
        for op in find_ops(module, lambda op: op.name in ("memref.copy", "linalg.copy")):
            length = row_length(op, self.max_row, self.cpu.lanes)
            if length:
                copy = _as_linalg_copy(op)
                shape = (ir.MemRefType(copy.operands[0].type).rank, length)
                tag(copy, shapes.setdefault(shape, f"copy{len(shapes)}"))
        if not shapes:
            return
        with transform_script(module) as root:
            for (rank, length), name in shapes.items():
                rows = structured.TileUsingForOp(match_tagged(root, name), sizes=[1] * (rank - 1) + [length])
                structured.VectorizeOp(rows.tiled_linalg_op)


def _as_linalg_copy(op: ir.Operation) -> ir.Operation:
    """`op` itself if it is a linalg.copy, else an equal linalg.copy in its place
    (the transform dialect tiles linalg ops, not memref.copy)."""
    if op.name == "linalg.copy":
        return op
    source, target = op.operands
    with ir.InsertionPoint(op), op.location:
        copy = linalg.CopyOp([], [source], [target])
        block = copy.regions[0].blocks.append(source.type.element_type, target.type.element_type)
        with ir.InsertionPoint(block):
            linalg.YieldOp([block.arguments[0]])
    op.erase()
    return copy.operation
