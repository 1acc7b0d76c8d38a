"""wafer-pack-matmul's im2col columns: gathered into each cache tile's packed panels,
or copied window by window where they stay whole."""

from __future__ import annotations

import math

from torch_mlir import ir
from torch_mlir.dialects import affine, arith, scf, transform
from torch_mlir.dialects import vector as vector_ops
from torch_mlir.dialects.transform import structured

from .linalg_builders import extract_slice, index_constant, parallel_insert
from .linalg_queries import dim_coefficients, indexing_maps
from .matmul_contraction import Contraction
from .pass_base import find_ops
from .transform_script import match_tagged, tag, transform_script

IM2COL_ROW = "wafer.im2col_row"  # on an im2col gather (wafer-im2col): its output row length OW


def im2col_gather(contraction: Contraction) -> ir.OpView | None:
    """The wafer-im2col gather whose columns are B, if any."""
    return gathered_by(contraction.op.operands[1])


def gathered_by(columns: ir.Value) -> ir.OpView | None:
    """The wafer-im2col gather that `columns` is the collapsed columns of, if any."""
    source = columns.owner
    if isinstance(source, ir.OpView) and source.name == "tensor.collapse_shape":
        gather = source.operands[0].owner
        if isinstance(gather, ir.OpView) and IM2COL_ROW in gather.attributes:
            return gather
    return None


def image_row(contraction: Contraction) -> int:
    """The row length of B's columns where they are an image's pixels: an im2col
    gather's OW, or the width of an image B is a reshape of ([N, C, H, W] as
    [N, C, H*W]: a 1x1, stride-1 convolution's columns, see wafer-im2col); 0
    otherwise. Cache tiles of whole rows let the convolution's epilogue fuse."""
    gather = im2col_gather(contraction)
    if gather is not None:
        return ir.IntegerAttr(gather.attributes[IM2COL_ROW]).value
    reshape = contraction.op.operands[1].owner
    if not (isinstance(reshape, ir.OpView) and reshape.name == "tensor.collapse_shape"):
        return 0
    image, columns = reshape.operands[0].type.shape, reshape.result.type.shape
    pixels_last = len(image) == 4 and len(columns) == 3 and image[:2] == columns[:2]
    return image[3] if pixels_last and image[2] * image[3] == columns[2] else 0


# Gathers, and copies into a whole image's panels, of at least this many elements
# (1 MB) spread their windows (or channels) over the threads.
_PARALLEL_GATHER = 1 << 18


def lower_gathers(module: ir.Operation) -> None:
    """Copy each im2col gather left whole one (n, c, kh, kw) window at a time.

    The windows are the iterations of an `scf.forall` (threads) for big
    gathers, else of serial loops; see `copy_windows` for each window.
    """
    gathers = [op.opview for op in find_ops(
        module, lambda op: IM2COL_ROW in op.attributes and op.parent.name == "func.func" and _used(op))]
    if not gathers:
        return
    with transform_script(module) as root:
        for i, gather in enumerate(gathers):
            tag(gather.operation, f"gather{i}")
            handle, windows = match_tagged(root, f"gather{i}"), window_tiles(gather)
            if math.prod(gather.results[0].type.shape) >= _PARALLEL_GATHER:
                any_op = transform.AnyOpType.get()
                window = structured.TileUsingForallOp(any_op, any_op, handle, tile_sizes=windows).tiled_op
            else:
                window = structured.TileUsingForOp(handle, sizes=windows).tiled_linalg_op
            copy_windows(window, gather)

    def unmark(op: ir.Operation) -> ir.WalkResult:
        if IM2COL_ROW in op.attributes:
            del op.attributes[IM2COL_ROW]
        return ir.WalkResult.ADVANCE

    module.walk(unmark)


def panel_chunk(gather: ir.OpView, nr: int) -> int | None:
    """The run of pixels (a divisor of both the row and the panel width, at
    least 8 lanes or the whole panel row) that `gather_into_panels` copies as
    one vector, if any. A whole panel row is an oriented convolution's block
    of 7 pixels (A's rows): one short copy where the pack would otherwise
    read back a gathered im2col buffer of the whole image."""
    chunk = math.gcd(ir.IntegerAttr(gather.attributes[IM2COL_ROW]).value, nr)
    return chunk if column_stride(gather) is not None and (chunk % 8 == 0 or chunk == nr) else None


# Strided runs read stride x chunk contiguous elements for every chunk they keep.
_MAX_RUN_STRIDE = 4


def column_stride(gather: ir.OpView) -> int | None:
    """How far apart in the input row a gather's neighbouring pixels are (the
    convolution's column stride), where only the input's last index moves with
    the output column and by at most `_MAX_RUN_STRIDE`; None otherwise."""
    read = indexing_maps(gather)[0]
    column = read.n_dims - 1
    factors = [dim_coefficients(expr).get(column, 0) for expr in read.results]
    stride = factors[-1]
    return stride if 1 <= stride <= _MAX_RUN_STRIDE and not any(factors[:-1]) else None


