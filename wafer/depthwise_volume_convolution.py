"""Depthwise 3-D convolutions as 2-D ones over depth slices, before import.

torch-mlir lowers depthwise convolutions of one and two spatial dims, and 3-D
ones with several output channels per group, but not a 3-D convolution with
one input and one output channel per group (MViT's pooling attention, a
depthwise ConvTranspose3d): the import fails on aten.convolution. Along the
depth, such a convolution is a sum over the kernel's depth taps: tap k of
output slice o reads input slice o * stride + k * dilation of the zero-padded
input. Each tap is a 2-D depthwise convolution of every depth slice at once
(depth folded into the channels, its weight repeated over them), whose slices
at those positions are summed, and those convolutions are the depthwise ones
the CPU strategies vectorize.
"""

from __future__ import annotations

import torch

from .graph_edits import schema_arguments

aten = torch.ops.aten


def is_depthwise_volume(x: torch.Tensor, weight: torch.Tensor, transposed: bool, groups: int) -> bool:
    """A batched 3-D convolution with one input and one output channel per group."""
    return (not transposed and x.dim() == weight.dim() == 5 and groups > 1
            and x.shape[1] == groups == weight.shape[0])


def has_depthwise_volume_convolution(program) -> bool:
    """Does `program`'s graph hold one? Then it takes the decomposition below. As
    exported, a Conv3d is still `conv3d`, which decomposes into `convolution`: were
    it missed here, only the whole table's second re-trace would reach this one
    (MViT's pooled attention)."""
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target in _VOLUME_CONVOLUTIONS:
            arguments = schema_arguments(node)
            if is_depthwise_volume(arguments["input"].meta["val"], arguments["weight"].meta["val"],
                                   arguments.get("transposed", False), arguments["groups"]):
                return True
    return False


_VOLUME_CONVOLUTIONS = (aten.convolution.default, aten.conv3d.default, aten.conv3d.padding)


def depthwise_volume_convolution(x, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """aten.convolution's decomposition for a depthwise 3-D convolution;
    NotImplemented (the op as it is) for any other convolution."""
    if not is_depthwise_volume(x, weight, transposed, groups):
        return NotImplemented
    if padding[0]:
        x = torch.nn.functional.pad(x, [0, 0, 0, 0, padding[0], padding[0]])
    batch, channels, depth = x.shape[:3]
    taps = weight.shape[2]
    out_depth = (depth - dilation[0] * (taps - 1) - 1) // stride[0] + 1
    slices = x.reshape(batch, channels * depth, *x.shape[3:])
    result = None
    for tap in range(taps):
        planes = aten.convolution.default(slices, weight[:, :, tap].repeat_interleave(depth, 0), None,
                                          list(stride[1:]), list(padding[1:]), list(dilation[1:]), False, [0, 0],
                                          channels * depth)
        planes = planes.reshape(batch, channels, depth, *planes.shape[2:])
        start = tap * dilation[0]
        term = planes[:, :, start:start + (out_depth - 1) * stride[0] + 1:stride[0]]
        result = term if result is None else result + term
    return result if bias is None else result + bias.reshape(channels, 1, 1, 1)
