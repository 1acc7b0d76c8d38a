"""NaN as eager has it, through the ops torch-mlir lowers without it, before import.

- `clamp`, `hardtanh` (ReLU6), `threshold`, `maximum` and `minimum` become a
  compare and a select that picks the bound, or the other operand, when the
  input is NaN: `relu6(nan)` came back as 6 and `maximum(nan, 0)` as 0.
- `x == x`, `x <= x` and `x >= x` fold to true, and `x != x` to false.
- `argmax` and `argmin` skip a NaN, where eager returns the first NaN's index.

A NaN that an eager run shows and a compiled run hides is a silent wrong
answer, so each such op on floats is rewritten in the graph into ops that
torch-mlir lowers faithfully. The extra compares and selects fuse into the
op's own loop. `sort` and `topk` order NaN in MLIR (wafer-sort-nan-order).
"""

from __future__ import annotations

import torch

from .graph_edits import call_like, on_floats

aten = torch.ops.aten

# op -> how many leading operands are tensors whose NaN the result must carry
_NAN_DROPPING = {
    aten.clamp.default: 1, aten.clamp.Tensor: 1,
    aten.clamp_min.default: 1, aten.clamp_min.Tensor: 1,
    aten.clamp_max.default: 1, aten.clamp_max.Tensor: 1,
    aten.hardtanh.default: 1, aten.relu6.default: 1, aten.threshold.default: 1,
    aten.maximum.default: 2, aten.minimum.default: 2, aten.max.other: 2, aten.min.other: 2,
}
_SELF_COMPARISONS = {aten.eq.Tensor: True, aten.le.Tensor: True, aten.ge.Tensor: True, aten.ne.Tensor: False}
_ARG_EXTREMES = (aten.argmax.default, aten.argmin.default)


def propagate_nans(program) -> None:
    """Rewrite each NaN-dropping op on floats in `program`'s graph. The op's
    node becomes the outermost op of its rewrite, so its name, which the
    graph signature refers to, stays the result's."""
    graph = program.graph_module.graph
    changed = False
    for node in list(graph.nodes):
        if node.op != "call_function" or not on_floats(node):
            continue
        with graph.inserting_before(node):
            if node.target in _NAN_DROPPING:
                changed |= _carry_nans(graph, node)
            elif node.target in _SELF_COMPARISONS and node.args[0] is node.args[1]:
                _compare_with_itself(graph, node)
                changed = True
            elif node.target in _ARG_EXTREMES:
                _first_nan_wins(graph, node)
                changed = True
    if changed:
        graph.lint()
        program.graph_module.recompile()


def _carry_nans(graph, node) -> bool:
    """op(x, ...) -> where(isnan(x), x, op(x, ...)) for each float tensor
    operand that can be NaN; False if an operand's dtype differs from the result's."""
    count = _NAN_DROPPING[node.target]
    operands = [arg for arg in node.args[:count] if isinstance(arg, torch.fx.Node)]
    if any(arg.meta["val"].dtype != node.meta["val"].dtype for arg in operands):
        return False
    result = call_like(graph, node.target, node.args, node, node.kwargs)
    for operand in reversed(operands[1:]):
        is_nan = call_like(graph, aten.isnan.default, (operand,), node)
        result = call_like(graph, aten.where.self, (is_nan, operand, result), node)
    is_nan = call_like(graph, aten.isnan.default, (operands[0],), node)
    _become(node, aten.where.self, (is_nan, operands[0], result))
    return True


def _compare_with_itself(graph, node) -> None:
    """x == x -> not isnan(x); x != x -> isnan(x)."""
    if _SELF_COMPARISONS[node.target]:
        _become(node, aten.logical_not.default, (call_like(graph, aten.isnan.default, (node.args[0],), node),))
    else:
        _become(node, aten.isnan.default, (node.args[0],))


def _first_nan_wins(graph, node) -> None:
    """argmax(x, dim) -> where(any(isnan(x), dim), argmax(isnan(x), dim), argmax(x, dim))."""
    x, *reduction = node.args
    reduction += [node.kwargs[key] for key in ("dim", "keepdim") if key in node.kwargs]
    is_nan = call_like(graph, aten.isnan.default, (x,), node)
    nan_as_one = call_like(graph, aten._to_copy.default, (is_nan,), node, {"dtype": x.meta["val"].dtype})
    first_nan = call_like(graph, aten.argmax.default, (nan_as_one, *reduction), node)
    if reduction and reduction[0] is not None:
        has_nan = call_like(graph, aten.any.dim, (is_nan, reduction[0], *reduction[1:]), node)
    else:
        has_nan = call_like(graph, aten.any.default, (is_nan,), node)
    extreme = call_like(graph, node.target, node.args, node, node.kwargs)
    _become(node, aten.where.self, (has_nan, first_nan, extreme))


def _become(node, target, args) -> None:
    node.target, node.args, node.kwargs = target, args, {}
