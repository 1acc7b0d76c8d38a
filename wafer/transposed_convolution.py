"""A depthwise transposed convolution as a depthwise convolution, before import.

torch-mlir's lowering of a transposed convolution with one input channel per
group builds an invalid collapse_shape (and fails), while it lowers ordinary
depthwise convolutions well. A transposed convolution is the convolution of
its input with zeros inserted between the elements (stride - 1 of them), padded
by dilation * (kernel - 1) - padding on each side (plus output_padding after),
with the kernel flipped and stride 1. With one input channel per group, the
transposed weight [C, M, *k] is already the grouped weight [C * M, 1, *k].
"""

from __future__ import annotations

import torch

aten = torch.ops.aten


def is_depthwise_transposed(x: torch.Tensor, transposed: bool, groups: int) -> bool:
    return transposed and groups > 1 and x.shape[1] == groups


def has_depthwise_transposed_convolution(program) -> bool:
    """Does `program`'s graph hold one? Then it takes the decomposition below."""
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target in _TRANSPOSED_CONVOLUTIONS:
            arguments = _arguments(node)
            if is_depthwise_transposed(arguments["input"].meta["val"], arguments.get("transposed", True),
                                       arguments.get("groups", 1)):
                return True
    return False


_TRANSPOSED_CONVOLUTIONS = (aten.convolution.default, aten.conv_transpose1d.default, aten.conv_transpose2d.input,
                            aten.conv_transpose3d.input)


def _arguments(node: torch.fx.Node) -> dict:
    """A call's arguments by their schema names, defaults left out."""
    names = [argument.name for argument in node.target._schema.arguments]
    return {**dict(zip(names, node.args)), **node.kwargs}


def depthwise_transposed_convolution(x, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """aten.convolution's decomposition for a depthwise transposed convolution;
    NotImplemented (the op as it is) for any other convolution."""
    if not is_depthwise_transposed(x, transposed, groups):
        return NotImplemented
    spatial = x.dim() - 2
    for d in range(spatial):
        dim, extent = 2 + d, weight.shape[2 + d]
        x = _insert_zeros(x, dim, stride[d])
        before = dilation[d] * (extent - 1) - padding[d]
        x = _pad(x, dim, before, before + output_padding[d])
    flipped = weight.flip(list(range(2, weight.dim()))).reshape(-1, 1, *weight.shape[2:])
    return aten.convolution.default(x, flipped, bias, [1] * spatial, [0] * spatial, list(dilation), False,
                                    [0] * spatial, groups)


def _insert_zeros(x: torch.Tensor, dim: int, stride: int) -> torch.Tensor:
    """`stride - 1` zeros after each element along `dim`, none after the last."""
    if stride == 1:
        return x
    extent = x.shape[dim]
    spread = torch.cat([x.unsqueeze(dim + 1), x.new_zeros(*x.shape[:dim + 1], stride - 1, *x.shape[dim + 1:])],
                       dim + 1)
    return spread.flatten(dim, dim + 1).narrow(dim, 0, (extent - 1) * stride + 1)


def _pad(x: torch.Tensor, dim: int, before: int, after: int) -> torch.Tensor:
    """Zeros before and after `x` along `dim`; a negative count crops instead."""
    if before < 0 or after < 0:
        start, end = max(0, -before), x.shape[dim] - max(0, -after)
        x = x.narrow(dim, start, end - start)
        before, after = max(0, before), max(0, after)
    if before == 0 and after == 0:
        return x
    widths = [0, 0] * (x.dim() - 1 - dim) + [before, after]
    return torch.nn.functional.pad(x, widths)
