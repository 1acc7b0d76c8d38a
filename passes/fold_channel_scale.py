"""wafer-fold-channel-scale: a 1x1 convolution of an image scaled per channel (squeeze-excite) scales its filters instead."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .linalg_builders import (affine_maps, int_list, is_constant, is_static_f32, iterator_types_attr, multiply_accumulate,
                              reassociation)
from .linalg_queries import PARALLEL, indexing_maps, is_projected_map, iterator_types, map_dims
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops

# Fold where a call's scaled filters (F x C per image) are at most this fraction
# of its image (C x H x W). bench/channel_scale.py times the zoo's gated
# convolutions both ways: folding won on each up to F/HW = 0.05 and lost on each
# from F/HW = 0.18 up, at batch 1 and 16.
FOLD_MAX_FILTERS_PER_PIXEL = 1 / 8


def scaled_image(conv: ir.OpView) -> tuple[ir.Value, ir.Value] | None:
    """(x, s) where `conv` is a static f32 NCHW 1x1 stride-1 convolution with
    constant filters whose input is x[n, c, h, w] * s[n, c] (s an [N, C, 1, 1]
    tensor), computed by a generic that nothing else reads; None otherwise."""
    if conv.name != "linalg.conv_2d_nchw_fchw" or not is_constant(conv.operands[1]) or not is_static_f32(conv):
        return None
    image, filters, _ = conv.operands
    if filters.type.shape[2:] != [1, 1] or int_list(conv.attributes["strides"]) != [1, 1]:
        return None
    scale = image.owner
    if not (isinstance(scale, ir.OpView) and scale.name == "linalg.generic" and len(scale.operands) == 3
            and len(list(image.uses)) == 1 and all(kind == PARALLEL for kind in iterator_types(scale))):
        return None
    body = list(scale.regions[0].blocks[0].operations)
    arguments = list(scale.regions[0].blocks[0].arguments)
    if [op.name for op in body] != ["arith.mulf", "linalg.yield"] or set(body[0].operands) != set(arguments[:2]):
        return None
    maps = indexing_maps(scale)
    if not all(is_projected_map(m) for m in maps):
        return None
    dims = [map_dims(m) for m in maps]
    if dims[2] != [0, 1, 2, 3]:
        return None
    x, s = None, None
    for value, read in zip(scale.operands[:2], dims[:2]):
        if read == [0, 1, 2, 3]:
            x = value
        elif read == [0, 1, None, None]:
            s = value
    return (x, s) if x is not None and s is not None else None


def filters_smaller_than_image(conv: ir.OpView) -> bool:
    """Whether scaling `conv`'s filters per image costs less than scaling its
    image: the scaled filters are computed and packed on every call, where the
    constant ones were packed at compile time, so with many filters against
    few pixels (784 filters over a 7x7 image) folding costs more than the pass
    over the image it saves."""
    filters = conv.operands[1].type.shape[0]
    height, width = conv.operands[0].type.shape[2:]
    return filters <= FOLD_MAX_FILTERS_PER_PIXEL * height * width


def fold_scale(conv: ir.OpView, x: ir.Value, s: ir.Value) -> None:
    """conv(x * s) -> C[n, f, p] = sum_c (W[f, c] * s[n, c]) x[n, c, p]: one small
    [N, F, C] product of the filters and the scales, then a contraction batched
    over the images."""
    _, filters, init = conv.operands
    n, c, h, w = x.type.shape
    f = filters.type.shape[0]
    f32 = x.type.element_type
    with ir.InsertionPoint(conv), conv.location:
        weights = tensor.CollapseShapeOp(ir.RankedTensorType.get([f, c], f32), filters,
                                         reassociation([0], [1, 2, 3])).result
        scales = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, c], f32), s, reassociation([0], [1, 2, 3])).result
        d = [ir.AffineDimExpr.get(i) for i in range(3)]  # image, filter, channel
        empty = tensor.EmptyOp([n, f, c], f32).result
        scaled = linalg.GenericOp([empty.type], [weights, scales], [empty],
                                  affine_maps(3, [d[1], d[2]], [d[0], d[2]], d), iterator_types_attr(*["parallel"] * 3))
        block = scaled.regions[0].blocks.append(f32, f32, f32)
        with ir.InsertionPoint(block):
            linalg.YieldOp([arith.mulf(block.arguments[0], block.arguments[1])])
        columns = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, c, h * w], f32), x,
                                         reassociation([0], [1], [2, 3])).result
        out = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, f, h * w], f32), init,
                                     reassociation([0], [1], [2, 3])).result
        e = [ir.AffineDimExpr.get(i) for i in range(4)]  # image, filter, pixel, channel
        product = multiply_accumulate(
            [scaled.results[0], columns], out,
            [ir.AffineMap.get(4, 0, r) for r in ([e[0], e[1], e[3]], [e[0], e[3], e[2]], [e[0], e[1], e[2]])],
            ["parallel", "parallel", "parallel", "reduction"])
        result = tensor.ExpandShapeOp(init.type, product.results[0], reassociation([0], [1], [2, 3]), [],
                                      static_output_shape=[n, f, h, w]).result
    record_strategy(conv, f"channel scale folded into the filters of 1x1 conv {c}->{f}")
    scale = conv.operands[0].owner
    conv.results[0].replace_all_uses_with(result)
    conv.operation.erase()
    scale.operation.erase()


@dataclass(frozen=True)
class FoldChannelScale(WaferPass):
    """Fold an image's per-channel scales (squeeze-excite's sigmoid gates,
    one per image and channel) into the filters of the 1x1 convolution that
    reads the scaled image.

    Scaling the image is a pass over it, read and written at memory speed
    where it does not fit the caches (EfficientNet's 144-channel 56x56
    images, 1.8 MB each); scaling the filters (24 x 144 per image) is not,
    and the convolution reads the image as it was. The convolution becomes
    a contraction batched over the images, whose filters are computed per
    call: only where the filters are few against the image's pixels (see
    `filters_smaller_than_image`). Runs after wafer-channels-last, whose NHWC
    chains (images that fit in cache) keep their convolutions.
    """

    name = "wafer-fold-channel-scale"
    summary = "Fold per-image channel scales (squeeze-excite) into the next 1x1 convolution's filters"

    def apply(self, module: ir.Operation) -> None:
        for conv in find_ops(module, lambda op: op.name == "linalg.conv_2d_nchw_fchw"):
            found = scaled_image(conv.opview)
            if found is not None and filters_smaller_than_image(conv.opview):
                fold_scale(conv.opview, *found)
