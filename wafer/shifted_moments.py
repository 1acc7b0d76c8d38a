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
into the reductions' loops.
"""

from __future__ import annotations

import torch

from .graph_edits import call_like, on_floats

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
        node.args = (shifted, *node.args[1:])
    if norms:
        graph.lint()
        program.graph_module.recompile()
