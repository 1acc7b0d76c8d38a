"""wafer-vectorize-copies: copy static buffers a vector row at a time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, transform
from torch_mlir.dialects.transform import loop, structured

from .cpu_target import TargetedPass
from .kernel_defaults import PARALLEL_ELEMENTS
from .linalg_builders import largest_divisor, touches_bools
from .pass_base import enclosing, enclosing_function, find_ops
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

    At threads > 1 a copy of at least `parallel-elements` values in a
    function that runs parallel loops (see wafer-serial-short-calls) is split
    among the threads along its outermost dim of at least one plane a thread
    (an scf.parallel, as the loops before it became): the copies bufferization
    leaves (a padded image, a ragged matmul's columns, a concatenation's part)
    otherwise ran on one core while the other waited.

    Options:
      machine: the CPU (see cpu_target); rows narrower than its vectors stay scalar.
      max-row: longest row copied as one vector (longer rows are split).
      threads: the worker threads of the parallel loops; 1 keeps every copy serial.
      parallel-elements: smaller copies stay serial (see kernel_defaults).
    """

    name = "wafer-vectorize-copies"
    summary = "Copy static memrefs a vector row at a time"

    max_row: int = 1024
    threads: int = 1
    parallel_elements: int = PARALLEL_ELEMENTS

    def apply(self, module: ir.Operation) -> None:
        # One tag per row shape and split: matching a tag walks the module, and DenseNet has 700 copies.
        shapes: dict[tuple[int, int, int | None], str] = {}
        # wafer-serial-short-calls left no parallel loop in a call too short to wake the workers.
        parallel = {_function_name(op) for op in find_ops(module, lambda op: op.name == "scf.parallel")}
        for op in find_ops(module, lambda op: op.name in ("memref.copy", "linalg.copy")):
            length = row_length(op, self.max_row, self.cpu.lanes)
            if length:
                copy = _as_linalg_copy(op)
                split = self._split_dim(copy) if _function_name(copy) in parallel else None
                shape = (ir.MemRefType(copy.operands[0].type).rank, length, split)
                tag(copy, shapes.setdefault(shape, f"copy{len(shapes)}"))
        if not shapes:
            return
        with transform_script(module) as root:
            any_op = transform.AnyOpType.get()
            for (rank, length, split), name in shapes.items():
                if split is None:
                    _copy_rows(match_tagged(root, name), rank, length)
                    continue
                each = transform.ForeachOp([], [match_tagged(root, name)])  # forall tiling takes one op
                with ir.InsertionPoint(each.body):
                    shares = structured.TileUsingForallOp(
                        any_op, any_op, each.body.arguments[0],
                        num_threads=[self.threads if d == split else 0 for d in range(rank)])
                    _copy_rows(shares.tiled_op, rank, length)
                    loop.ForallToParallelOp([any_op], shares.forall_op)  # last: it consumes the handles inside
                    transform.YieldOp([])

    def _split_dim(self, copy: ir.Operation) -> int | None:
        """The dim along which the threads share `copy`, or None to copy it on one."""
        shape = ir.MemRefType(copy.operands[0].type).shape
        if self.threads == 1 or math.prod(shape) < self.parallel_elements or enclosing(copy, "scf.parallel"):
            return None
        return next((d for d, extent in enumerate(shape[:-1]) if extent >= self.threads), None)


def _copy_rows(copies: ir.Value, rank: int, length: int) -> None:
    """Tile `copies` to one row of `length` values a step, each one vector transfer."""
    rows = structured.TileUsingForOp(copies, sizes=[1] * (rank - 1) + [length])
    structured.VectorizeOp(rows.tiled_linalg_op)


def _function_name(op: ir.Operation) -> str:
    return ir.StringAttr(enclosing_function(op).attributes["sym_name"]).value


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