def gather_into_panels(module: ir.Operation) -> None:
    """Copy im2col columns straight into their packed panels: each cache
    tile's B panels, or an oriented convolution's A panels (pixels as rows).

    A tile's gather wrote [K][pixels] (half a megabyte for 224 pixels of a
    K=576 conv) and the pack then read it all back to write [panels][K][nr].
    For a fixed window (c, kh, kw) a run of `chunk` pixels is contiguous in a
    panel row and evenly spaced in the input row (by the column stride), so
    each run is one vector copy from the input to the panel, in a K loop and a
    loop over image rows; one row's runs are unrolled. A strided run is read
    whole and its every stride-th element kept (`_strided_run`): copied
    element by element, a stride-2 stem's columns took more of its time than
    its FMAs. (Unrolled over all of a whole-image pack's pixels, the
    runs were 784 writes in one loop body, and One-Shot Bufferize's analysis
    of that chain took 92 s of a 1x1 conv's compile.)
    """
    for pack in find_ops(module, lambda op: op.name == "linalg.pack" and _gathered_columns(op.opview) is not None):
        pack = pack.opview
        gather = _gathered_columns(pack)
        images, channels, kh, kw = gather.results[0].type.shape[:4]
        panels = pack.operands[1]
        with ir.InsertionPoint(pack), pack.location:
            if pack.operation.parent.name == "func.func" and math.prod(panels.type.shape) >= _PARALLEL_GATHER:
                result = _channels_in_parallel(gather, panels, images, channels, kh * kw)
            else:
                zero, one = index_constant(0), index_constant(1)
                over_n = scf.ForOp(zero, index_constant(images), one, [panels])
                with ir.InsertionPoint(over_n.body):
                    n = over_n.induction_variable
                    over_c = scf.ForOp(zero, index_constant(channels), one, over_n.inner_iter_args)
                    with ir.InsertionPoint(over_c.body):
                        c = over_c.induction_variable
                        scf.YieldOp([_copy_channel(gather, n, c, over_c.inner_iter_args[0], n, arith.muli(
                            c, index_constant(kh * kw)))])
                    scf.YieldOp(over_c.results)
                result = over_n.results[0]
        collapse = pack.operands[0].owner
        pack.results[0].replace_all_uses_with(result)
        pack.erase()
        collapse.erase()
        gather.erase()


def _channels_in_parallel(gather: ir.OpView, panels: ir.Value, images: int, channels: int, taps: int) -> ir.Value:
    """The panels of whole images, an image's channel's K rows per `scf.forall`
    iteration: outside any cache tile, a serial copy would leave the other
    threads idle (an oriented 14x14, 256-channel conv's A panels are 1.8 MB
    an image)."""
    over_c = scf.ForallOp([0, 0], [images, channels], [1, 1], [panels])
    with ir.InsertionPoint(over_c.body):
        n, c = over_c.induction_variables
        _, blocks, _, width = panels.type.shape
        offsets, sizes = [n, index_constant(0), arith.muli(c, index_constant(taps)),
                          index_constant(0)], [1, blocks, taps, width]
        shared = over_c.inner_iter_args[0]
        zero = index_constant(0)
        slab = _copy_channel(gather, n, c, extract_slice(shared, offsets, sizes), zero, zero)
        with ir.InsertionPoint(over_c.terminator().block):
            parallel_insert(slab, shared, offsets, sizes)
    return over_c.results[0]


def _copy_channel(gather: ir.OpView, n: ir.Value, c: ir.Value, panels: ir.Value, panel_n: ir.Value,
                  k_base: ir.Value) -> ir.Value:
    """`panels` with image `n`'s channel `c`'s windows (kh, kw) copied into its
    panels `panel_n`, run by run, as K rows `k_base` on: loops over the
    window's taps and the image's rows."""
    _, _, kh, kw, rows, row = gather.results[0].type.shape
    nr = ir.RankedTensorType(panels.type).shape[-1]
    chunk, stride = panel_chunk(gather, nr), column_stride(gather)
    window = gather.operands[0]
    read = indexing_maps(gather)[0]
    zero, one = index_constant(0), index_constant(1)
    pad = arith.ConstantOp(window.type.element_type, 0.0).result
    over_h = scf.ForOp(zero, index_constant(kh), one, [panels])
    with ir.InsertionPoint(over_h.body):
        over_w = scf.ForOp(zero, index_constant(kw), one, over_h.inner_iter_args)
        with ir.InsertionPoint(over_w.body):
            over_r = scf.ForOp(zero, index_constant(rows), one, over_w.inner_iter_args)
            with ir.InsertionPoint(over_r.body):
                h, w, r = (loop.induction_variable for loop in (over_h, over_w, over_r))
                k = arith.addi(k_base, arith.addi(arith.muli(h, index_constant(kw)), w))
                panels = over_r.inner_iter_args[0]
                for start in range(0, row, chunk):
                    at = [n, c, h, w, r, index_constant(start)]
                    source = [affine.AffineApplyOp(ir.AffineMap.get(6, 0, [e]), at).result for e in read.results]
                    run = _strided_run(window, source, chunk, stride, pad)
                    pixel = ir.AffineDimExpr.get(0) * row + start  # of the tile, row r's run
                    panel_at = [panel_n, _apply(ir.AffineExpr.get_floor_div(pixel, nr), r), k, _apply(pixel % nr, r)]
                    panels = vector_ops.TransferWriteOp(panels.type, run, panels, panel_at,
                                                        ir.AffineMap.get_minor_identity(4, 1), [True]).result
                scf.YieldOp([panels])
            scf.YieldOp(over_r.results)
        scf.YieldOp(over_w.results)
    return over_h.results[0]


