"""wafer-transposed-conv-phases: a transposed convolution as one small convolution per output phase."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .linalg_builders import extract_slice, int_list, is_static_f32, is_zero_fill, pad_value, remade_init
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops

_CONV = "linalg.conv_2d_nchw_fchw"


@dataclass(frozen=True)
class TransposedConvPhases(WaferPass):
    """Rewrite a transposed convolution as one convolution per output phase.

    torch-mlir imports a transposed convolution of stride s as a stride-1
    convolution over the input spread into zeros (`tensor.insert_slice` with
    strides s into a zero fill): s*s times the products, all but one in s*s
    of them with a zero. The outputs whose row is ry mod sy and column rx mod
    sx read the spread input only at the taps ky = ky0 (mod sy), kx = kx0
    (mod sx), and there only real inputs, a tap apart: they are a stride-1
    convolution of the input itself (padded with the zeros the window
    reaches past it) with the filter's taps of that phase, written into the
    result at stride s. A U-Net's 2x2 stride-2 up-convolution becomes four
    1x1 convolutions, a DCGAN's 4x4 stride 2 four 2x2 ones.
    """

    name = "wafer-transposed-conv-phases"
    summary = "Compute a stride-s transposed convolution as s*s phase convolutions of its input"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == _CONV and _spread_input(op.opview) is not None):
            _rewrite(op.opview)


def _spread_input(conv: ir.OpView) -> ir.OpView | None:
    """The `tensor.insert_slice` spreading the input of a stride-1, undilated
    static f32 `conv` into zeros at strides along H and W, else None."""
    if not is_static_f32(conv) or int_list(conv.attributes["strides"]) != [1, 1] \
            or int_list(conv.attributes["dilations"]) != [1, 1]:
        return None
    spread = conv.operands[0].owner
    if not (isinstance(spread, ir.OpView) and spread.name == "tensor.insert_slice") or spread.offsets \
            or spread.sizes or spread.strides or not is_zero_fill(spread.operands[1]):
        return None
    strides, offsets = list(spread.static_strides), list(spread.static_offsets)
    if strides[:2] != [1, 1] or offsets[:2] != [0, 0] or strides[2:] == [1, 1] \
            or list(spread.static_sizes) != list(spread.operands[0].type.shape):  # not rank-reduced
        return None
    return spread


def _rewrite(conv: ir.OpView) -> None:
    spread = _spread_input(conv)
    x, filters, init = spread.operands[0], conv.operands[1], conv.operands[2]
    n, c, h, w = x.type.shape
    f, _, kh, kw = filters.type.shape
    _, _, oh, ow = init.type.shape
    (sy, sx), (py, px) = list(spread.static_strides)[2:], list(spread.static_offsets)[2:]
    phases = []  # (ry, rx, filter taps along H and W, first input row and column, output rows and columns)
    for ry in range(sy):
        for rx in range(sx):
            rows, cols = _taps(ry, py, sy, kh), _taps(rx, px, sx, kw)
            first = [(ry + rows.start - py) // sy, (rx + cols.start - px) // sx]
            a, b = math.ceil((oh - ry) / sy), math.ceil((ow - rx) / sx)
            if rows and cols and a and b and _overlaps(first, [a + len(rows) - 1, b + len(cols) - 1], [h, w]):
                phases.append((ry, rx, rows, cols, first, a, b))
    # A phase no tap reads an input with keeps its init; where every phase reads, none is needed.
    with ir.InsertionPoint(conv), conv.location:
        result = tensor.EmptyOp([n, f, oh, ow], init.type.element_type).result if len(phases) == sy * sx else init
        for ry, rx, rows, cols, first, a, b in phases:
            image = _window(x, first, [a + len(rows) - 1, b + len(cols) - 1])
            taps_filter = filters if (len(rows), len(cols)) == (kh, kw) else tensor.ExtractSliceOp(
                ir.RankedTensorType.get([f, c, len(rows), len(cols)], filters.type.element_type), filters, [], [], [],
                [0, 0, rows.start, cols.start], [f, c, len(rows), len(cols)], [1, 1, sy, sx]).result
            phase_init = _phase_init(init, [n, f, a, b], ry, rx, sy, sx)
            phase = linalg.conv_2d_nchw_fchw(image, taps_filter, outs=[phase_init], strides=[1, 1], dilations=[1, 1])
            result = tensor.InsertSliceOp(phase, result, [], [], [], [0, 0, ry, rx], [n, f, a, b],
                                          [1, 1, sy, sx]).result
    record_strategy(conv, f"transposed conv {kh}x{kw}/{sy}x{sx}: {len(phases)} phase convs")
    conv.results[0].replace_all_uses_with(result)
    conv.operation.erase()


def _overlaps(first: list[int], extent: list[int], size: list[int]) -> bool:
    """Whether rows and columns first..first+extent meet the input's."""
    return all(v < s and v + e > 0 for v, e, s in zip(first, extent, size))


def _taps(phase: int, offset: int, stride: int, size: int) -> range:
    """The filter taps along one dim that read spread inputs for outputs of `phase`."""
    return range((offset - phase) % stride, size, stride)


def _window(x: ir.Value, first: list[int], extent: list[int]) -> ir.Value:
    """Rows and columns first..first+extent of `x` (NCHW), zeros past its edges."""
    shape = x.type.shape
    start = [max(0, v) for v in first]
    stop = [min(size, v + e) for v, e, size in zip(first, extent, shape[2:])]
    piece = x if start == [0, 0] and stop == list(shape[2:]) else extract_slice(
        x, [0, 0, *start], [*shape[:2], *(b - a for a, b in zip(start, stop))])
    low = [max(0, -v) for v in first]
    high = [e - l - (b - a) for e, l, a, b in zip(extent, low, start, stop)]
    if low == [0, 0] and high == [0, 0]:
        return piece
    return pad_value(piece, [0, 0, *low], [0, 0, *high], arith.ConstantOp(x.type.element_type, 0.0).result)


def _phase_init(init: ir.Value, shape: list[int], ry: int, rx: int, sy: int, sx: int) -> ir.Value:
    """The init of the outputs of one phase: a fill or bias broadcast made
    again at that shape (the strategies fold a bias they can see), else
    its strided slice."""
    remade = remade_init(init, shape)
    if remade is not None:
        return remade
    return tensor.ExtractSliceOp(ir.RankedTensorType.get(shape, init.type.element_type), init, [], [], [],
                                 [0, 0, ry, rx], shape, [1, 1, sy, sx]).result
