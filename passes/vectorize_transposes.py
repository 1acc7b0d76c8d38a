"""wafer-vectorize-transposes: transposes that move the innermost dim, as vector blocks and shuffles."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured

from .cpu_target import TargetedPass
from .kernel_defaults import PARALLEL_ELEMENTS
from .linalg_builders import largest_divisor, touches_bools
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .serial_foralls import SERIAL
from .transform_script import match_tagged, shuffle_transposes, tag, transform_script


# Shorter block sides would still read or write about one value per cache line.
_MIN_SIDE = 4


def rows_per_block(row: int, lanes: int) -> int:
    """How many of a transpose's input rows one block reads, for a result whose
    rows are `row` long: a divisor of it up to two vectors."""
    return largest_divisor(row, 2 * lanes)


def block_tile(transpose: ir.OpView, lanes: int) -> list[int] | None:
    """Tile sizes over the result's dims of one block: the dim that was the
    input's innermost cut to a divisor of its extent up to `lanes` (a read of
    one vector), the result's innermost to one up to two vectors (a 13x13
    image's rows of 13 on AVX2), every other dim 1.
    None when the transpose keeps the innermost dim (it copies whole rows),
    a shape is dynamic, or a side has no divisor of at least `_MIN_SIDE`
    (37 values a row, a prime): a block one value wide would still read
    or write one value per line."""
    result = ir.RankedTensorType(transpose.results[0].type)
    permutation = list(ir.DenseI64ArrayAttr(transpose.attributes["permutation"]))
    source_inner = permutation.index(result.rank - 1)
    if source_inner == result.rank - 1 or not result.has_static_shape:
        return None
    sizes = [1] * result.rank
    sizes[source_inner] = largest_divisor(result.shape[source_inner], lanes)
    sizes[-1] = rows_per_block(result.shape[-1], lanes)
    return sizes if min(sizes[source_inner], sizes[-1]) >= _MIN_SIDE else None


@dataclass(frozen=True)
class VectorizeTransposes(TargetedPass):
    """Copy each transpose that moves the innermost dim in blocks of vector
    rows, transposed by shuffles in registers.

    Element by element, each of a block's reads loads a line for one value;
    where the input's rows lie a multiple of 4 KB apart (an oriented
    convolution's C with 1024 padded filters, see wafer-orient-contractions)
    the lines share one L1 set and are gone before their next value is
    read. A block reads each line once, one vector of up to a line wide
    per input row, and writes whole rows of the result. A transpose of
    bools stays (see `touches_bools`).

    Options:
      machine: the CPU (see cpu_target) whose vector width sizes the blocks.
      parallel-elements: smaller transposes loop over their blocks serially
        (see wafer-fuse).
    """

    name = "wafer-vectorize-transposes"
    summary = "Copy transposes that move the innermost dim as vector blocks transposed by shuffles"

    parallel_elements: int = PARALLEL_ELEMENTS

    def apply(self, module: ir.Operation) -> None:
        transposes = [(op.opview, tile) for op in find_ops(module, lambda op: (
            op.name == "linalg.transpose" and op.parent.name == "func.func" and not touches_bools(op)))
            if (tile := block_tile(op.opview, self.cpu.lanes)) is not None]
        if not transposes:
            return
        with transform_script(module) as root:
            any_op = transform.AnyOpType.get()
            for i, (transpose, tile) in enumerate(transposes):
                record_strategy(transpose, f"transpose in {tile[-1]}x{max(tile[:-1])} blocks")  # rows x lanes read
                tag(transpose.operation, f"transpose{i}")
                blocks = structured.TileUsingForallOp(any_op, any_op, match_tagged(root, f"transpose{i}"),
                                                      tile_sizes=tile)
                if math.prod(transpose.results[0].type.shape) < self.parallel_elements:
                    transform.AnnotateOp(blocks.forall_op, SERIAL)
                structured.VectorizeOp(blocks.tiled_op)
            shuffle_transposes(root)