def _strided_run(image: ir.Value, at: list[ir.Value], chunk: int, stride: int, pad: ir.Value) -> ir.Value:
    """`chunk` elements of `image`'s last dim from `at` on, `stride` apart.

    A stride above 1 reads the `chunk * stride` elements that span them, then
    shuffles out every stride-th one (x86 lowers it to a permute of two
    registers per vector). The read may run up to `stride - 1` elements past
    the row, so it is not in bounds: those lanes are masked off, and dropped.
    """
    f32 = ir.RankedTensorType(image.type).element_type
    rank = ir.RankedTensorType(image.type).rank
    minor = ir.AffineMap.get_minor_identity(rank, 1)
    if stride == 1:
        return vector_ops.TransferReadOp(ir.VectorType.get([chunk], f32), image, at, minor, pad, [True]).result
    span = vector_ops.TransferReadOp(ir.VectorType.get([chunk * stride], f32), image, at, minor, pad, [False]).result
    return vector_ops.ShuffleOp(span, span, [i * stride for i in range(chunk)]).result


def _apply(expr: ir.AffineExpr, *dims: ir.Value) -> ir.Value:
    """The index `expr` of `dims` (d0, d1, ...)."""
    return affine.AffineApplyOp(ir.AffineMap.get(len(dims), 0, [expr]), list(dims)).result


def _gathered_columns(pack: ir.OpView) -> ir.OpView | None:
    """The im2col gather whose collapsed columns `pack` packs into [images][panels][K][nr]
    panels (a cache tile's, or whole images'), when its windows are copied by
    `gather_into_panels`."""
    if len(pack.operands) != 2 or list(pack.outer_dims_perm or []) != [0, 2, 1]:
        return None
    gather = gathered_by(pack.operands[0])
    if gather is None:
        return None
    if list(pack.inner_dims_pos) != [2] or panel_chunk(gather, list(pack.static_inner_tiles)[0]) is None:
        return None
    return gather


def _used(op: ir.Operation) -> bool:
    """Whether any result reaches a use other than dead reshapes (a gather fused into its tiles)."""
    return any(not use.owner.name.startswith("tensor.") or _used(use.owner) for r in op.results for use in r.uses)


def unit_stride(gather: ir.OpView) -> bool:
    """Whether a gather reads its windows at unit strides (every loop's factor 1 in its input map)."""
    return all(c == 1 for expr in indexing_maps(gather)[0].results for c in dim_coefficients(expr).values())


def window_tiles(gather: ir.OpView) -> list[int]:
    """Tile sizes of one window of `gather`: 1 for each of its loops but the
    output's rows and columns (n, c, kh, kw; a grouped gather's n, g, c, kh, kw)."""
    return [1] * (len(gather.results[0].type.shape) - 2) + [0, 0]


def copy_windows(window: ir.Value, gather: ir.OpView) -> None:
    """Copy a gather tile of one (n, c, kh, kw) window a row at a time.

    With (n, c, kh, kw) fixed a gather reads the window x[n, c, kh*dh +
    oh*sh, kw*dw + ow*sw]; at unit strides, once the unit dims fold away,
    each row is one vector load and store. Strided rows stay scalar copies.
    """
    loops = len(gather.results[0].type.shape)
    rows = structured.TileUsingForOp(window, sizes=[0] * (loops - 2) + [1, 0]).loops[0]
    if not unit_stride(gather):
        return
    fold = transform.ApplyPatternsOp(rows)
    with ir.InsertionPoint(fold.patterns):
        structured.ApplyFoldUnitExtentDimsViaSlicesPatternsOp()
    copy = structured.MatchOp.match_op_names(rows, ["linalg.generic"]).result
    structured.VectorizeOp(copy)
