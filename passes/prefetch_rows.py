"""wafer-prefetch-rows: prefetch the image rows a kernel reads in place, a few blocks ahead."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, memref

from .cpu_target import element_bytes
from .linalg_builders import index_constant
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops
from .prefetch_panels import STREAMED_BYTES, carries_accumulator

# Ops that view a buffer without copying it: a read's buffer lies under them.
_VIEWS = ("memref.subview", "memref.expand_shape", "memref.collapse_shape", "memref.cast")


@dataclass(frozen=True)
class PrefetchRows(WaferPass):
    """Prefetch, `distance` register blocks ahead, the rows of a K-major A that a
    packed kernel reads in place (wafer-pack-matmul's `read_rows_in_place`).

    An oriented 1x1 convolution reads its NCHW image as A: each k step
    broadcasts a block of mr pixels from each of its rows, rows a whole image
    plane apart. Where the image comes from memory (SqueezeNet's 55x55 fires
    at batch 8: 12 MB), the hardware prefetchers follow too few of those
    streams and the kernel waits on each block's rows; the packed B's panels,
    the weights, are in cache anyway. Each k step prefetches the block of its
    rows `distance` blocks on.

    Runs after bufferization: it matches a K loop (an `scf.for` carrying one
    2-D vector accumulator) and, in it, the subview that reads a rows x mr
    block whose rows the K index offsets and whose columns an enclosing
    loop's index does: the row-block loop's, around the K loop or around a
    loop over B's column blocks (so the K index picks rows a whole row apart),
    from a buffer of at least 256 KB. A packed panel, indexed by its block
    before its k, is left alone: its rows are adjacent, one stream.

    Options:
      distance: how many register blocks ahead to prefetch.
    """

    name = "wafer-prefetch-rows"
    summary = "Prefetch the image rows that packed kernels read in place"

    distance: int = 2

    def apply(self, module: ir.Operation) -> None:
        for k_loop in find_ops(module, lambda op: carries_accumulator(op, 2)):
            k_index = k_loop.regions[0].blocks[0].arguments[0]
            block_indices = _enclosing_loop_indices(k_loop)
            for op in list(k_loop.regions[0].blocks[0].operations):
                dims = next(filter(None, (_row_block_dims(op, k_index, index) for index in block_indices)), None)
                if dims is not None:
                    rows = list(op.attributes["static_sizes"])[dims[0]]
                    record_strategy(k_loop, f"prefetch {rows} image rows {self.distance} blocks ahead")
                    _prefetch_ahead(op, *dims, self.distance)


def _enclosing_loop_indices(k_loop: ir.Operation) -> list[ir.Value]:
    """The indices of the `scf.for` loops around a K loop, innermost first: the
    row-block loop is its parent, or an outer one where a loop over B's column
    blocks lies between (an oriented convolution with two or more filter blocks)."""
    indices = []
    loop = k_loop.parent
    while loop.name == "scf.for":
        indices.append(loop.regions[0].blocks[0].arguments[0])
        loop = loop.parent
    return indices


def _row_block_dims(op: ir.Operation, k_index: ir.Value, block_index: ir.Value) -> tuple[int, int] | None:
    """The dims of a subview's source that the K index and the block index
    offset, for a subview reading a block of several rows of a streamed
    buffer; None for any other op."""
    if op.name != "memref.subview":
        return None
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    positions = [dim for dim, offset in enumerate(op.attributes["static_offsets"]) if offset == dynamic]
    values = list(op.operands[1:])
    if len(values) != len(positions):
        return None  # dynamic sizes or strides: not a register block's read
    where = dict(zip(positions, values))
    k_dims = [dim for dim, value in where.items() if value == k_index]
    block_dims = [dim for dim, value in where.items() if value == block_index]
    if len(k_dims) != 1 or len(block_dims) != 1 or len(where) != 2:
        return None
    k_dim, block_dim = k_dims[0], block_dims[0]
    sizes = list(op.attributes["static_sizes"])
    source = ir.MemRefType(op.operands[0].type)
    strides, _ = source.get_strides_and_offset()
    if sizes[k_dim] < 2 or sizes[block_dim] != 1 or not k_dim < block_dim or strides[-1] != 1:
        return None
    if viewed_bytes(op.operands[0]) < STREAMED_BYTES:
        return None  # it stays in cache
    return k_dim, block_dim


def viewed_buffer(value: ir.Value) -> ir.Value:
    """The buffer `value` views: the function argument, allocation or global under its views."""
    while isinstance(value.owner, ir.OpView) and value.owner.operation.name in _VIEWS:
        value = value.owner.operands[0]
    return value


def viewed_bytes(value: ir.Value) -> int:
    """Bytes of the buffer `value` views (see `viewed_buffer`); 0 for a dynamic shape."""
    shaped = ir.MemRefType(viewed_buffer(value).type)
    if not shaped.has_static_shape:
        return 0
    return math.prod(shaped.shape) * element_bytes(shaped.element_type)


def _prefetch_ahead(read: ir.Operation, k_dim: int, block_dim: int, distance: int) -> None:
    """Prefetch each row of the block `distance` blocks on (clamped to the last block)."""
    source = read.operands[0]
    rows = list(read.attributes["static_sizes"])[k_dim]
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    values = iter(read.operands[1:])
    offsets = [next(values) if o == dynamic else o for o in read.attributes["static_offsets"]]
    with ir.InsertionPoint(read), read.location:
        indices = [o if isinstance(o, ir.Value) else index_constant(o) for o in offsets]
        extent = ir.MemRefType(source.type).shape[block_dim]
        last = (arith.subi(memref.dim(source, index_constant(block_dim)), index_constant(1))
                if extent == ir.ShapedType.get_dynamic_size() else index_constant(extent - 1))
        indices[block_dim] = arith.minsi(arith.addi(offsets[block_dim], index_constant(distance)), last)
        for row in range(rows):
            indices[k_dim] = arith.addi(offsets[k_dim], index_constant(row)) if row else offsets[k_dim]
            memref.PrefetchOp(source, list(indices), False, 3, True)
