"""wse-collapse-loops: merge the loops a reduction's operands always read together into one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import tensor

from .linalg_builders import generic_like, move_body, reassociation
from .linalg_queries import (REDUCTION, indexing_maps, is_projected, iterator_attr, iterator_types, loop_ranges,
                             map_dims, reads_loop_indices)
from .pass_base import WaferPass, find_ops


def loop_groups(op: ir.Operation) -> list[list[int]]:
    """`op`'s loops in runs of reductions that every indexing map reads
    together, in order and side by side, or not at all; every other loop a
    run of its own. In loop order of each run's first loop."""
    maps = [map_dims(m) for m in indexing_maps(op)]
    kinds = iterator_types(op)
    read = [[d for d in dims if d is not None] for dims in maps]
    if any(len(set(dims)) < len(dims) for dims in read):  # a diagonal reads a loop twice
        return [[loop] for loop in range(len(kinds))]
    follows = {}  # loop -> the loop every map that reads it reads right after it
    for loop in range(len(kinds)):
        readers = [dims for dims in maps if loop in dims]
        after = {dims[dims.index(loop) + 1] if dims.index(loop) + 1 < len(dims) else None for dims in readers}
        if kinds[loop] != REDUCTION or len(after) != 1 or (nxt := after.pop()) is None or kinds[nxt] != REDUCTION:
            continue
        if all((loop in dims) == (nxt in dims) for dims in maps):
            follows[loop] = nxt
    led = set(follows.values())
    groups = []
    for loop in range(len(kinds)):
        if loop in led:
            continue
        group = [loop]
        while group[-1] in follows:
            group.append(follows[group[-1]])
        groups.append(group)
    return groups


def _collapsed_operand(value: ir.Value, dims: list[int | None], group_of: dict[int, int]) -> tuple[ir.Value, list]:
    """`value` read through a map of `dims`, its dims of one loop group merged:
    the (possibly collapsed) value and its reassociation."""
    runs: list[list[int]] = []
    for position, dim in enumerate(dims):
        if runs and dim is not None and dims[runs[-1][0]] is not None and group_of[dims[runs[-1][0]]] == group_of[dim]:
            runs[-1].append(position)
        else:
            runs.append([position])
    if len(runs) == len(dims):
        return value, runs
    shape = ir.RankedTensorType(value.type).shape
    type_ = ir.RankedTensorType.get([math.prod(shape[p] for p in run) for run in runs],
                                    ir.RankedTensorType(value.type).element_type)
    return tensor.CollapseShapeOp(type_, value, reassociation(*runs)).result, runs


def collapse(op: ir.Operation, groups: list[list[int]]) -> None:
    """Replace linalg.generic `op` by one whose loops are `groups`, its
    operands collapsed to match and its results expanded back."""
    group_of = {loop: g for g, group in enumerate(groups) for loop in group}
    operands, maps, result_runs = [], [], []
    with ir.InsertionPoint(op), op.location:
        for value, affine_map in zip(op.operands, indexing_maps(op)):
            dims = map_dims(affine_map)
            collapsed, runs = _collapsed_operand(value, dims, group_of)
            operands.append(collapsed)
            result_runs.append(runs)
            maps.append(ir.AffineMapAttr.get(ir.AffineMap.get(len(groups), 0, [
                ir.AffineConstantExpr.get(0) if dims[run[0]] is None else ir.AffineDimExpr.get(group_of[dims[run[0]]])
                for run in runs])))
    n_inputs = len(op.operands) - len(op.results)
    generic, block = generic_like(op, operands[:n_inputs], maps[:n_inputs], list(op.regions[0].blocks[0].arguments),
                                  operands[n_inputs:], maps[n_inputs:])
    kinds = iterator_types(op)
    generic.attributes["iterator_types"] = ir.ArrayAttr.get([iterator_attr(kinds[group[0]]) for group in groups])
    move_body(op, block)
    with ir.InsertionPoint(op), op.location:
        for old, new, runs in zip(op.results, generic.results, result_runs[n_inputs:]):
            shape = ir.RankedTensorType(old.type).shape
            old.replace_all_uses_with(new if len(runs) == len(shape) else tensor.ExpandShapeOp(
                old.type, new, reassociation(*runs), [], shape).result)
    op.erase()


@dataclass(frozen=True)
class WseCollapseLoops(WaferPass):
    """Merge each run of reduction loops that every operand reads side by
    side (or not at all) into one loop, reshaping the operands to match.

    Elementwise fusion folds the reshapes around a contraction into its
    loops: a linear layer after a flatten sums over (channels, rows,
    columns). The wse target gives a contraction's k one loop and splits one
    loop per PE axis, so AlexNet's 9216-long k was dealt over its innermost 6
    and no rectangle held the rest. Parallel loops are left to
    wse-merge-parallel-roles, which merges them together with the generics
    around that read them. Ops whose maps are not projections (windows) and
    bodies that read loop indices are left alone.
    """

    name = "wse-collapse-loops"
    summary = "Merge the loops a reduction's operands always read side by side into one loop"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            if REDUCTION not in iterator_types(op) or not is_projected(op) or reads_loop_indices(op):
                continue
            groups = loop_groups(op)
            if len(groups) < len(loop_ranges(op)):
                collapse(op, groups)
