"""wafer-conv3d-as-conv2d: 3-D convolutions as 2-D ones over depth slices, their depth taps as channels."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .linalg_builders import copied_through, int_list, is_static_f32, reassociation, remade_init
from .pass_base import WaferPass, find_ops

_CONV_3D = "linalg.conv_3d_ncdhw_fcdhw"


@dataclass(frozen=True)
class Conv3dAsConv2d(WaferPass):
    """Rewrite each static f32 `linalg.conv_3d_ncdhw_fcdhw` as a 2-D convolution
    whose images are the (image, output depth) pairs and whose channels are
    the (channel, depth tap) pairs:

        y[n, f, od, :, :] = sum over c, kd of w[f, c, kd] (*) x[n, c, od*sd + kd*dd]

    The input is gathered once as [N, OD, C, KD, H, W] (KD copies of it, each
    plane a contiguous copy), the filters reshape to [F, C*KD, KH, KW] for free,
    and the [N*OD, F, OH, OW] result is transposed back to NCDHW. The 2-D
    convolution then gets every 2-D strategy (direct, Winograd, im2col with
    its columns gathered into the packed panels), where the 3-D one had an
    im2col of KD*KH*KW copies of its input written whole before the matmul.
    `bench/conv3d.py` times video models' convolutions against ONNX Runtime.
    """

    name = "wafer-conv3d-as-conv2d"
    summary = "Run 3-D convolutions as 2-D ones over depth slices"

    def apply(self, module: ir.Operation) -> None:
        for conv in find_ops(module, lambda op: op.name == _CONV_3D and is_static_f32(op.opview)):
            _rewrite(conv.opview)


def _rewrite(conv: ir.OpView) -> None:
    x, w, init = conv.operands
    n, c, *_, h, width = x.type.shape
    f, _, kd, kh, kw = w.type.shape
    _, _, od, oh, ow = init.type.shape
    (sd, *strides), (dd, *dilations) = int_list(conv.attributes["strides"]), int_list(conv.attributes["dilations"])
    f32 = x.type.element_type
    with ir.InsertionPoint(conv), conv.location:
        d = [ir.AffineDimExpr.get(i) for i in range(6)]  # n, od, c, kd, h, w
        slices = copied_through(x, [n, od, c, kd, h, width], [d[0], d[2], d[1] * sd + d[3] * dd, d[4], d[5]])
        images = tensor.CollapseShapeOp(ir.RankedTensorType.get([n * od, c * kd, h, width], f32), slices,
                                        reassociation([0, 1], [2, 3], [4], [5])).result
        filters = tensor.CollapseShapeOp(ir.RankedTensorType.get([f, c * kd, kh, kw], f32), w,
                                         reassociation([0], [1, 2], [3], [4])).result
        planes = linalg.conv_2d_nchw_fchw(images, filters, outs=[_planes_init(init)], strides=strides,
                                          dilations=dilations)
        by_depth = tensor.ExpandShapeOp(ir.RankedTensorType.get([n, od, f, oh, ow], f32), planes,
                                        reassociation([0, 1], [2], [3], [4]), [],
                                        static_output_shape=[n, od, f, oh, ow]).result
        e = [ir.AffineDimExpr.get(i) for i in range(5)]  # n, f, od, oh, ow
        result = copied_through(by_depth, init.type.shape, [e[0], e[2], e[1], e[3], e[4]])
    conv.results[0].replace_all_uses_with(result)
    conv.operation.erase()


def _planes_init(init: ir.Value) -> ir.Value:
    """The 2-D convolution's [N*OD, F, OH, OW] init: a fill or a per-filter bias
    made again in that shape (the strategies start from the bias), else `init` transposed."""
    n, f, od, oh, ow = init.type.shape
    shape = [n * od, f, oh, ow]
    remade = remade_init(init, shape, lambda dims: [0, 2, 3] if sorted(dims) == [0, 2, 3, 4] else None)
    if remade is not None:
        return remade
    e = [ir.AffineDimExpr.get(i) for i in range(5)]  # n, od, f, oh, ow
    by_depth = copied_through(init, [n, od, f, oh, ow], [e[0], e[2], e[1], e[3], e[4]])
    return tensor.CollapseShapeOp(ir.RankedTensorType.get(shape, init.type.element_type), by_depth,
                                  reassociation([0, 1], [2], [3], [4])).result
