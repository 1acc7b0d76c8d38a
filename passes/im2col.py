"""wafer-im2col: rewrite NCHW 2-D convolutions as an im2col gather plus a matmul-like contraction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import tensor

from .conv_algorithm import MIN_IM2COL_PRODUCTS, ConvAlgorithmPass
from .im2col_rows import gathered_row, slice_after_epilogue, widened_init, widened_input
from .linalg_builders import (
    copied_through,
    extract_slice,
    index_constant,
    int_list,
    is_static_f32,
    multiply_accumulate,
    reassociation,
)
from .matmul_gathers import IM2COL_ROW
from .pack_matmul import record_strategy
from .pass_base import find_ops

_CONV = "linalg.conv_2d_nchw_fchw"  # the layout torch-mlir emits
_GROUPED = "linalg.conv_2d_ngchw_gfchw"  # torch-mlir's grouped convolution (groups < channels)
# On an im2col contraction: whether wafer-orient-contractions swaps its operands,
# where an option or a tuning record chose (see conv_algorithm).
SWAP = "wafer.swap"


def rewrite_conv(conv: ir.OpView) -> ir.Operation:
    """conv(x, w) -> collapse(w)[F, C*KH*KW] x columns[N, C*KH*KW, OH*OW].

    The gather runs over (n, c, kh, kw, oh, ow) and reads x[n, c, oh*sh +
    kh*dh, ow*sw + kw*dw]: the innermost index moves by the stride, so the
    copy vectorizes (no divisions, unlike a gather over the collapsed dims),
    and its result collapses to the column matrix for free. The gather
    carries its row length OW as `wafer.im2col_row`: wafer-pack-matmul
    copies it in row-aligned pieces inside the matmul's cache tiles. An odd
    OW is widened first (see `widened_row`): the contraction computes rows
    of whole groups of pixels, and its result is sliced back. A 1x1,
    stride-1 window's columns are x itself, reshaped: no gather, whose copy
    (1.5 MB for a 128-channel 55x55 map) would only be read once more.
    Returns the contraction.
    """
    x, w, init = conv.operands
    n, c, _, _ = x.type.shape
    f, _, kh, kw = w.type.shape
    _, _, oh, ow = init.type.shape
    strides = int_list(conv.attributes["strides"])
    f32 = x.type.element_type
    k = c * kh * kw
    with ir.InsertionPoint(conv), conv.location:
        pointwise = (kh, kw, *strides) == (1, 1, 1, 1) and oh * ow > 1
        row = gathered_row(conv)
        gathered = None if pointwise else _gather(conv, row)
        filters = tensor.CollapseShapeOp(ir.RankedTensorType.get([f, k], f32), w, reassociation([0], [1, 2, 3])).result
        if oh * ow == 1:
            result, product = _images_as_rows(gathered, filters, init, n, k)
        else:
            columns_type = ir.RankedTensorType.get([n, k, oh * row], f32)
            if pointwise:
                columns = tensor.CollapseShapeOp(columns_type, x, reassociation([0], [1], [2, 3]))
            else:
                gathered.owner.attributes[IM2COL_ROW] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), row)
                columns = tensor.CollapseShapeOp(columns_type, gathered, reassociation([0], [1, 2, 3], [4, 5]))
            wide_init = init if row == ow else widened_init(init, row)
            out = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, f, oh * row], f32), wide_init,
                                         reassociation([0], [1], [2, 3]))
            product = _filters_times_columns(filters, columns.result, out.result)
            result = tensor.ExpandShapeOp(wide_init.type, product.results[0], reassociation([0], [1], [2, 3]), [],
                                          static_output_shape=[n, f, oh, row]).result
            if row != ow:
                result = extract_slice(result, [index_constant(0)] * 4, [n, f, oh, ow])
    conv.results[0].replace_all_uses_with(result)
    if row != ow:
        slice_after_epilogue(result)
    conv.operation.erase()
    return product.operation


def _filters_times_columns(filters: ir.Value, columns: ir.Value, out: ir.Value) -> ir.OpView:
    """out[n, f, pixel] += filters[f, k] * columns[n, k, pixel]: the contraction of an im2col convolution."""
    e = [ir.AffineDimExpr.get(i) for i in range(4)]  # n, f, pixel, k
    return multiply_accumulate(
        [filters, columns], out,
        [ir.AffineMap.get(4, 0, r) for r in ([e[1], e[3]], [e[0], e[3], e[2]], [e[0], e[1], e[2]])],
        ["parallel", "parallel", "parallel", "reduction"])


def _gather(conv: ir.OpView, row: int | None = None) -> ir.Value:
    """The [N, (G,) C, KH, KW, OH, row] windows of `conv`'s input (see
    `rewrite_conv`), built before it; `row` (OW by default) may exceed OW, the
    input then padded on the right with zeros for the extra windows."""
    x, w, init = conv.operands
    leading = x.type.shape[:-2]  # n, c or, grouped, n, g, c
    kh, kw = w.type.shape[-2:]
    oh = init.type.shape[-2]
    ow = row or init.type.shape[-1]
    sh, sw = int_list(conv.attributes["strides"])
    dh, dw = int_list(conv.attributes["dilations"])
    width = (ow - 1) * sw + (kw - 1) * dw + 1
    if width > x.type.shape[-1]:
        x = widened_input(x, width)
    d = [ir.AffineDimExpr.get(i) for i in range(len(leading) + 4)]  # leading..., kh, kw, oh, ow
    i_kh, i_kw, i_oh, i_ow = d[-4:]
    return copied_through(x, [*leading, kh, kw, oh, ow],
                          [*d[:len(leading)], i_oh * sh + i_kh * dh, i_ow * sw + i_kw * dw])


def rewrite_grouped_conv(conv: ir.OpView) -> ir.Operation:
    """grouped conv(x, w) -> collapse(w)[G, F/G, K] x columns[N, G, K, OH*OW], K = C/G*KH*KW.

    A batch of G contractions, one per group, which wafer-pack-matmul packs as
    it packs Winograd's batch of products: the gather is `rewrite_conv`'s with
    the group dim carried along (a 1x1, stride-1 window reads x itself).
    Returns the contraction.
    """
    x, w, init = conv.operands
    n, g, c, _, _ = x.type.shape
    _, f, _, kh, kw = w.type.shape
    _, _, _, oh, ow = init.type.shape
    strides = int_list(conv.attributes["strides"])
    f32 = x.type.element_type
    k = c * kh * kw
    with ir.InsertionPoint(conv), conv.location:
        columns_type = ir.RankedTensorType.get([n, g, k, oh * ow], f32)
        if (kh, kw, *strides) == (1, 1, 1, 1):
            columns = tensor.CollapseShapeOp(columns_type, x, reassociation([0], [1], [2], [3, 4]))
        else:
            gathered = _gather(conv)
            gathered.owner.attributes[IM2COL_ROW] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), ow)
            columns = tensor.CollapseShapeOp(columns_type, gathered, reassociation([0], [1], [2, 3, 4], [5, 6]))
        filters = tensor.CollapseShapeOp(ir.RankedTensorType.get([g, f, k], f32), w,
                                         reassociation([0], [1], [2, 3, 4])).result
        out = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, g, f, oh * ow], f32), init,
                                     reassociation([0], [1], [2], [3, 4]))
        image, group, channel, pixel, depth = (ir.AffineDimExpr.get(i) for i in range(5))
        product = multiply_accumulate(
            [filters, columns.result], out.result,
            [ir.AffineMap.get(5, 0, r) for r in ([group, channel, depth], [image, group, depth, pixel],
                                                 [image, group, channel, pixel])],
            ["parallel", "parallel", "parallel", "parallel", "reduction"])
        result = tensor.ExpandShapeOp(init.type, product.results[0], reassociation([0], [1], [2], [3, 4]), [],
                                      static_output_shape=[n, g, f, oh, ow]).result
    conv.results[0].replace_all_uses_with(result)
    conv.operation.erase()
    return product.operation


def _images_as_rows(gathered: ir.Value, filters: ir.Value, init: ir.Value, n: int,
                    k: int) -> tuple[ir.Value, ir.OpView]:
    """A conv with one output pixel (squeeze-excite's, a classifier's on a 1x1 map)
    as columns[N, K] x filters[F, K]^T: the images are the matmul's rows and the
    filters its vectorized columns. The filter-by-pixel form would be N
    matrix-vector products, one pixel padded to a whole vector of columns.
    The result, and the contraction."""
    f32 = init.type.element_type
    f = filters.type.shape[0]
    columns = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, k], f32), gathered,
                                     reassociation([0], [1, 2, 3, 4, 5]))
    out = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, f], f32), init, reassociation([0], [1, 2, 3]))
    image, channel, depth = (ir.AffineDimExpr.get(i) for i in range(3))
    product = multiply_accumulate(
        [columns.result, filters], out.result,
        [ir.AffineMap.get(3, 0, r) for r in ([image, depth], [channel, depth], [image, channel])],
        ["parallel", "parallel", "reduction"])
    return tensor.ExpandShapeOp(init.type, product.results[0], reassociation([0], [1, 2, 3]), [],
                                static_output_shape=[n, f, 1, 1]).result, product


@dataclass(frozen=True)
class Im2col(ConvAlgorithmPass):
    """Turn each static f32 NCHW 2-D convolution into im2col + a contraction.

    The gather copies each output pixel's receptive field into a column
    (K = C*KH*KW), so the convolution becomes filter[F, K] x columns[K, OH*OW]
    per image: a matmul that wafer-pack-matmul packs into its FMA kernel,
    with the filter packed once at compile time. That trades a K-fold copy of
    the input for the matmul kernel's ~10x speed over direct scalar loops.

    Where the `conv-algorithm` option or a tuning record picks im2col or
    im2col-swapped for a convolution, its contraction carries the choice
    (`wafer.swap`) for wafer-orient-contractions to follow instead of its rule.

    Options (and conv-algorithm, tuning, threads: see conv_algorithm):
      min-k: convolutions with a smaller C*KH*KW stay direct (the copy does
        not pay when each column is a handful of values).
    """

    name = "wafer-im2col"
    summary = "Rewrite NCHW 2-D convolutions as im2col plus a matmul-like contraction"

    min_k: int = MIN_IM2COL_PRODUCTS

    def apply(self, module: ir.Operation) -> None:
        database = self.database(module)
        for conv in [op.opview for op in find_ops(module, lambda op: op.name == _CONV and self.can_compute(op.opview))]:
            chosen = self.chosen_algorithm(conv, database)
            ow = conv.operands[2].type.shape[-1]
            widened = f", rows of {ow} widened to {row}" if (row := gathered_row(conv)) != ow else ""
            record_strategy(conv, f"im2col {conv.name.removeprefix('linalg.')} K={self._reduction_size(conv)}{widened}")
            contraction = rewrite_conv(conv)
            if chosen in ("im2col", "im2col-swapped"):
                contraction.attributes[SWAP] = ir.BoolAttr.get(chosen == "im2col-swapped")
        for conv in [op.opview for op in find_ops(module, lambda op: op.name == _GROUPED and is_static_f32(op.opview))]:
            groups, filters = conv.operands[1].type.shape[:2]
            record_strategy(conv, f"im2col {conv.name.removeprefix('linalg.')}: {groups} groups of "
                                  f"{filters} filters, K={self._reduction_size(conv)}")
            rewrite_grouped_conv(conv)

    def can_compute(self, conv: ir.OpView) -> bool:
        return is_static_f32(conv) and self._reduction_size(conv) >= self.min_k

    @staticmethod
    def _reduction_size(conv: ir.OpView) -> int:
        """C*KH*KW (C per group where grouped): the filter's elements per output channel."""
        return math.prod(conv.operands[1].type.shape[-3:])
