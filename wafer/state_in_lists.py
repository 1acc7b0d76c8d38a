"""Weights and buffers inside list operands, made importable.

torch-mlir's frozen import replaces each parameter, buffer and constant
placeholder by its tensor, in place in the FX graph. Where the placeholder was
an element of a list operand (Swin's `relative_position_bias_table[index]`:
`aten.index.Tensor(table, [index])`), the list then holds a raw tensor, which
the importer refuses ("Heterogeneous lists are not supported"). A clone of the
placeholder in its place keeps the list one of graph values; the clone of a
constant folds away in the lowering.
"""

from __future__ import annotations

import torch
from torch.export.graph_signature import InputKind

from .graph_edits import call_like

_STATE = (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR)


def clone_state_in_lists(program) -> None:
    """Put a clone between each state placeholder and the list operands that hold it."""
    state = {spec.arg.name for spec in program.graph_signature.input_specs if spec.kind in _STATE}
    graph = program.graph_module.graph
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        args = list(node.args)
        for i, arg in enumerate(args):
            if isinstance(arg, (list, tuple)) and any(_is_state(element, state) for element in arg):
                with graph.inserting_before(node):
                    args[i] = type(arg)(call_like(graph, torch.ops.aten.clone.default, (element,), node)
                                        if _is_state(element, state) else element for element in arg)
        node.args = tuple(args)
    graph.lint()


def _is_state(value, state: set[str]) -> bool:
    return isinstance(value, torch.fx.Node) and value.op == "placeholder" and value.name in state
