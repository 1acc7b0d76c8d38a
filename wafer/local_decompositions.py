"""Decompose the few ops of an exported program that need it where they are in its graph.

`ExportedProgram.run_decompositions` traces the whole program again to
decompose a handful of nodes (GPT-2's `aten.diff`, `&` and tanh GELUs), at
about the cost of the export itself, growing with the layers. A program that
writes no state needs nothing else that re-trace does (functionalization, a
new signature): each node whose op the table decomposes is traced alone, on
its own fake values, and the ops its decomposition calls take its place.
"""

from __future__ import annotations

import torch
from torch._guards import detect_fake_mode
from torch.fx.experimental.proxy_tensor import make_fx

from .graph_edits import LOCATION_META, rename_result


def decompose_in_place(program: torch.export.ExportedProgram, table: dict) -> bool:
    """Replace each call of an op in `table` by what its decomposition calls (itself
    applying `table`). False, with the graph unchanged, where a node cannot be
    decomposed on its own: it has an operand or result other than one tensor, or
    its decomposition reads a tensor constant."""
    graph = program.graph_module.graph
    nodes = [node for node in graph.nodes if node.op == "call_function" and node.target in table]
    traced = [_trace(node, table) for node in nodes]
    if any(graph_module is None for graph_module in traced):
        return False
    for node, graph_module in zip(nodes, traced):
        _splice(program, node, graph_module)
    graph.lint()
    program.graph_module.recompile()
    return True


def _trace(node: torch.fx.Node, table: dict) -> torch.fx.GraphModule | None:
    """The graph of `node`'s decomposition on its operands' fake values, or None."""
    operands = node.all_input_nodes
    values = [operand.meta.get("val") for operand in operands]
    fake_mode = detect_fake_mode(values)
    if fake_mode is None or not all(isinstance(value, torch.Tensor) for value in (*values, node.meta.get("val"))):
        return None  # an operand or result that is not one tensor

    def decomposed(*tensors):
        by_operand = dict(zip(operands, tensors))
        args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), by_operand.__getitem__)
        return table[node.target](*args, **kwargs)

    try:
        with fake_mode:
            graph_module = make_fx(decomposed, decomposition_table=table)(*values)
    except Exception:  # a decomposition that declines (NotImplemented) or cannot run alone
        return None
    if any(inner.op == "get_attr" for inner in graph_module.graph.nodes):
        return None  # a tensor constant, which the program's module does not hold
    return graph_module


def _splice(program: torch.export.ExportedProgram, node: torch.fx.Node, graph_module: torch.fx.GraphModule) -> None:
    """Put `graph_module`'s ops in place of `node`, with its source location and layer;
    where `node` is a result of the program, the signature names what replaces it."""
    graph = program.graph_module.graph
    placeholders = [inner for inner in graph_module.graph.nodes if inner.op == "placeholder"]
    copies = dict(zip(placeholders, node.all_input_nodes))
    with graph.inserting_before(node):
        result = graph.graph_copy(graph_module.graph, copies)
    for inner, copy in copies.items():
        if inner.op != "placeholder":
            copy.meta.update({key: node.meta[key] for key in LOCATION_META if key in node.meta})
    node.replace_all_uses_with(result)
    rename_result(program, node, result)
    graph.erase_node(node)
