"""wafer-channels-last: compute pointwise and depthwise convolutions on channels-last images.

torch-mlir imports every convolution in NCHW. For a 1x1 convolution that makes
the pixels the packed kernel's vectorized N, ragged wherever the image's pixel
count is no multiple of the register block (196 pixels at 14x14, 49 at 7x7),
or, with the operands swapped (wafer-orient-contractions), the rows of a
result that must be transposed back. In NHWC the same convolution is
image[pixels, C] x filters[C, F]: pixels are the rows (7 or 8 of them divide
every such image), channels the vector lanes, the bias a vector added to the
accumulators, and nothing is transposed. A depthwise convolution in NHWC is a
stencil of whole channel vectors (wafer-depthwise-nhwc).

Each rewritten convolution reads `transpose(x)` and leaves `transpose(y)`.
The transposes to NCHW then sink through elementwise consumers and paddings
(the consumer runs in NHWC instead) and the transposes to NHWC rise through
fills, until a pair meets and cancels: a chain of 1x1, depthwise and
elementwise ops (a MobileNet block, residual adds included) runs channels-last
from its first convolution to its last, with one transpose in and one out.
A transpose that meets a reduction is read through the reduction's indexing
map instead, and a global average pool sums the NHWC image (wafer-plane-sums):
a 1x1 convolution that only such a pool reads (a classifier's head) runs
channels-last on its own, with one transpose in and none out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .constant_pack import ConstantReader
from .cpu_target import F32_BYTES, TargetedPass
from .linalg_builders import int_list, is_static_f32, multiply_accumulate, reassociation
from .linalg_queries import PARALLEL, iterator_types
from .matmul_contraction import in_parallel_loop
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .plane_sums import whole_planes
from .resource_blobs import aligned_copy, resource_attr
from .transpose_motion import TO_NCHW, TO_NHWC, move_transposes, transpose


def is_pointwise(conv: ir.OpView) -> bool:
    """A static f32 NCHW 1x1 stride-1 convolution over more than one pixel."""
    if conv.name != "linalg.conv_2d_nchw_fchw" or not is_static_f32(conv):
        return False
    _, _, kh, kw = conv.operands[1].type.shape
    _, _, oh, ow = conv.operands[2].type.shape
    return (kh, kw) == (1, 1) and int_list(conv.attributes["strides"]) == [1, 1] and oh * ow > 1


def is_depthwise(conv: ir.OpView) -> bool:
    return conv.name == "linalg.depthwise_conv_2d_nchw_chw" and is_static_f32(conv)


def rewrite_pointwise(conv: ir.OpView) -> None:
    """conv(x, w) -> transpose(rows(transpose(x))[N*H*W, C] x w[F, C]^T)."""
    x, w, init = conv.operands
    n, c, h, wd = x.type.shape
    f = w.type.shape[0]
    f32 = x.type.element_type
    with ir.InsertionPoint(conv), conv.location:
        rows = tensor.CollapseShapeOp(ir.RankedTensorType.get([n * h * wd, c], f32), transpose(x, TO_NHWC),
                                      reassociation([0, 1, 2], [3])).result
        filters = tensor.CollapseShapeOp(ir.RankedTensorType.get([f, c], f32), w, reassociation([0], [1, 2, 3])).result
        out = tensor.CollapseShapeOp(ir.RankedTensorType.get([n * h * wd, f], f32), transpose(init, TO_NHWC),
                                     reassociation([0, 1, 2], [3])).result
        pixel, channel, depth = (ir.AffineDimExpr.get(i) for i in range(3))
        product = multiply_accumulate(
            [rows, filters], out,
            [ir.AffineMap.get(3, 0, r) for r in ([pixel, depth], [channel, depth], [pixel, channel])],
            ["parallel", "parallel", "reduction"])
        result = tensor.ExpandShapeOp(ir.RankedTensorType.get([n, h, wd, f], f32), product.results[0],
                                      reassociation([0, 1, 2], [3]), [], static_output_shape=[n, h, wd, f]).result
        conv.results[0].replace_all_uses_with(transpose(result, TO_NCHW))
    conv.operation.erase()


def rewrite_depthwise(conv: ir.OpView, reader: ConstantReader) -> None:
    """depthwise_nchw(x, w[C, KH, KW]) -> transpose(depthwise_nhwc(transpose(x), w[KH, KW, C]))."""
    x, w, init = conv.operands
    with ir.InsertionPoint(conv), conv.location:
        result = linalg.depthwise_conv_2d_nhwc_hwc(
            transpose(x, TO_NHWC), _filters_last(w, reader), outs=[transpose(init, TO_NHWC)],
            strides=int_list(conv.attributes["strides"]), dilations=int_list(conv.attributes["dilations"]))
        conv.results[0].replace_all_uses_with(transpose(result, TO_NCHW))
    conv.operation.erase()


def _filters_last(w: ir.Value, reader: ConstantReader) -> ir.Value:
    """Depthwise filters [C, KH, KW] as [KH, KW, C]: transposed here where they are a
    constant, else by a transpose on each call."""
    array = reader.array(w)
    if array is None:
        return transpose(w, [1, 2, 0])
    filters = aligned_copy(array.transpose(1, 2, 0))
    type_ = ir.RankedTensorType.get(list(filters.shape), w.type.element_type)
    return arith.ConstantOp(type_, resource_attr(filters, "filters_last", type_, owned=True)).result


def depthwise_chains(module: ir.Operation, cache_bytes: int) -> tuple[list[ir.OpView], list[ir.OpView]]:
    """The depthwise and the 1x1 convolutions of each chain that joins a depthwise
    convolution to a 1x1 one, or to the model's own permute between NCHW and
    NHWC (ConvNeXt's, around its layer norm), through elementwise ops,
    paddings and further such convolutions (a MobileNet's inverted residual
    blocks, one after the other). A convolution whose image (its input or its
    result, per image) outgrows `cache_bytes`, or that is inside a parallel
    loop (a fused inverted residual block's tile), ends a chain.

    Only those run channels-last: a lone convolution would pay a transpose in
    and one out for what its NHWC form saves, and a 1x1 convolution between
    NCHW neighbours (a SqueezeNet fire module's squeeze, feeding a 3x3
    convolution) as well. Images streamed from memory ran slower in NHWC
    (MobileNet-v2's 112x112 and 56x56 blocks: 1.2-1.9x at batch 8, up to 1.2x
    at batch 1; bench/channels_last.py), where the NCHW kernels' rows of one
    channel stream better; in cache, faster (0.6-0.85x)."""
    def member(op: ir.Operation) -> bool:
        view = op.opview
        return ((is_pointwise(view) or is_depthwise(view)) and _image_bytes(view) <= cache_bytes
                and not in_parallel_loop(view))

    seen: set[ir.Operation] = set()
    depthwise, pointwise = [], []
    for start in find_ops(module, member):
        if start in seen or not is_depthwise(start.opview):
            continue
        seen.add(start)
        chain, stack = [start], [start]
        while stack:
            op = stack.pop()
            producers = [v.owner.operation for v in op.operands if isinstance(v.owner, ir.OpView)]
            users = [use.owner.operation for result in op.results for use in result.uses]
            for neighbour in producers + users:
                if neighbour in seen:
                    continue
                if _is_layout_transpose(neighbour):
                    chain.append(neighbour)  # the model's own permute, which ours will cancel
                if not (_joins(neighbour) or member(neighbour)):
                    continue
                seen.add(neighbour)
                stack.append(neighbour)
                if neighbour.name != "linalg.generic" and neighbour.name != "tensor.pad":
                    chain.append(neighbour)
        if any(is_pointwise(op.opview) or _is_layout_transpose(op) for op in chain):
            depthwise += [op.opview for op in chain if is_depthwise(op.opview)]
            pointwise += [op.opview for op in chain if is_pointwise(op.opview)]
    return depthwise, pointwise


def pooled_heads(module: ir.Operation, cache_bytes: int) -> list[ir.OpView]:
    """The 1x1 convolutions whose results only a global average pool reads,
    through elementwise ops: a classifier's head (SqueezeNet's 512->1000 at
    13x13, whose 169 pixels a 32-wide register block pads to 192 in NCHW),
    a ResNet's last block before its pool. Channels-last such a convolution
    pays a transpose in and none out: the pool sums the NHWC image
    (wafer-plane-sums). bench/channels_last.py --heads times them both ways:
    results up to the L2 per image ran faster in NHWC at batch 1 and 8,
    larger ones slower at batch 8, as for the depthwise chains."""
    def only_pooled(value: ir.Value) -> bool:
        users = [use.owner for use in value.uses]
        return bool(users) and all(
            (user.name == "linalg.pooling_nchw_sum" and whole_planes(user))
            or (user.name == "linalg.generic" and _joins(user.operation) and len(user.results) == 1
                and only_pooled(user.results[0]))
            for user in users)

    return [op.opview for op in find_ops(module, lambda op: is_pointwise(op.opview)
                                         and _image_bytes(op.opview) <= cache_bytes
                                         and not in_parallel_loop(op.opview) and only_pooled(op.results[0]))]


def _image_bytes(conv: ir.OpView) -> int:
    """The larger of a convolution's input and result, per image. A padded
    input counts without its padding, which the NHWC depthwise convolution
    reads through rather than copies (a 5x5's 7x7 image of 1152 channels is
    226 KB, padded to 11x11 557 KB)."""
    image = conv.operands[0]
    if isinstance(image.owner, ir.OpView) and image.owner.name == "tensor.pad":
        image = image.owner.operands[0]
    return max(math.prod(v.type.shape[1:]) * F32_BYTES for v in (image, conv.results[0]))


def _is_layout_transpose(op: ir.Operation) -> bool:
    return op.name == "linalg.transpose" and list(op.opview.permutation) in (TO_NHWC, TO_NCHW)


def _joins(op: ir.Operation) -> bool:
    """An op that a chain of channels-last convolutions runs through: an
    elementwise (all-parallel) generic or a padding."""
    return op.name == "tensor.pad" or (op.name == "linalg.generic"
                                       and all(kind == PARALLEL for kind in iterator_types(op)))


@dataclass(frozen=True)
class ChannelsLast(TargetedPass):
    """Compute depthwise convolutions, the 1x1 stride-1 convolutions chained to
    them, and those only a global average pool reads, channels-last.

    Rewrites each such convolution between transposes, then moves the
    transposes until pairs cancel (transpose_motion). Dead transposes are
    left to the canonicalizer.
    """

    name = "wafer-channels-last"
    summary = "Run depthwise convolutions, their 1x1 neighbours and the elementwise ops between in NHWC"

    def apply(self, module: ir.Operation) -> None:
        depthwise, pointwise = depthwise_chains(module, self.cpu.l2_bytes // 2)
        heads = [conv for conv in pooled_heads(module, self.cpu.l2_bytes) if conv not in pointwise]
        pointwise += heads
        for conv in pointwise:
            record_strategy(conv, "channels-last 1x1 conv")
            rewrite_pointwise(conv)
        reader = ConstantReader(module)
        for conv in depthwise:
            record_strategy(conv, "channels-last depthwise conv")
            rewrite_depthwise(conv, reader)
        if depthwise or heads:
            movable = ("linalg.generic", "tensor.pad", "linalg.transpose")
            move_transposes(find_ops(module, lambda op: op.name in movable))
