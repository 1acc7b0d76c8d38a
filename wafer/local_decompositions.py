"""Decompose the few ops of an exported program that need it where they are in its graph.

`ExportedProgram.run_decompositions` traces the whole program again to
decompose a handful of nodes (GPT-2's `aten.diff`, `&` and tanh GELUs), at
about the cost of the export itself, growing with the layers. A program that
writes no state needs nothing else that re-trace does (functionalization, a
new signature): each node whose op the table decomposes is traced alone, on
its own fake values, and the ops its decomposition calls take its place.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch
from torch._guards import detect_fake_mode
from torch.fx.experimental.proxy_tensor import make_fx

from .graph_edits import LOCATION_META, rename_result


def decompose_in_place(program: torch.export.ExportedProgram, table: dict,
                       importable: Callable[[torch._ops.OpOverload], bool] = lambda op: True) -> bool:
    """Replace each call of an op in `table` by what its decomposition calls (itself
    applying `table`). False, with the graph unchanged, where a node cannot be
    decomposed on its own: it has an operand or result other than one tensor (or
    a list of them), its decomposition reads a tensor constant or writes one in
    place, or it calls an op that is not `importable`: traced alone, an LSTM
    reaches its CPU kernel's `mkldnn_rnn_layer`, which a re-trace decomposes."""
    graph = program.graph_module.graph
    nodes = [node for node in graph.nodes if node.op == "call_function" and node.target in table]
    traced = []
    for node in nodes:  # all or none: the first that cannot be decomposed alone ends the search
        graph_module = trace_alone(_decomposition(node, table), node.all_input_nodes, node, table, importable)
        if graph_module is None:
            return False
        traced.append(graph_module)
    for node, graph_module in zip(nodes, traced):
        splice(program, node, graph_module, node.all_input_nodes)
    graph.lint()
    program.graph_module.recompile()
    return True


def _decomposition(node: torch.fx.Node, table: dict):
    """`node`'s decomposition in `table`, as a function of its operands' values."""
    def decomposed(*tensors):
        by_operand = dict(zip(node.all_input_nodes, tensors))
        args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), by_operand.__getitem__)
        return table[node.target](*args, **kwargs)
    return decomposed


def trace_alone(function, operands: list, result: torch.fx.Node, table: dict | None = None,
                importable: Callable[[torch._ops.OpOverload], bool] = lambda op: True) -> torch.fx.GraphModule | None:
    """The graph of the ops `function` calls (decomposed by `table`) on the fake
    values of `operands`, to compute `result`'s value; None where an operand is
    not one tensor, `result` is neither one tensor nor a list of them read item
    by item (`unbind`'s, `tensor_split`'s), `function` cannot run alone (a
    decomposition that declines), it reads a tensor constant, which the
    program's module does not hold, it writes a tensor in place, or it calls
    an op that is not `importable`."""
    values = [operand.meta.get("val") for operand in operands]
    fake_mode = detect_fake_mode(values)
    if fake_mode is None or not all(isinstance(value, torch.Tensor) for value in values) or not _one_or_items(result):
        return None
    try:
        with fake_mode:
            graph_module = make_fx(function, decomposition_table=table or {})(*values)
    except Exception:  # a decomposition that declines (NotImplemented) or cannot run alone
        return None
    if any(inner.op == "get_attr" or writes_in_place(inner)
           or isinstance(inner.target, torch._ops.OpOverload) and not importable(inner.target)
           for inner in graph_module.graph.nodes):
        return None
    return graph_module


def _one_or_items(result: torch.fx.Node) -> bool:
    """Is `result` one tensor, or a list of tensors that only `getitem`s read?"""
    value = result.meta.get("val")
    if isinstance(value, torch.Tensor):
        return True
    return (isinstance(value, (list, tuple)) and all(isinstance(item, torch.Tensor) for item in value)
            and all(user.target is operator.getitem for user in result.users))


def writes_in_place(node: torch.fx.Node) -> bool:
    """Does `node` write a tensor in place? (A GRU cell's decomposition adds in place;
    only a re-trace functionalizes that.)"""
    return getattr(getattr(node.target, "_schema", None), "is_mutable", False)


def splice(program: torch.export.ExportedProgram, node: torch.fx.Node, graph_module: torch.fx.GraphModule,
           operands: list) -> None:
    """Put `graph_module`'s ops, on `operands`, in place of `node`, with its source
    location and layer; where `node` (or an item of its list) is a result of the
    program, the signature names what replaces it."""
    graph = program.graph_module.graph
    placeholders = [inner for inner in graph_module.graph.nodes if inner.op == "placeholder"]
    copies = dict(zip(placeholders, operands))
    with graph.inserting_before(node):
        result = graph.graph_copy(graph_module.graph, copies)
    for inner, copy in copies.items():
        if inner.op != "placeholder":
            copy.meta.update({key: node.meta[key] for key in LOCATION_META if key in node.meta})
    replaced = [(user, result[user.args[1]]) for user in list(node.users)] if isinstance(result, (list, tuple)) \
        else [(node, result)]
    for old, new in replaced:
        old.replace_all_uses_with(new)
        rename_result(program, old, new)
        if old is not node:
            graph.erase_node(old)
    graph.erase_node(node)
