"""wse-group-loops: give a contraction role whose loops an input reads out of order one loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir

from ..wse_target.distribution import as_contraction
from .constant_pack import ConstantReader
from .linalg_builders import copied_through
from .linalg_queries import PARALLEL, indexing_maps, is_projected, iterator_types, map_dims, reads_loop_indices
from .pass_base import WaferPass, find_ops
from .wse_collapse_loops import collapse
from .wse_transpose_weights import transposed_constant


def role_loops(op: ir.Operation) -> list[list[int]]:
    """Each set of two or more loops of one iterator type that the same
    operands read, but not all of them (a batch, never split): the loops one
    role of the contraction (m, n or k) spans. Each in the output's order
    (parallel loops) or that of the first input that reads them."""
    maps = [map_dims(m) for m in indexing_maps(op)]
    by_readers: dict[tuple, list[int]] = {}
    for loop, kind in enumerate(iterator_types(op)):
        readers = tuple(i for i, dims in enumerate(maps) if loop in dims)
        by_readers.setdefault((readers, kind == PARALLEL), []).append(loop)
    return [sorted(loops, key=(maps[-1] if parallel else maps[readers[0]]).index)
            for (readers, parallel), loops in by_readers.items() if 1 < len(loops) and len(readers) < len(maps)]


def side_by_side(dims: list[int | None], role: list[int]) -> bool:
    """Whether an operand (`dims`: the loop each of its dims reads) reads the
    loops of `role` it reads side by side, in the role's order."""
    read = [loop for loop in dims if loop in role]
    return not read or (read == [loop for loop in role if loop in dims]
                        and dims[dims.index(read[0]):dims.index(read[0]) + len(read)] == read)


def grouped_order(dims: list[int | None], roles: list[list[int]]) -> list[int]:
    """The order of an operand's dims (`dims`: the loop each reads) that puts
    each of `roles` side by side, in the role's order, where its first loop was."""
    order: list[int] = []
    for position, loop in enumerate(dims):
        if position not in order:
            role = next((role for role in roles if loop in role), None)
            order += [position] if role is None else [dims.index(member) for member in role]
    return order


def permuted_copy(value: ir.Value, order: list[int]) -> ir.Value:
    """`value` copied with its dims in `order`: data movement between regions,
    as wse-partition's relayouts are."""
    shape = ir.RankedTensorType(value.type).shape
    return copied_through(value, [shape[p] for p in order], [ir.AffineDimExpr.get(order.index(p))
                                                                for p in range(len(shape))])


@dataclass(frozen=True)
class WseGroupLoops(WaferPass):
    """Where an input of a contraction reads the loops of one role (m, n or
    k) apart or in another order than the output (or the first input) does,
    give it a layout that reads them side by side, in that order, and merge
    them into one loop: a weight transposed at compile time, an activation
    through a copy (data movement between regions).

    Elementwise fusion folds the transposes around a linear layer into its
    loops. Swin's window partition writes its q, k, v projection's rows as
    (window row, window column, row, column) and reads its input as (window
    row, row, window column, column); the wse target gives each role one
    loop, took the longest, 7 of 3,136 rows, for m and stepped through the
    rest on every PE. A role whose loops every input already reads in order
    is left to wse-merge-parallel-roles (rows and columns) or
    wse-collapse-loops (reductions).
    """

    name = "wse-group-loops"
    summary = "Lay out a contraction's inputs so that each role's loops are side by side, and merge them"

    def apply(self, module: ir.Operation) -> None:
        reader = ConstantReader(module)
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            if not is_projected(op) or reads_loop_indices(op) or as_contraction(op) is None:
                continue
            maps = indexing_maps(op)
            roles = [role for role in role_loops(op) if side_by_side(map_dims(maps[-1]), role)]
            reordered = []
            for position in range(len(op.operands) - len(op.results)):
                dims = map_dims(maps[position])
                apart = [role for role in roles if not side_by_side(dims, role)]
                if not apart:
                    continue
                reordered += [role for role in apart if role not in reordered]
                order = grouped_order(dims, apart)
                value, array = op.operands[position], reader.array(op.operands[position])
                with ir.InsertionPoint(op), op.location:
                    op.operands[position] = (permuted_copy(value, order) if array is None
                                             else transposed_constant(value, np.transpose(array, order)))
                maps[position] = ir.AffineMap.get(maps[position].n_dims, 0, [maps[position].results[p] for p in order])
            if not reordered:
                continue
            op.attributes["indexing_maps"] = ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps])
            merged = {loop: role for role in reordered for loop in role}
            collapse(op, [merged.get(loop, [loop]) for loop in range(len(iterator_types(op)))
                          if loop not in merged or loop == merged[loop][0]])
