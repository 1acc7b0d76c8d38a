"""In-place ops on temporaries as their functional twins, before import.

torch-mlir imports no in-place op, so a program holding one (ResNet's
`ReLU(inplace=True)` and `out += identity`, MobileNet's ReLU6) went through
torch's `run_decompositions`, which re-traces the whole program to
functionalize it (2.3 s of ResNet-18's compile). An in-place op whose
operand is a temporary that nothing else aliases is its functional twin,
with later readers of the operand reading the result instead; the
front end rewrites those and decomposes only what is left.

A write into slices of a temporary (Swin's attention mask, filled window by
window: `mask[h0:h1, w0:w1] = count`) is the functional op on the slice,
scattered back into the temporary, which later readers read instead.
"""

from __future__ import annotations

import operator

import torch

from .graph_edits import call_like, rename_result


# The views a write into part of a tensor goes through, and the op that puts the part back.
_SCATTERS = {
    torch.ops.aten.slice.Tensor: torch.ops.aten.slice_scatter.default,
    torch.ops.aten.select.int: torch.ops.aten.select_scatter.default,
}


def functionalize_temporaries(program) -> None:
    """Rewrite each in-place op of `program`'s graph whose first operand is a
    temporary (made by an op that returns no alias), or slices of one, as its
    functional twin."""
    graph = program.graph_module.graph
    order = _positions(graph)
    for node in list(graph.nodes):
        twin = _functional_twin(node)
        if twin is None or not node.args:
            continue
        operand = node.args[0]
        if _is_temporary(_unshared_base(operand)):
            for user in _read_after(operand, node, order):
                user.replace_input_with(operand, node)
            node.target = twin
        elif (slices := _slices_of_temporary(operand, node, order)) is not None:
            _scatter_back(program, node, twin, slices, order)
            order = _positions(graph)  # with the scatters
    graph.lint()
    program.graph_module.recompile()


def _positions(graph) -> dict:
    return {node: i for i, node in enumerate(graph.nodes)}


def _read_after(value, write, order) -> list:
    """The nodes that read `value` after `write`: they must see what it wrote."""
    return [user for user in value.users if order[user] > order[write]]


def _slices_of_temporary(value, write, order) -> list | None:
    """The slices from a temporary down to `value`, outermost first, if `value`
    is one, each slice is read only by the next (or by `write`), and no other
    view of the temporary made before `write` could see what it writes."""
    slices = []
    while isinstance(value, torch.fx.Node) and value.target in _SCATTERS and len(value.users) == 1:
        slices.insert(0, value)
        value = value.args[0]
    if not slices or not _is_temporary(value):
        return None
    if any(_is_view(user) and order[user] < order[write] and user is not slices[0] for user in value.users):
        return None
    return slices


def _scatter_back(program, write, twin, slices, order) -> None:
    """Replace `write` (in place, into the last of `slices`) by its functional
    twin on that slice, scattered back through each slice into the temporary,
    which what reads the temporary after `write` reads instead."""
    graph = program.graph_module.graph
    base = slices[0].args[0]
    later = _read_after(base, write, order)  # before the scatters, which read it too
    with graph.inserting_before(write.next):
        written = part = call_like(graph, twin, (slices[-1], *write.args[1:]), write, write.kwargs)
        for view in reversed(slices):
            part = call_like(graph, _SCATTERS[view.target], (view.args[0], part, *view.args[1:]), write, view.kwargs)
    write.replace_all_uses_with(written)
    for user in later:
        user.replace_input_with(base, part)
    rename_result(program, base, part)
    graph.erase_node(write)


def _functional_twin(node):
    """aten.relu_.default -> aten.relu.default, if `node` is an in-place aten op that has one."""
    schema = getattr(node.target, "_schema", None) if node.op == "call_function" else None
    if schema is None or not schema.is_mutable or not schema.name.startswith("aten::"):
        return None
    written = [arg.alias_info is not None and arg.alias_info.is_write for arg in schema.arguments]
    if written[:1] != [True] or any(written[1:]):
        return None  # it must write its first operand and nothing else
    name = schema.name.removeprefix("aten::")
    if not name.endswith("_") or name.endswith("__"):
        return None
    packet = getattr(torch.ops.aten, name[:-1], None)
    overload = schema.overload_name or "default"
    return getattr(packet, overload, None) if packet is not None else None


def _unshared_base(value):
    """The value `value` views, through views that are each the only reader of
    what they view (EfficientNet's in-place dropout reads `flatten`'s view of
    the pooled temporary); `value` itself when it is not such a view. A write
    through the view reaches nothing else then, so it may become functional."""
    while isinstance(value, torch.fx.Node) and _is_view(value) and len(value.args[0].users) == 1:
        value = value.args[0]
    return value


def _is_view(node) -> bool:
    """An op whose one result aliases its first operand and writes nothing (view, flatten)."""
    schema = getattr(node.target, "_schema", None) if node.op == "call_function" else None
    if schema is None or len(schema.returns) != 1 or not node.args or not isinstance(node.args[0], torch.fx.Node):
        return False
    alias = schema.returns[0].alias_info
    return alias is not None and not alias.is_write and not any(
        arg.alias_info is not None and arg.alias_info.is_write for arg in schema.arguments)


def _is_temporary(value) -> bool:
    """Made by an op whose results alias none of its operands (not a view, not in
    place), or one result of such an op (batch norm's)."""
    if not isinstance(value, torch.fx.Node) or value.op != "call_function":
        return False
    if value.target is operator.getitem:
        return _is_temporary(value.args[0])
    schema = getattr(value.target, "_schema", None)
    return schema is not None and all(ret.alias_info is None for ret in schema.returns)
