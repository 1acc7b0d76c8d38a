"""wafer-drop-padding-taps: a convolution's filter taps that read only zero padding are dropped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .constant_pack import ConstantReader
from .depthwise_conv import unpadded
from .linalg_builders import int_list, is_static_f32, pad_value
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops
from .resource_blobs import resource_attr

_CONV = "linalg.conv_2d_nchw_fchw"


def live_taps(size: int, pad: int, outputs: int, stride: int, dilation: int, taps: int) -> range:
    """The filter taps along one dim that read the unpadded input for at least
    one output: tap i reads rows o * stride + i * dilation - pad for o < outputs.
    They are contiguous, as both ends of that span grow with i."""
    live = [i for i in range(taps)
            if i * dilation - pad < size and (outputs - 1) * stride + i * dilation - pad >= 0]
    return range(live[0], live[-1] + 1) if live else range(0)


@dataclass(frozen=True)
class DropPaddingTaps(WaferPass):
    """Drop the filter rows and columns of each NCHW convolution whose taps read
    nothing but its zero padding.

    An atrous convolution with a dilation as large as its image (DeepLabv3's
    ASPP: rates 24 and 36 over a 14x14 map at output stride 16) reads zeros
    at every tap but the centre; computing them was two thirds of
    deeplabv3_mobilenet_v3_large's time. Each dropped tap adds exact zeros to
    every sum, so the result is the same, and a filter left with one tap is
    a 1x1 convolution (dilation 1) of the unpadded input, which the pack
    stage computes as one.
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
    rows = live_taps(height, top, oh, strides[0], dilations[0], kh)
    cols = live_taps(width, left, ow, strides[1], dilations[1], kw)
    if (len(rows), len(cols)) == (kh, kw) or not rows or not cols:
        return  # nothing to drop, or nothing left (a result of zeros; rare enough to leave)
    with ir.InsertionPoint(conv), conv.location:
        image = _window(source, (top, left), (rows, cols), (oh, ow), strides, dilations)
        filters = _taps(w, rows, cols, reader)
        kept = [dilation if len(taps) > 1 else 1 for taps, dilation in zip((rows, cols), dilations)]
        result = linalg.conv_2d_nchw_fchw(image, filters, outs=[init], strides=strides, dilations=kept)
    record_strategy(result.owner, f"conv {kh}x{kw} with dilation {dilations[0]}x{dilations[1]}: "
                                  f"{len(rows)}x{len(cols)} taps read more than padding")
    conv.results[0].replace_all_uses_with(result)
    conv.operation.erase()


def _window(source: ir.Value, pad: tuple[int, int], taps: tuple[range, range], outputs: tuple[int, int],
            strides: list[int], dilations: list[int]) -> ir.Value:
    """The part of the zero-padded `source` that the live taps read: a slice of
    the source, padded again where the live taps still reach the padding."""
    shape = list(source.type.shape)
    offsets, sizes, low, high = [0, 0, 0, 0], list(shape), [0] * 4, [0] * 4
    for d, (before, live, out, stride, dilation) in enumerate(zip(pad, taps, outputs, strides, dilations), start=2):
        first = live.start * dilation - before  # in the source's rows (or columns)
        extent = (out - 1) * stride + (len(live) - 1) * dilation + 1
        start, stop = max(first, 0), min(first + extent, shape[d])
        offsets[d], sizes[d] = start, stop - start
        low[d], high[d] = start - first, first + extent - stop
    window = source
    if sizes != shape:
        window = tensor.ExtractSliceOp(ir.RankedTensorType.get(sizes, source.type.element_type), source, [], [], [],
                                       offsets, sizes, [1] * 4).result
    if any(low) or any(high):
        window = pad_value(window, low, high, arith.ConstantOp(source.type.element_type, 0.0).result)
    return window


def _taps(w: ir.Value, rows: range, cols: range, reader: ConstantReader) -> ir.Value:
    """The filters' live taps: a new constant where they are one, else a slice."""
    f, c, _, _ = w.type.shape
    shape = [f, c, len(rows), len(cols)]
    type_ = ir.RankedTensorType.get(shape, w.type.element_type)
    array = reader.array(w)
    if array is not None:
        taps = np.ascontiguousarray(array[:, :, rows.start:rows.stop, cols.start:cols.stop])
        return arith.ConstantOp(type_, resource_attr(taps, "live_taps", type_, owned=True)).result
    return tensor.ExtractSliceOp(type_, w, [], [], [], [0, 0, rows.start, cols.start], shape, [1] * 4).result
