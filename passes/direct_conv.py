"""wafer-direct-conv: small convolutions as direct loops whose output rows stay in registers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor, transform, vector
from torch_mlir.dialects.transform import structured

from . import direct_conv_filters
from .constant_pack import ConstantReader
from .cpu_target import F32_BYTES, CpuTarget
from .conv_algorithm import MIN_IM2COL_PRODUCTS, ConvAlgorithmPass
from .kernel_defaults import PARALLEL_FLOPS
from .linalg_builders import int_list, is_constant, is_named, is_static_f32
from .one_row_images import pixels_in_one_row
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .serial_foralls import SERIAL
from .transform_script import (
    hoist_loop_invariant_subsets,
    mark_for_hoisting,
    match_tagged,
    rematch_tagged,
    tag,
    transform_script,
)

_CONV = "linalg.conv_2d_nchw_fchw"
_GROUPED = "linalg.conv_2d_ngchw_gfchw"
_TAP_LOOPS = 3  # input channel, filter row, filter column
_WIDEST_SMALL_WINDOW = 9  # taps of a 3x3
# Multiply-adds per output (channels x taps) up to which a convolution whose
# image fills whole vectors runs as im2col's packed matmul by default (see
# `_im2col_by_default`). `bench/conv_algorithms.py --layers` times them: a 3x3
# from one or two channels to 16 filters or more ran faster as im2col than
# directly wherever its outputs per image were whole vectors (16x16, 28x28,
# 32x32, 56x56), slower where they were not (14x14, 26x26, 27x27), and to 2, 4
# or 8 filters slower; from four channels (36 products), directly.
_SHALLOW_PRODUCTS = 18
_UPDATE = "wafer.rank1_update"
# Output pixels per image up to which a 1x1 convolution runs along its filters by
# default (see `_along_filters_by_default`). bench/conv_algorithms.py on ResNet-50,
# DenseNet-121 and RegNet-X-400MF, batch 1 and 8, 2 threads, AVX-512: at 14x14 and
# 7x7 (stride 1 or 2) along filters ran up to 1.46x faster than im2col on most
# layers, 0.98x on the slowest; at 28x28 it tied or ran up to 1.2x slower. Compiled
# for AVX2 (16 registers: half the accumulators a block) the same rule made RegNet-X
# 1.06-1.12x and ResNet-50 1.02x slower on the same host, so it needs the registers.
_SMALL_IMAGE_PIXELS = 14 * 14
_SMALL_IMAGE_REGISTERS = 32
# The input rows one output row reads, read again by each block of filters, stay in this
# share of L1, the rest left to the weights and the tile written; the layers measured with
# filter blocks (bench numbers in the commit that added them) read at most 3.5 KB a row.
_ROW_INPUT_L1_SHARE = 1 / 4


@dataclass(frozen=True)
class DirectConv(ConvAlgorithmPass):
    """Compute each small NCHW convolution directly, one output row at a time.

    For each image and output row, the F x OW accumulators stay in registers
    while the loops over input channel and filter tap add one rank-1 update
    each: the tap's F weights times an input row read in place (a unit-stride
    row of the input, no im2col copy). A grouped convolution (ResNeXt's,
    RegNet's: 4 to 16 filters a group) is one such convolution per group,
    where im2col copied every group's K-fold columns for a few filters each;
    with a column stride s it is s convolutions of column stride 1, one per
    column phase of the input (see `_column_phases`).
    A row splits into blocks of one, two or four vectors and the pieces
    left (56 = 32 + 16 + 8 with AVX-512): LLVM lowers a ragged vector<28>
    to code 10x slower, and blocks of three vectors to shuffles. When the
    accumulators fit the target's registers (see
    `CpuTarget.direct_conv_accumulators`) this beats im2col, whose K-fold
    copy of the input, its packing and its unpacking are most of a small
    convolution's time (LeNet at batch 32: 0.87 -> 0.48 ms, conv1 alone 0.31 ->
    0.12 ms); wider convolutions (ResNet's 64 x 56) stay with wafer-im2col.

    A grouped convolution whose groups' filters fill vectors (RegNet's 16 a
    group, ResNeXt's 8; see `_fits_filters`) instead runs its vectors along the
    filters, one per output pixel of a register block (see direct_conv_filters):
    no output row is ragged, a column stride costs nothing, and the input's
    padding is read through instead of copied. A plain convolution whose output
    rows do not fit the registers runs the same way where it has more than
    one tap or a small output image (see `_along_filters_by_default`), or
    where a tuning record or the option picks `direct` for it.

    Options (and conv-algorithm, tuning, threads: see conv_algorithm):
      machine: the CPU (see cpu_target) whose registers hold the row blocks.
      parallel-flops: smaller convolutions loop over their rows serially (see
        wafer-pack-matmul).
    """

    name = "wafer-direct-conv"
    summary = "Compute small NCHW convolutions directly, output rows in registers"

    parallel_flops: int = PARALLEL_FLOPS

    def apply(self, module: ir.Operation) -> None:
        database, reader = self.database(module), ConstantReader(module)
        convs = []  # (conv, which column phase it is, the filters of its row blocks)
        for op in find_ops(module, lambda op: op.name in (_CONV, _GROUPED)):
            conv = op.opview
            chosen = self.chosen_algorithm(conv, database)
            if chosen not in (None, "direct") or chosen is None and _im2col_by_default(conv, self.cpu):
                continue
            weights = reader.array(conv.operands[1]) if self._fits_filters(conv) else None
            by_default = _along_filters_by_default(conv, self.cpu)
            row_filters = self._row_filters(conv)
            along_filters = conv.name == _GROUPED or (chosen or by_default) and row_filters is None
            if weights is not None and along_filters:
                self._rewrite_along_filters(conv, weights)
            elif row_filters is not None:
                convs += [(phase, how, row_filters) for phase, how in _column_phases(conv)]
        if not convs:
            return
        any_op = transform.AnyOpType.get()
        row_tiles = [_row_tile(conv, row_filters) for conv, _, row_filters in convs]
        with transform_script(module, outline=[f"conv{i}" for i in range(len(convs))]) as root:
            for i, (conv, phase, row_filters) in enumerate(convs):
                f, ow = conv.results[0].type.shape[-3], conv.results[0].type.shape[-1]
                block, pieces = self._row_pieces(row_filters, ow)
                parallel = _flops(conv) >= self.parallel_flops
                groups = f"{conv.operands[1].type.shape[0]} groups, " if conv.name == _GROUPED else ""
                filters = f"{row_filters} of {f} filters x " if row_filters < f else f"{f}x"
                rest = f" and {'+'.join(map(str, pieces))}" if pieces else ""
                record_strategy(conv, f"direct conv: {groups}{filters}{block}{rest} output row blocks in registers"
                                + phase + ("" if parallel else ", serial"))
                tag(conv.operation, f"conv{i}")
                tiled = structured.TileUsingForallOp(any_op, any_op, match_tagged(root, f"conv{i}"),
                                                     tile_sizes=row_tiles[i])
                if not parallel:
                    transform.AnnotateOp(tiled.forall_op, SERIAL)
                if _written_once(conv.operands[2]):
                    # Each row block starts from its slice of the bias, not a pass over the output.
                    tag(conv.operands[2].owner, f"conv{i}.init")
                    structured.FuseIntoContainingOp(match_tagged(root, f"conv{i}.init"), tiled.forall_op)
                _split_columns(tiled.tiled_op, len(row_tiles[i]), ow, block, pieces)
            for i in range(len(convs)):
                pieces = transform.ForeachOp([], [rematch_tagged(root, f"conv{i}")])
                with ir.InsertionPoint(pieces.body):
                    # The parallel loops: the row tile's, then the output columns.
                    _accumulate_in_registers(pieces.body.arguments[0], len(row_tiles[i]) + 1)
                    transform.YieldOp([])
            # The accumulator row block stays in registers across the tap loops once the
            # canonicalizer proves the transfers in bounds: one round per loop level.
            _canonicalize(root)
            for _ in range(_TAP_LOOPS):
                hoist_loop_invariant_subsets(root)

        for update in find_ops(module, lambda op: _UPDATE in op.attributes):
            # A one-column remainder stays a vector multiply-add; one of one filter
            # and one column (a 1-wide image) is a scalar.
            if isinstance(update.results[0].type, ir.VectorType) and update.results[0].type.rank == 2:
                _to_outer_product(update.opview)
            else:
                del update.attributes[_UPDATE]

    def can_compute(self, conv: ir.OpView) -> bool:
        """Whether this pass can compute `conv`: output rows or filters in vectors.
        Where it can, it takes the convolution unless an option or a tuning
        record says otherwise; a plain one by rows, or along filters where
        `_along_filters_by_default` says."""
        return self._row_filters(conv) is not None or self._fits_filters(conv)

    def _row_filters(self, conv: ir.OpView) -> int | None:
        """The filters of one output row block in registers: all of them where a
        whole output row's accumulators for each fit the registers (one vector's
        for a grouped convolution); else, for a plain convolution whose output row
        reads few enough input values to stay in L1 while each block of its
        filters reads them again (`_ROW_INPUT_L1_SHARE`), the block of filters
        that `_filter_block` picks, unless its rows end in part of a vector and
        its filters fill vectors (a 6->16 5x5 with rows of 10 ran faster along
        filters); None where the rows do not fit. A 1x1's packed matmul reads
        each input value once and keeps its rows in cache.

        A plain convolution with more input per row reads its C input planes once
        per block of a row, where im2col's packed kernel tiles them in cache (a 1x1
        64->16 at 54x54, batch 8: 1.27x slower direct). A grouped one reads a
        handful of planes, and im2col copies its columns K-fold for a handful of
        filters each (ResNeXt-50 with AVX2: 0.95x with blocks of two vectors). For
        the same reason only a grouped one with a column stride is taken, as
        column phases."""
        f, ow = conv.results[0].type.shape[-3], conv.results[0].type.shape[-1]
        grouped = conv.name == _GROUPED
        vectors = 1 if grouped else max(ow // self.cpu.lanes, 1)
        unit_stride = int_list(conv.attributes["strides"])[1] == 1
        if not (is_static_f32(conv) and (unit_stride or grouped and int_list(conv.attributes["dilations"])[1] == 1)):
            return None
        if f * vectors <= self.cpu.direct_conv_accumulators:
            return f
        c, kh, kw = conv.operands[1].type.shape[-3:]
        row_input_bytes = c * kh * conv.operands[0].type.shape[-1] * F32_BYTES
        if grouped or kh * kw == 1 or row_input_bytes > self.cpu.l1d_bytes * _ROW_INPUT_L1_SHARE:
            return None
        if ow % self.cpu.lanes and self._fits_filters(conv):
            return None  # a ragged row's last piece wastes lanes that a vector of filters fills
        return self._filter_block(f, ow)

    def _filter_block(self, filters: int, width: int) -> int | None:
        """The divisor of `filters` whose row blocks (see `_row_pieces`) do the
        most FMAs per value loaded: each tap of a block of d filters by v vectors
        loads v input vectors and broadcasts d weights, one at a time, for d * v
        FMAs. Blocks whose accumulators, input vectors and broadcast outnumber the
        registers are left out (3 x 4 vectors spilled with AVX2's 16); ties go to
        more filters, which read the input rows fewer times. None where no block fits."""
        def vectors(d: int) -> int:
            return self._row_pieces(d, width)[0] // self.cpu.lanes or 1

        fitting = [d for d in range(1, self.cpu.direct_conv_accumulators + 1)
                   if filters % d == 0 and (d + 1) * vectors(d) + 1 <= self.cpu.vector_registers]
        return max(fitting, key=lambda d: (d * vectors(d) / (d + vectors(d)), d), default=None)

    def _fits_filters(self, conv: ir.OpView) -> bool:
        """Whether `conv`'s weights are constants (laid out at compile time) and its
        filters (a group's) fill whole vectors, or half a vector, or a quarter
        at a column stride, which the rows pay for with a copy per phase. At
        stride 1 a quarter vector of filters was slower than rows (ResNeXt-50's
        first stage with AVX-512), half a vector faster."""
        f = conv.operands[1].type.shape[-4]
        width = direct_conv_filters.filter_lanes(f, self.cpu.lanes)
        strided = int_list(conv.attributes["strides"])[1] > 1
        return (is_static_f32(conv) and is_constant(conv.operands[1]) and width is not None
                and (2 * width >= self.cpu.lanes or strided))

    def _rewrite_along_filters(self, conv: ir.OpView, weights: np.ndarray) -> None:
        if _pixels_in_one_row(conv, self.cpu):
            conv = pixels_in_one_row(conv)
        *_, oh, ow = conv.results[0].type.shape
        block = direct_conv_filters.filter_block(weights.shape[-4], oh, ow, self.cpu)
        parallel = _flops(conv) >= self.parallel_flops
        images_inside = direct_conv_filters.images_inside_blocks(weights, conv.operands[0].type, block, self.cpu)
        record_strategy(conv, f"direct conv along filters: {block.describe(ow)} pixels in registers"
                        + (", images inside filter blocks" if images_inside else "") + ("" if parallel else ", serial"))
        direct_conv_filters.rewrite(conv, weights, block, parallel, self.cpu, images_inside)

    def _row_pieces(self, filters: int, width: int) -> tuple[int, list[int]]:
        """How an output row of `width` columns splits: a loop over blocks of the
        widest power of two of vectors whose `filters` rows of accumulators fit
        the registers, then one piece per power of two of vectors left, then the
        columns left (fewer than a vector). LLVM keeps rows of one, two or four
        vectors in registers; a block of 4 x 48 columns (three vectors) came out
        as scalar shuffles, 10x slower than 4 x 64."""
        lanes = self.cpu.lanes
        if width <= lanes:
            return width, []
        vectors = 1
        while (2 * vectors * lanes <= width and filters * 2 * vectors <= self.cpu.direct_conv_accumulators):
            vectors *= 2
        block = vectors * lanes
        pieces, left = [], width % block
        while left >= lanes:
            pieces.append(self.cpu.vector_block(left))
            left -= pieces[-1]
        return block, pieces + ([left] if left else [])


def _im2col_by_default(conv: ir.OpView, cpu: CpuTarget) -> bool:
    """Whether a plain stride-1 convolution takes few products per output (a
    small CNN's first layer, from one or two channels), its outputs per image
    fill whole vectors and its filters at least two rows of register blocks:
    im2col's packed matmul then has whole panels, each packed column used by
    enough filters, where a direct convolution's register blocks are written
    back after a few taps' products (see `_SHALLOW_PRODUCTS`)."""
    if conv.name != _CONV or not is_static_f32(conv) or int_list(conv.attributes["strides"]) != [1, 1]:
        return False
    filters, channels, kh, kw = conv.operands[1].type.shape
    *_, oh, ow = conv.results[0].type.shape
    return (MIN_IM2COL_PRODUCTS <= channels * kh * kw <= _SHALLOW_PRODUCTS and oh * ow % cpu.lanes == 0
            and filters >= 2 * cpu.register_tile[0])


def _pixels_in_one_row(conv: ir.OpView, cpu: CpuTarget) -> bool:
    """Whether a plain 1x1 stride-1 unpadded convolution along filters takes its
    pixels as one row of H x W, its register blocks spanning rows, because its
    blocks then wait less on the FMA latency (`latency_bound_fmas`): a 7x7
    image's rows of 7 pixels make blocks of 7 accumulators where one row of 49
    makes blocks of 13. Where both take as long, rows keep their blocks whole:
    at 14x14, rows of 14 pixels ran up to 1.1x faster than blocks of 16 and a
    last one of 4 (bench/conv_algorithms.py)."""
    if conv.name != _CONV:
        return False
    filters, _, kh, kw = conv.operands[1].type.shape
    *_, oh, ow = conv.results[0].type.shape
    if kh * kw != 1 or oh == 1 or int_list(conv.attributes["strides"]) != [1, 1]:
        return False
    if is_named(conv.operands[0].owner, "tensor.pad"):
        return False
    by_rows = direct_conv_filters.filter_block(filters, oh, ow, cpu)
    one_row = direct_conv_filters.filter_block(filters, 1, oh * ow, cpu)
    return (direct_conv_filters.latency_bound_fmas(one_row, 1, oh * ow, cpu)
            < direct_conv_filters.latency_bound_fmas(by_rows, oh, ow, cpu))


def _along_filters_by_default(conv: ir.OpView, cpu: CpuTarget) -> bool:
    """Whether a plain convolution that wafer-winograd left runs along its
    filters by default: one with more than 9 taps (5x5, 7x7 and 11x11
    windows, 4x4 and 16x16 patches), one with 2 to 9 taps (3x3, 1x7,
    2x2 stride 2) whose output per image fits half of L2, one too
    shallow for im2col (`MIN_IM2COL_PRODUCTS`), a 1-D one (a one-row
    image's, see wafer-one-row-images) whatever its output's size, or, with
    AVX-512's 32 registers, a 1x1 to whole vectors of filters over a small
    output image (`_SMALL_IMAGE_PIXELS`).

    bench/conv_algorithms.py times both against im2col's packed matmul, with
    AVX-512 and AVX2: these ran faster along filters, alone and in their
    models (the input read in place, where im2col copies each input value
    once per tap). The 3x3 stems of SqueezeNet, MobileNet-v2 and RegNet,
    whose 112x112 outputs outgrow L2, ran faster alone but slowed their
    models; the 7x7 and 11x11 stems of ResNet, GoogLeNet and AlexNet did not.
    A 1x1 reads its input once either way; over a large image its packed
    matmul keeps the input rows in cache and is the faster, over a small one
    along filters ran as fast or faster, alone and in ResNet-50, DenseNet-121,
    RegNet-X, GoogLeNet and EfficientNet-B0, where its filters fill whole
    vectors: blocks of one vector (RegNet-Y-800MF's 784, EfficientNet-B2's 528
    and 720) ran as fast or up to 1.3x faster, the 7x7 ones as one row of
    pixels (`_pixels_in_one_row`); in part of one (SqueezeNet's 1000 classes)
    it ran slower. bench/conv1d.py's sample-level CNN, whose 3-tap
    128->128 convolutions over rows of 2187 and 6561 outgrow L2, ran faster
    along filters in the model too, at one and two threads."""
    filters, channels, kh, kw = conv.operands[1].type.shape[-4:]
    if conv.name != _CONV:
        return False
    *_, oh, ow = conv.results[0].type.shape
    if kh * kw == 1:
        return (oh * ow <= _SMALL_IMAGE_PIXELS and filters % cpu.lanes == 0
                and cpu.vector_registers >= _SMALL_IMAGE_REGISTERS)
    output_bytes = math.prod(conv.results[0].type.shape[1:]) * F32_BYTES
    one_row = oh == 1 and kh == 1
    return (kh * kw > _WIDEST_SMALL_WINDOW or output_bytes <= cpu.l2_bytes // 2
            or channels * kh * kw < MIN_IM2COL_PRODUCTS or one_row)


def _written_once(init: ir.Value) -> bool:
    """Whether `init` is a fill or a broadcast (a bias) that only this convolution reads."""
    return is_named(init.owner, "linalg.fill", "linalg.broadcast") and len(list(init.uses)) == 1


def _row_tile(conv: ir.OpView, filters: int) -> list[int]:
    """Tile sizes of one output row of one image (and group), for `filters` of its filters."""
    if conv.name == _GROUPED:
        return [1, 1, 0, 1]
    return [1, 0 if filters == conv.results[0].type.shape[1] else filters, 1]


def _column_phases(conv: ir.OpView) -> list[tuple[ir.OpView, str]]:
    """`conv` itself if its column stride is 1; else, for column stride s, one
    convolution of column stride 1 per column phase p < s: the input's columns
    p, p + s, ... copied to a tensor of their own, the taps kw = p (mod s), each
    adding to the one before. An output row then reads unit-stride input rows,
    at the price of one copy of the image (where im2col copied it K-fold)."""
    stride = int_list(conv.attributes["strides"])
    if stride[1] == 1:
        return [(conv, "")]
    x, w, acc = conv.operands
    step, width = stride[1], conv.results[0].type.shape[-1]
    window = w.type.shape[-1]
    phases = []
    with ir.InsertionPoint(conv), conv.location:
        for p in range(min(step, window)):
            taps = len(range(p, window, step))
            columns = _strided_columns(x, p, width + taps - 1, step, copy=True)
            filters = _strided_columns(w, p, taps, step, copy=False)
            build = linalg.conv_2d_ngchw_gfchw if conv.name == _GROUPED else linalg.conv_2d_nchw_fchw
            acc = build(columns, filters, outs=[acc], strides=[stride[0], 1],
                        dilations=int_list(conv.attributes["dilations"]))
            phases.append((acc.owner, f", column phase {p} of {step}"))
    conv.results[0].replace_all_uses_with(acc)
    conv.operation.erase()
    return phases


def _strided_columns(value: ir.Value, first: int, count: int, step: int, copy: bool) -> ir.Value:
    """Columns first, first + step, ... (`count` of them) of `value`'s last dim;
    copied to a tensor of their own where `copy`, else a strided slice of it."""
    shape = list(value.type.shape)
    rank = len(shape)
    sliced = tensor.ExtractSliceOp(ir.RankedTensorType.get(shape[:-1] + [count], value.type.element_type), value,
                                   [], [], [], [0] * (rank - 1) + [first], shape[:-1] + [count],
                                   [1] * (rank - 1) + [step]).result
    if not copy:
        return sliced
    empty = tensor.EmptyOp(shape[:-1] + [count], value.type.element_type).result
    return linalg.copy(sliced, outs=[empty])


def _split_columns(rows: ir.Value, dim: int, width: int, block: int, pieces: list[int]) -> None:
    """Split the row tile's `width` columns (loop `dim`) into whole `block`s, tiled
    as a loop, and the `pieces` after them."""
    whole = width - sum(pieces)
    parts = []
    for size in [whole, *pieces][:-1]:
        split = structured.SplitOp(rows, dim, size).results[0]
        first, rows = transform.SplitHandleOp([transform.AnyOpType.get()] * 2, split).results
        parts.append(first)
    parts.append(rows)
    if whole > block:
        structured.TileUsingForOp(parts[0], sizes=[0] * dim + [block])


def _canonicalize(root: ir.Value) -> None:
    patterns = transform.ApplyPatternsOp(structured.MatchOp.match_op_names(root, ["func.func"]).result)
    with ir.InsertionPoint(patterns.patterns):
        transform.ApplyCanonicalizationPatternsOp()


def _accumulate_in_registers(row_tiles: ir.Value, parallel_dims: int) -> None:
    """Loop over input channels and filter taps around a rank-1 update of the row tile."""
    taps = structured.TileUsingForOp(row_tiles, sizes=[0] * parallel_dims + [1, 1, 1])
    for tap_loop in taps.loops:
        mark_for_hoisting(tap_loop)
    structured.GeneralizeOp(taps.tiled_linalg_op)
    innermost = taps.loops[-1]
    patterns = transform.ApplyPatternsOp(innermost)
    with ir.InsertionPoint(patterns.patterns):
        structured.ApplyFoldUnitExtentDimsViaSlicesPatternsOp()
        transform.ApplyCanonicalizationPatternsOp()
    structured.VectorizeOp(structured.MatchOp.match_op_names(innermost, ["linalg.generic"]).result)
    transform.AnnotateOp(structured.MatchOp.match_op_names(innermost, ["arith.addf"]).result, _UPDATE)


def _flops(conv: ir.OpView) -> int:
    c, kh, kw = conv.operands[1].type.shape[-3:]
    return 2 * math.prod(conv.results[0].type.shape) * c * kh * kw


def _to_outer_product(update: ir.OpView) -> None:
    """acc + read(w, broadcast along OW) * read(x, broadcast along F) -> vector.outerproduct(w, x, acc).

    The vectorizer reads the tap's F weights and the input row as F x OW
    broadcasts; as an outer product each weight is one broadcast load and one
    FMA into its channel's row, with no transpose of the broadcast weights.
    """
    product = next(v.owner for v in update.operands if isinstance(v.owner, ir.OpView) and v.owner.name == "arith.mulf")
    acc = next(v for v in update.operands if v.owner != product)  # the loop-carried accumulator
    weights_read, row_read = (product.operands[i].owner for i in (0, 1))
    if _broadcast_dim(row_read) == 1:
        weights_read, row_read = row_read, weights_read
    with ir.InsertionPoint(update), update.location:
        f, ow = update.result.type.shape
        weights = _read_vector(weights_read, f)
        row = _read_vector(row_read, ow)
        result = vector.OuterProductOp(update.result.type, weights, row, acc=acc).result
    update.result.replace_all_uses_with(result)
    for op in (update, product, weights_read, row_read):
        op.operation.erase()


def _broadcast_dim(read: ir.OpView) -> int:
    """Which result dim of a 1-D-source transfer_read is the broadcast one."""
    results = ir.AffineMapAttr(read.attributes["permutation_map"]).value.results
    return next(i for i, e in enumerate(results) if isinstance(e, ir.AffineConstantExpr))


def _read_vector(read: ir.OpView, size: int) -> ir.Value:
    """The 1-D read that `read` broadcasts: `size` values of its source, in place."""
    source, index, padding = read.operands[0], read.operands[1], read.operands[2]
    return vector.TransferReadOp(ir.VectorType.get([size], padding.type), source, [index],
                                 ir.AffineMap.get_minor_identity(1, 1), padding, [True]).result
