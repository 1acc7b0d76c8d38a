"""wafer-drop-padding-taps: a convolution's filter taps that read only zero padding are dropped."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .constant_pack import ConstantReader
from .depthwise_conv import unpadded
from .linalg_builders import extract_slice, int_list, is_static_f32
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops
from .resource_blobs import resource_attr

_CONV = "linalg.conv_2d_nchw_fchw"


def bands(size: int, pad: int, outputs: int, stride: int, dilation: int, taps: int) -> list[tuple[int, int, range]]:
    """The runs [first, last) of outputs along one dim whose taps read the
    unpadded input at the same taps, with those taps (contiguous: a tap reads
    the input for output o where o * stride + i * dilation - pad is in it)."""
    def taps_of(o: int) -> range:
        live = [i for i in range(taps) if 0 <= o * stride + i * dilation - pad < size]
        return range(live[0], live[-1] + 1) if live else range(0)

    runs = []
    for read, group in itertools.groupby(range(outputs), key=taps_of):
        run = list(group)
        runs.append((run[0], run[-1] + 1, read))
    return runs


# Regions of outputs computed apart, each with the taps all its outputs read,
# where that at least halves the products (each region pays its own gather and
# kernel set-up), and at most this many of them.
_MAX_REGIONS = 9


@dataclass(frozen=True)
class DropPaddingTaps(WaferPass):
    """Drop the filter taps of each NCHW convolution that read nothing but its zero padding.

    An atrous convolution with a dilation as large as its image (DeepLabv3's
    ASPP: rates 24 and 36 over a 14x14 map at output stride 16) reads zeros
    at every tap but the centre, and im2col computed all nine. Each dropped
    tap adds exact zeros to every sum, so the result is the same.

    The outputs split into regions (a band of rows by a band of columns,
    `bands`) whose outputs read the input at the same taps. Where computing
    each region with only its taps takes at most half the products, each
    region becomes a convolution of its own over the part of the input it
    reads, which holds no padding: at rate 24 one region, a 1x1 convolution
    of the unpadded input (dilation 1); at rate 12 over 14x14 nine, the
    centre 10x10 outputs reading the centre tap alone, the edges two or four.
    """

    name = "wafer-drop-padding-taps"
    summary = "Drop convolution filter taps that read only zero padding"

    def apply(self, module: ir.Operation) -> None:
        reader = ConstantReader(module)
        for op in find_ops(module, lambda op: op.name == _CONV and is_static_f32(op.opview)):
            _shrink(op.opview, reader)


def _shrink(conv: ir.OpView, reader: ConstantReader) -> None:
    x, w, init = conv.operands
    source, (top, left) = unpadded(x, 0.0)
    if source == x:
        return
    _, _, height, width = source.type.shape
    _, _, kh, kw = w.type.shape
    _, _, oh, ow = init.type.shape
    strides, dilations = int_list(conv.attributes["strides"]), int_list(conv.attributes["dilations"])
    row_bands = bands(height, top, oh, strides[0], dilations[0], kh)
    col_bands = bands(width, left, ow, strides[1], dilations[1], kw)
    products = sum((r1 - r0) * (c1 - c0) * len(rows) * len(cols)
                   for r0, r1, rows in row_bands for c0, c1, cols in col_bands)
    regions = len(row_bands) * len(col_bands)
    if regions > _MAX_REGIONS or 2 * products > oh * ow * kh * kw:
        return
    with ir.InsertionPoint(conv), conv.location:
        result = _by_regions(source, w, init, (row_bands, col_bands), strides, dilations, (top, left), reader)
    taps = (f"{len(row_bands[0][2])}x{len(col_bands[0][2])} taps" if regions == 1
            else f"{regions} regions of outputs, each with the taps it reads")
    record_strategy(conv, f"conv {kh}x{kw} with dilation {dilations[0]}x{dilations[1]}: {taps}, "
                          f"{products / (oh * ow * kh * kw):.0%} of the products")
    conv.results[0].replace_all_uses_with(result)
    conv.operation.erase()


def _convolve(image: ir.Value, filters: ir.Value, init: ir.Value, strides: list[int], dilations: list[int],
              taps: tuple[range, range]) -> ir.Value:
    """The convolution of `image` by `filters` into `init`; a dim left with one tap has dilation 1."""
    kept = [dilation if len(live) > 1 else 1 for live, dilation in zip(taps, dilations)]
    return linalg.conv_2d_nchw_fchw(image, filters, outs=[init], strides=strides, dilations=kept)


def _by_regions(source: ir.Value, w: ir.Value, init: ir.Value, dims: tuple[list, list], strides: list[int],
                dilations: list[int], pad: tuple[int, int], reader: ConstantReader) -> ir.Value:
    """`init` with each region of outputs (a row band by a column band) replaced
    by the convolution of its taps over the part of `source` they read, which
    holds no padding: a band's taps read the input for each of its outputs. A
    region whose outputs read only padding keeps `init`."""
    n, f = ir.RankedTensorType(init.type).shape[:2]
    c = ir.RankedTensorType(source.type).shape[1]
    result = init
    for r0, r1, rows in dims[0]:
        for c0, c1, cols in dims[1]:
            if not rows or not cols:
                continue
            first = [o * s + live.start * d - p
                     for o, s, live, d, p in zip((r0, c0), strides, (rows, cols), dilations, pad)]
            extent = [(o1 - o0 - 1) * s + (len(live) - 1) * d + 1
                      for o0, o1, s, live, d in zip((r0, c0), (r1, c1), strides, (rows, cols), dilations)]
            image = _slice(source, [0, 0, *first], [n, c, *extent])
            outputs = [0, 0, r0, c0], [n, f, r1 - r0, c1 - c0]
            region = _convolve(image, _taps(w, rows, cols, reader), _slice(init, *outputs), strides, dilations,
                               (rows, cols))
            result = tensor.InsertSliceOp(region, result, [], [], [], outputs[0], outputs[1], [1] * 4).result
    return result


def _slice(value: ir.Value, offsets: list[int], sizes: list[int]) -> ir.Value:
    """`extract_slice`, or `value` itself where the slice is all of it (a conv
    of the whole input keeps its producer as its operand)."""
    return value if sizes == list(ir.RankedTensorType(value.type).shape) else extract_slice(value, offsets, sizes)


def _taps(w: ir.Value, rows: range, cols: range, reader: ConstantReader) -> ir.Value:
    """The filters' live taps: a new constant where they are one, else a slice."""
    f, c, _, _ = w.type.shape
    shape = [f, c, len(rows), len(cols)]
    type_ = ir.RankedTensorType.get(shape, w.type.element_type)
    array = reader.array(w)
    if array is not None:
        taps = np.ascontiguousarray(array[:, :, rows.start:rows.stop, cols.start:cols.stop])
        return arith.ConstantOp(type_, resource_attr(taps, "live_taps", type_, owned=True)).result
    return _slice(w, [0, 0, rows.start, cols.start], shape)
