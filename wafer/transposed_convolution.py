"""Transposed convolutions torch-mlir lowers wrong, rewritten before import.

A transposed convolution is the convolution of its input with zeros inserted
between the elements (stride - 1 of them), padded by dilation * (kernel - 1) -
padding on each side (plus output_padding after), with the kernel flipped and
stride 1. torch-mlir lowers it so, with a strided insert_slice into zeros, but:

- with one input channel per group it builds an invalid collapse_shape (and
  fails), while it lowers ordinary depthwise convolutions well: such a
  convolution is decomposed here (with one input channel per group, the
  transposed weight [C, M, *k] is already the grouped weight [C * M, 1, *k]);
- a zero pad of a strided one's input (F.pad, value 0) is folded into that
  insert_slice with its low padding not scaled by the stride:
  `conv_transpose2d(F.pad(x, (2, 0, 0, 2)), w, stride=2)` read x two columns
  off, every element wrong (the fuzzer's seed 81908). Adding 0.0 to the pad
  keeps it a value of its own, which the fold does not match; the sum is exact,
  and a -0.0 comes out +0.0, as the pad gives.
"""

from __future__ import annotations

import torch

from .graph_edits import call_like, schema_arguments

aten = torch.ops.aten
_ZERO_PADS = (aten.pad.default, aten.constant_pad_nd.default)


def is_depthwise_transposed(x: torch.Tensor, transposed: bool, groups: int) -> bool:
    return transposed and groups > 1 and x.shape[1] == groups


def has_depthwise_transposed_convolution(program) -> bool:
    """Does `program`'s graph hold one? Then it takes the decomposition below."""
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target in _TRANSPOSED_CONVOLUTIONS:
            arguments = schema_arguments(node)
            if is_depthwise_transposed(arguments["input"].meta["val"], arguments.get("transposed", True),
                                       arguments["groups"]):
                return True
    return False


_TRANSPOSED_CONVOLUTIONS = (aten.convolution.default, aten.conv_transpose1d.default, aten.conv_transpose2d.input,
                            aten.conv_transpose3d.input)


def keep_pads_apart_from_strided_transposed_convolutions(program) -> None:
    """Add 0.0 to each zero pad that a strided transposed convolution in `program`'s graph reads."""
    graph = program.graph_module.graph
    changed = False
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in _TRANSPOSED_CONVOLUTIONS:
            continue
        arguments = schema_arguments(node)
        pad, stride = arguments["input"], arguments["stride"]
        strided = any(s > 1 for s in stride) if isinstance(stride, (list, tuple)) else stride > 1
        if not (arguments.get("transposed", True) and strided and isinstance(pad, torch.fx.Node)
                and pad.target in _ZERO_PADS and _pads_with_zeros(pad)):
            continue
        with graph.inserting_before(node):
            node.replace_input_with(pad, call_like(graph, aten.add.Tensor, (pad, 0.0), pad))
        changed = True
    if changed:
        graph.lint()
        program.graph_module.recompile()


def _pads_with_zeros(pad: torch.fx.Node) -> bool:
    arguments = schema_arguments(pad)
    return arguments.get("mode", "constant") == "constant" and not arguments.get("value")


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
