"""Layer and group norms over shifted inputs, before import: moments eager's way.

torch-mlir decomposes `layer_norm` and `group_norm` into a mean as sum / N and
a variance of the differences from it. Summed in float32, a slice of N equal
values has a mean a few ulps off the value, and the normalization divides that
rounding by sqrt(eps): group_norm of a constant 17x17 plane gave 2.4e-4 where
eager (ATen's Welford moments, which never leave a constant) gives exactly 0.

Both normalizations are unchanged by subtracting any value that is constant
over each normalized slice, so the input is shifted by one of its own elements
first: the first element of each slice for layer_norm, of each sample for
group_norm (constant over every group of it). A constant slice then sums
zeros, and for any input the sums are of differences from a nearby value,
which also keeps the variance's cancellation small. The subtraction fuses
into the reductions' loops. A float32 group_norm then takes its moments in
float32 (`_group_norm`), as eager's kernel does.
"""

from __future__ import annotations

import torch

from .graph_edits import call_like, on_floats, rename_result

aten = torch.ops.aten

_NORMS = (aten.layer_norm.default, aten.group_norm.default)


def shift_normalized_inputs(program) -> None:
    """Rewrite each float layer_norm and group_norm in `program`'s graph to
    normalize its input minus one of its elements."""
    graph = program.graph_module.graph
    norms = [node for node in graph.nodes
             if node.op == "call_function" and node.target in _NORMS and on_floats(node)]
    for node in norms:
        x = node.args[0]
        shape = x.meta["val"].shape
        # layer_norm normalizes the trailing len(normalized_shape) dims; group_norm all but the batch dim.
        first = len(shape) - len(node.args[1]) if node.target == aten.layer_norm.default else 1
        with graph.inserting_before(node):
            shift = x
            for dim in range(first, len(shape)):
                shift = call_like(graph, aten.slice.Tensor, (shift, dim, 0, 1), node)
            shifted = call_like(graph, aten.sub.Tensor, (x, shift), node)
            if node.target == aten.group_norm.default and x.meta["val"].dtype == torch.float32:
                decomposed = _group_norm(graph, node, shifted, *node.args[1:])
                node.replace_all_uses_with(decomposed)
                rename_result(program, node, decomposed)
                graph.erase_node(node)
                continue
        node.args = (shifted, *node.args[1:])
    if norms:
        graph.lint()
        program.graph_module.recompile()


def _group_norm(graph, node, x, groups: int, weight=None, bias=None, eps: float = 1e-5, *_):
    """group_norm of float32 `x` as moments of its groups in float32, as eager's
    kernel sums them: torch-mlir computes the variance in float64 (a cast of
    every element and reductions at half the lanes). The input is shifted
    already, so float32 keeps the digits."""
    shape = list(x.meta["val"].shape)
    n, channels = shape[:2]

    def call(target, *args):
        return call_like(graph, target, args, node)

    grouped = call(aten.reshape.default, x, [n, groups, -1])  # x may be a permuted view: not a view then
    mean = call(aten.mean.dim, grouped, [-1], True)
    centered = call(aten.sub.Tensor, grouped, mean)
    variance = call(aten.mean.dim, call(aten.mul.Tensor, centered, centered), [-1], True)
    normalized = call(aten.mul.Tensor, centered, call(aten.rsqrt.default, call(aten.add.Tensor, variance, eps)))
    y = call(aten.view.default, normalized, shape)
    per_channel = [1, channels] + [1] * (len(shape) - 2)
    if weight is not None:
        y = call(aten.mul.Tensor, y, call(aten.view.default, weight, per_channel))
    if bias is not None:
        y = call(aten.add.Tensor, y, call(aten.view.default, bias, per_channel))
    return y
