"""Small edits of an exported program's FX graph, shared by the rewrites that run before import."""

from __future__ import annotations

import torch
from torch.export.graph_signature import TensorArgument

# What says where a node came from: its source line and layer, for error messages and locations.
LOCATION_META = ("stack_trace", "nn_module_stack", "source_fn_stack")


def on_floats(node) -> bool:
    """Whether `node`'s first operand is a floating-point tensor."""
    operand = node.args[0] if node.args else None
    value = operand.meta.get("val") if isinstance(operand, torch.fx.Node) else None
    return isinstance(value, torch.Tensor) and value.dtype.is_floating_point


def call_like(graph, target, args, origin, kwargs=None):
    """A new node calling `target`, with `origin`'s source location and layer
    (for error messages) and its own fake value (for the importer's types)."""
    node = graph.call_function(target, args, kwargs)
    node.meta = {key: origin.meta[key] for key in LOCATION_META if key in origin.meta}
    node.meta["val"] = target(*torch.fx.node.map_arg(args, lambda arg: arg.meta["val"]),
                              **torch.fx.node.map_arg(kwargs or {}, lambda arg: arg.meta["val"]))
    return node


def rename_result(program, old, new) -> None:
    """Where `old` is a result of `program`, its signature names `new` instead
    (the graph's output now returns `new`)."""
    for spec in program.graph_signature.output_specs:
        if isinstance(spec.arg, TensorArgument) and spec.arg.name == old.name:
            spec.arg.name = new.name


def targets_in(program, ops) -> set:
    """The ops among `ops` that `program`'s graph calls."""
    return {node.target for node in program.graph.nodes if node.target in ops}


def schema_arguments(node: torch.fx.Node) -> dict:
    """`node`'s arguments by their schema's names, defaults filled in."""
    schema = node.target._schema.arguments
    values = {a.name: a.default_value if a.has_default_value() else None for a in schema}
    values.update(zip((a.name for a in schema), node.args))
    values.update(node.kwargs)
    return values
