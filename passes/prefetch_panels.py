"""wafer-prefetch-panels: prefetch the weight panel rows a matrix-vector kernel streams."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, memref

from .cpu_target import element_bytes
from .linalg_builders import index_constant
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops

_LINE = 16  # f32 values in a 64-byte cache line
# A panel this big is streamed from L3 or memory on every call; a smaller one mostly
# stays in the 1 MB L2, and its prefetches gain nothing (LeNet's 200 KB fc1 panel
# ran in the same time with and without them).
STREAMED_BYTES = 256 * 1024


@dataclass(frozen=True)
class PrefetchPanels(WaferPass):
    """Prefetch, `distance` rows ahead, every cache line of the B panel rows
    that a one-row kernel (a matrix-vector product that wafer-matvec left,
    such as a batch-1 linear layer whose K is not whole vectors) reads in each
    step of its K loop.

    With one row of A, each weight is used once: the kernel streams its panel
    (1.6 MB for MLP's first layer) at memory speed, and the hardware
    prefetcher alone keeps too few lines in flight. Prefetching two K steps
    ahead took that layer from cold memory in 0.23 ms to 0.17 ms (numpy's
    sgemv: 0.14), and the whole MLP at batch 1 from 0.41 to 0.25-0.28 ms (ONNX
    Runtime: 0.28), the same from cache. Kernels with several rows reuse each
    panel row from cache and are left alone. Runs after bufferization: it
    matches the K loop (an `scf.for` carrying one 1-D vector accumulator) and,
    in it, the subviews of a row-major panel that the loop index offsets.

    Options:
      distance: how many panel rows ahead to prefetch.
    """

    name = "wafer-prefetch-panels"
    summary = "Prefetch the B panel rows that matrix-vector kernels stream"

    distance: int = 16

    def apply(self, module: ir.Operation) -> None:
        for k_loop in find_ops(module, lambda op: carries_accumulator(op, 1)):
            body = k_loop.regions[0].blocks[0]
            k_index = body.arguments[0]
            for op in list(body.operations):
                offsets = _panel_offsets(op, k_index)
                if offsets is not None:
                    rows, cols = list(op.attributes["static_sizes"])[-2:]
                    record_strategy(k_loop, f"prefetch {rows}x{cols} panel rows {self.distance} ahead")
                    _prefetch_ahead(op, offsets, k_index, self.distance)


def carries_accumulator(op: ir.Operation, rank: int) -> bool:
    """A packed kernel's K loop: an `scf.for` carrying one vector accumulator
    of `rank` dims (1 for a one-row kernel, 2 for a register block)."""
    if op.name != "scf.for" or len(op.results) != 1:
        return False
    accumulator = op.results[0].type
    return isinstance(accumulator, ir.VectorType) and accumulator.rank == rank


def _panel_offsets(op: ir.Operation, k_index: ir.Value) -> list[ir.Value | int] | None:
    """The offsets of a subview [.., rows, cols] of contiguous rows whose row offset is
    the loop index and whose rows are at least a cache line, in a panel too big to
    stay in L2: the B panel (A's column of one is not). None for any other op."""
    if op.name != "memref.subview" or len(op.operands) != 2 or op.operands[1] != k_index:
        return None
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    offsets = [k_index if o == dynamic else o for o in op.attributes["static_offsets"]]
    cols = list(op.attributes["static_sizes"])[-1]
    strides, _ = ir.MemRefType(op.results[0].type).get_strides_and_offset()
    if len(offsets) < 2 or offsets[-2] != k_index or cols < _LINE or strides[-1] != 1:
        return None
    source = ir.MemRefType(op.operands[0].type)
    if math.prod(source.shape) * element_bytes(source.element_type) < STREAMED_BYTES:
        return None
    return offsets


def _prefetch_ahead(panel: ir.Operation, offsets: list, k_index: ir.Value, distance: int) -> None:
    """Prefetch each line of the panel's rows `distance` rows on (clamped to its last row)."""
    source = panel.operands[0]
    rows, cols = list(panel.attributes["static_sizes"])[-2:]
    last_row = ir.MemRefType(source.type).shape[-2] - 1
    with ir.InsertionPoint(panel), panel.location:
        leading = [index_constant(o) for o in offsets[:-2]]
        for row in range(rows):
            ahead = arith.minsi(arith.addi(k_index, index_constant(distance + row)), index_constant(last_row))
            for col in range(0, cols, _LINE):
                memref.PrefetchOp(source, [*leading, ahead, index_constant(offsets[-1] + col)], False, 3, True)
