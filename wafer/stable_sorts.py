"""Sorts torch-mlir does not lower, as ones it does, before import.

Wafer sorts stably on both targets (wafer-sort-rows on the CPU, a
lexsort in the WSE interpreter), so `aten.sort.stable` (torch.sort and
torch.argsort with stable=True) is `aten.sort`, ties in their order. torch-mlir
lowers only a sorted `aten.topk`; an unsorted one may return its k values in
any order, so the sorted one is one.
"""

from __future__ import annotations

import torch

aten = torch.ops.aten
STABLE_SORT, TOPK = aten.sort.stable, aten.topk.default


def sorts_to_decompose(program) -> set:
    """The ops of `program` that are one of these sorts."""
    ops = set()
    for node in program.graph.nodes:
        if node.target == STABLE_SORT:
            ops.add(STABLE_SORT)
        elif node.target == TOPK and not (node.args[4] if len(node.args) > 4 else node.kwargs.get("sorted", True)):
            ops.add(TOPK)
    return ops


def stable_sort(x: torch.Tensor, *, stable=None, dim: int = -1, descending: bool = False):
    return aten.sort.default(x, dim, descending)


def topk(x: torch.Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """An unsorted topk as the sorted one; NotImplemented (the op as it is) for a sorted one."""
    return NotImplemented if sorted else aten.topk.default(x, k, dim, largest, True)


DECOMPOSITIONS = {STABLE_SORT: stable_sort, TOPK: topk}
