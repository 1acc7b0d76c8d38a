"""wafer-dilated-conv-phases: a dilated convolution as an undilated one over its input's phases."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .conv_algorithm import AUTO, ConvAlgorithmPass
from .linalg_builders import copied_through, extract_slice, int_list, is_named, is_static_f32, pad_high, \
    reassociation, remade_init
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .winograd import Winograd

_CONV = "linalg.conv_2d_nchw_fchw"


@dataclass(frozen=True)
class DilatedConvPhases(ConvAlgorithmPass):
    """Rewrite a stride-1 3x3 convolution dilated by (dy, dx) as an undilated
    one whose images are the dy*dx phases of each input image, where
    wafer-winograd computes that one.

    The outputs whose row is ry mod dy and column rx mod dx read the input
    only at rows ry mod dy and columns rx mod dx, a tap apart there: they are
    the undilated convolution, with the same filters, of the phase image
    x[:, :, ry::dy, rx::dx]. The phases are gathered as a batch of dy*dx*N
    images (a transpose; the input zero-padded at its end so that every phase
    has as many rows and columns), convolved at once, and the result is
    transposed back, cut to the output's size. A dilated convolution has no
    Winograd form, and im2col computes it with every multiply; on the phases,
    Winograd saves a quarter or more of them (its own rule, `pays_at`), which
    pays for the two transposes. Where it does not (phases too small to fill
    its tiles, a kernel other than 3x3, large rates whose taps mostly read
    padding, which wafer-drop-padding-taps skips), the convolution keeps its
    dilation: the direct and im2col strategies then ran no faster on the
    phases than on the dilated convolution (`bench/dilated_conv.py`).
    """

    name = "wafer-dilated-conv-phases"
    summary = "Compute a dilated 3x3 convolution as an undilated Winograd one over the phases of its input"

    def apply(self, module: ir.Operation) -> None:
        if self.conv_algorithm not in (AUTO, "winograd"):
            return
        winograd = Winograd(machine=self.machine)
        for op in find_ops(module, lambda op: op.name == _CONV and _is_dilated(op.opview)):
            conv = op.opview
            c, f, rows, cols = _phase_shape(conv)
            if winograd.can_compute_filters(conv) and winograd.pays_at(c, f, rows, cols):
                _rewrite(conv)


def _is_dilated(conv: ir.OpView) -> bool:
    """A static f32, stride-1 `conv` dilated along H or W, whose init a strategy
    reads as a fill or a bias (made again at the phases' shape)."""
    return (is_static_f32(conv) and int_list(conv.attributes["strides"]) == [1, 1]
            and int_list(conv.attributes["dilations"]) != [1, 1]
            and is_named(conv.operands[2].owner, "linalg.fill", "linalg.broadcast"))


def _phase_shape(conv: ir.OpView) -> tuple[int, int, int, int]:
    """The channels, filters, output rows and output columns of each phase
    (of the largest, which every phase is given)."""
    _, c, _, _ = conv.operands[0].type.shape
    _, f, oh, ow = conv.results[0].type.shape
    dy, dx = int_list(conv.attributes["dilations"])
    return c, f, math.ceil(oh / dy), math.ceil(ow / dx)


def _rewrite(conv: ir.OpView) -> None:
    x, filters, init = conv.operands
    n, c, h, w = x.type.shape
    f, _, kh, kw = filters.type.shape
    _, _, oh, ow = init.type.shape
    dy, dx = int_list(conv.attributes["dilations"])
    _, _, rows, cols = _phase_shape(conv)
    in_rows, in_cols = rows + kh - 1, cols + kw - 1
    f32 = x.type.element_type
    with ir.InsertionPoint(conv), conv.location:
        high = [0, 0, dy * in_rows - h, dx * in_cols - w]
        padded = pad_high(x, high, arith.ConstantOp(f32, 0.0).result) if any(high) else x
        spread = tensor.ExpandShapeOp(ir.RankedTensorType.get([n, c, in_rows, dy, in_cols, dx], f32), padded,
                                      reassociation([0], [1], [2, 3], [4, 5]), [],
                                      static_output_shape=[n, c, in_rows, dy, in_cols, dx]).result
        d = [ir.AffineDimExpr.get(i) for i in range(6)]  # ry, rx, n, c, row, column
        phases = copied_through(spread, [dy, dx, n, c, in_rows, in_cols], [d[2], d[3], d[4], d[0], d[5], d[1]])
        images = tensor.CollapseShapeOp(ir.RankedTensorType.get([dy * dx * n, c, in_rows, in_cols], f32), phases,
                                        reassociation([0, 1, 2], [3], [4], [5])).result
        planes = linalg.conv_2d_nchw_fchw(images, filters, outs=[remade_init(init, [dy * dx * n, f, rows, cols])],
                                          strides=[1, 1], dilations=[1, 1])
        by_phase = tensor.ExpandShapeOp(ir.RankedTensorType.get([dy, dx, n, f, rows, cols], f32), planes,
                                        reassociation([0, 1, 2], [3], [4], [5]), [],
                                        static_output_shape=[dy, dx, n, f, rows, cols]).result
        e = [ir.AffineDimExpr.get(i) for i in range(6)]  # n, f, row, ry, column, rx
        interleaved = copied_through(by_phase, [n, f, rows, dy, cols, dx], [e[3], e[5], e[0], e[1], e[2], e[4]])
        result = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, f, rows * dy, cols * dx], f32), interleaved,
                                        reassociation([0], [1], [2, 3], [4, 5])).result
        if [rows * dy, cols * dx] != [oh, ow]:
            result = extract_slice(result, [0, 0, 0, 0], [n, f, oh, ow])
    record_strategy(conv, f"dilated conv {kh}x{kw}/{dy}x{dx}: {dy * dx} phases as images")
    conv.results[0].replace_all_uses_with(result)
    conv.operation.erase()
