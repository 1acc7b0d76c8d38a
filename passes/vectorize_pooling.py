"""wafer-vectorize-pooling: pooling as stencils, or max pooling at wider strides as vector row maxima."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor, transform
from torch_mlir.dialects.transform import structured, vector

from .cpu_target import TargetedPass
from .depthwise_conv import fits_stencil, rewrite_max_pool, rewrite_sum_pool
from .kernel_defaults import PARALLEL_ELEMENTS
from .linalg_builders import (
    affine_maps,
    extract_slice,
    int_list,
    is_static_f32,
    iterator_types_attr,
    reassociation,
)
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .serial_foralls import SERIAL
from .transform_script import match_tagged, peeled_pieces, tag, transform_script

_POOL = "linalg.pooling_nchw_max"
_SUM_POOL = "linalg.pooling_nchw_sum"


def disjoint_windows(pool: ir.OpView) -> bool:
    """Whether each input element is in at most one window: stride = window,
    no dilation. The windows tile the input but for the rows and columns
    past the last one, which floor mode leaves unread (4-wide windows over
    an odd-length signal)."""
    if pool.name != _POOL or not is_static_f32(pool):
        return False
    kh, kw = pool.operands[1].type.shape
    return int_list(pool.attributes["strides"]) == [kh, kw] and int_list(pool.attributes["dilations"]) == [1, 1]


def _stencil(op: ir.OpView) -> bool:
    """Whether pool `op` is one for wafer-depthwise-conv's stencil: a max or sum
    pool with column stride 1 or 2."""
    return op.name in (_POOL, _SUM_POOL) and fits_stencil(op)


def rewrite_pool(pool: ir.OpView) -> ir.OpView:
    """pool(x) -> max over (kh, kw) of expand(x)[n, c, oh, kh, ow, kw].

    The expanded input reads each window row as a slice of one contiguous
    input row, so a tile of one output row loads KH whole input rows.
    """
    x, _, init = pool.operands
    n, c, oh, ow = init.type.shape
    kh, kw = pool.operands[1].type.shape
    f32 = x.type.element_type
    with ir.InsertionPoint(pool), pool.location:
        if list(x.type.shape[2:]) != [oh * kh, ow * kw]:  # rows and columns no window reads
            x = extract_slice(x, [0, 0, 0, 0], [n, c, oh * kh, ow * kw])
        windows = tensor.ExpandShapeOp(ir.RankedTensorType.get([n, c, oh, kh, ow, kw], f32), x,
                                       reassociation([0], [1], [2, 3], [4, 5]), [],
                                       static_output_shape=[n, c, oh, kh, ow, kw])
        d = [ir.AffineDimExpr.get(i) for i in range(6)]  # n, c, oh, ow, kh, kw
        reduce = linalg.GenericOp([init.type], [windows.result], [init],
                                  affine_maps(6, [d[0], d[1], d[2], d[4], d[3], d[5]], d[:4]),
                                  iterator_types_attr(*["parallel"] * 4, "reduction", "reduction"))
        block = reduce.regions[0].blocks.append(f32, f32)
        with ir.InsertionPoint(block):
            linalg.YieldOp([arith.MaximumFOp(block.arguments[0], block.arguments[1]).result])
    pool.results[0].replace_all_uses_with(reduce.results[0])
    pool.operation.erase()
    return reduce


@dataclass(frozen=True)
class VectorizePooling(TargetedPass):
    """Rewrite NCHW max and sum pooling to vector code.

    Windows with column stride 1 or 2, such as the overlapping 3x3 stride-2
    windows of ResNet and SqueezeNet (in ceil mode) and the disjoint 2x2 ones
    of LeNet and VGG, are computed by wafer-depthwise-conv's stencil with a
    maximum for the FMA: per (image, channel) plane, each output row's vector
    pieces take the maximum over the taps in registers, stride-2 runs split by
    `vector.deinterleave`, the -inf padding read through instead of copied.
    Its pieces are whole vectors, the last one overlapping the one before:
    the row maxima below made a row of 14 one ragged vector, which LLVM
    gathered element by element (bench/pooling.py times pools against ONNX
    Runtime's).
    Sum pooling (an average pool; the division by the window's size or count
    follows as an elementwise op) takes the same stencil with an addition and
    zero padding: Inception-v3's 3x3 stride-1 average pools, which wafer-fuse
    ran as scalar loops, and DenseNet's 2x2 stride-2 transitions.

    Disjoint max windows at a wider column stride (3x3 at stride 3) are the
    maximum of KH input rows read as vectors, with each row's KW neighbours
    split apart by one shuffle; an output row longer than
    `CpuTarget.row_piece_lanes` in pieces of that many outputs, the last
    peeled (a 1-D pool's row of 2187 was one vector<6561>, which LLVM
    spilled and scalarized). The rows are the iterations of an
    `scf.forall` (threads), marked `wafer.serial` when too small to pay
    for a fork and join of the threads (see wafer-fuse). Other column strides are left to wafer-fuse.

    Options:
      machine: the CPU (see cpu_target) whose vector width and registers
        shape the stencil's row pieces.
      parallel-elements: pools with a smaller input run their rows (or
        planes) serially.
    """

    name = "wafer-vectorize-pooling"
    summary = "Vectorize max and sum pooling, one plane (or output row, at strides past 2) per step"

    parallel_elements: int = PARALLEL_ELEMENTS

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: _stencil(op.opview)):
            pool = op.opview
            rewrite = rewrite_sum_pool if pool.name == _SUM_POOL else rewrite_max_pool
            rewrite(pool, self.cpu.lanes, self.cpu.vector_registers // 4,
                    math.prod(pool.operands[0].type.shape) >= self.parallel_elements)
        pools = [op.opview for op in find_ops(module, lambda op: disjoint_windows(op.opview))]
        if not pools:
            return
        reductions = []
        for pool in pools:
            record_strategy(pool, "vectorized max pool {}x{}".format(*pool.operands[1].type.shape))
            serial = math.prod(pool.operands[0].type.shape) < self.parallel_elements
            reductions.append((rewrite_pool(pool), serial))
        with transform_script(module) as root:
            any_op = transform.AnyOpType.get()
            for i, (reduce, serial) in enumerate(reductions):
                tag(reduce.operation, f"pool{i}")
                rows = structured.TileUsingForallOp(any_op, any_op, match_tagged(root, f"pool{i}"),
                                                    tile_sizes=[1, 1, 1, 0, 0, 0])
                if serial:
                    transform.AnnotateOp(rows.forall_op, SERIAL)
                # One window row per step: KW-wide neighbours split by one 2-D shuffle.
                outputs = reduce.results[0].type.shape[3]
                piece = self.cpu.row_piece_lanes if outputs > self.cpu.row_piece_lanes else 0
                steps = structured.TileUsingForOp(rows.tiled_op, sizes=[0, 0, 0, piece, 1, 0])
                windows = steps.tiled_linalg_op
                if piece and outputs % piece:
                    windows = peeled_pieces(steps.loops[0], rows.forall_op, f"pool{i}")
                structured.VectorizeOp(windows)
            funcs = structured.MatchOp.match_op_names(root, ["func.func"]).result
            for populate in (
                [lambda: vector.ApplyReorderMultiReductionPatternsOp(
                    lowering_strategy=vector.VectorMultiReductionLowering.InnerParallel),
                 lambda: vector.ApplyMultiReductionFlatteningPatternsOp(
                     lowering_strategy=vector.VectorMultiReductionLowering.InnerParallel),
                 lambda: vector.ApplyMultiReductionUnrollingPatternsOp(
                     lowering_strategy=vector.VectorMultiReductionLowering.InnerParallel),
                 vector.ApplyTransferPermutationPatternsOp, vector.ApplyCastAwayVectorLeadingOneDimPatternsOp,
                 transform.ApplyCanonicalizationPatternsOp],
                [lambda: vector.ApplyLowerTransposePatternsOp(
                    lowering_strategy=vector.VectorTransposeLowering.Shuffle1D)],
            ):
                patterns = transform.ApplyPatternsOp(funcs)
                with ir.InsertionPoint(patterns.patterns):
                    for make in populate:
                        make()
