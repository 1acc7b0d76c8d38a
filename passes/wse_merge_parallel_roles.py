"""wse-merge-parallel-roles: merge a contraction's rows (or columns) that span several loops, and its neighbours'."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..wse_target.distribution import as_contraction
from .linalg_queries import PARALLEL, indexing_maps, is_projected, iterator_types, map_dims, reads_loop_indices
from .pass_base import WaferPass, find_ops
from .wse_collapse_loops import collapse
from .wse_group_loops import role_loops, side_by_side


def _reads_whole(dims: list[int | None], loops: tuple[int, ...]) -> bool:
    """Whether an operand (`dims`: the loop each of its dims reads) reads all of
    `loops` side by side in their order, or none of them."""
    read = set(loops) & set(dims)
    return not read or (read == set(loops) and side_by_side(dims, list(loops)))


def _mergeable(op: ir.Operation, loops: tuple[int, ...]) -> bool:
    """Whether `op` is a generic whose `loops` are parallel and that every operand
    reads whole (see `_reads_whole`): merging them reshapes each operand."""
    if op.name != "linalg.generic" or not is_projected(op) or reads_loop_indices(op):
        return False
    kinds = iterator_types(op)
    return (all(loop is not None and kinds[loop] == PARALLEL for loop in loops) and len(set(loops)) == len(loops)
            and all(_reads_whole(map_dims(m), loops) for m in indexing_maps(op)))


def _made_dims(value: ir.Value) -> list[int | None] | None:
    """The loops of the projected generic that makes `value` its dims are in; None
    for a value no such generic makes."""
    owner = value.owner
    if not (isinstance(owner, ir.OpView) and owner.operation.name == "linalg.generic" and is_projected(owner)):
        return None
    position = len(owner.operands) - len(owner.results) + list(owner.results).index(value)
    return map_dims(indexing_maps(owner)[position])


def _follows_unmerged(op: ir.Operation, loops: tuple[int, ...]) -> bool:
    """Whether a generic other than a contraction reads `loops` of a tensor that a
    generic makes whose loops for it cannot merge alike (a convolution's
    windows): merged, it would read that producer through a reshape and run in
    a region of its own, where it was the producer's epilogue."""
    if as_contraction(op) is not None:
        return False
    maps = [map_dims(m) for m in indexing_maps(op)]
    for value, dims in zip(op.operands, maps):
        owner = value.owner
        if loops[0] not in dims or not (isinstance(owner, ir.OpView) and owner.operation.name == "linalg.generic"):
            continue
        made = _made_dims(value)
        first = dims.index(loops[0])
        theirs = None if made is None else tuple(made[first:first + len(loops)])
        if theirs is None or None in theirs or not _mergeable(owner.operation, theirs):
            return True
    return False


def _neighbours(op: ir.Operation) -> list[tuple[list[int | None], ir.Operation, list[int | None]]]:
    """The generics that make `op`'s operands or read its results: for each, the
    loops the tensor's dims are in `op`, the generic, and the loops they are in
    it. Not the other readers of an operand: ops that share an input, or an
    empty tensor they write over, need not be merged alike."""
    maps = [map_dims(m) for m in indexing_maps(op)]
    found = []
    for value, dims in zip(op.operands, maps):
        made = _made_dims(value)
        if made is not None:
            found.append((dims, value.owner.operation, made))
    for value, dims in zip(op.results, maps[len(op.operands) - len(op.results):]):
        for use in value.uses:
            user = use.owner.operation if isinstance(use.owner, ir.OpView) else use.owner
            if user.name == "linalg.generic" and is_projected(user):
                found.append((dims, user, map_dims(indexing_maps(user)[use.operand_number])))
    return found


def merged_groups(module: ir.Operation) -> dict[ir.Operation, tuple[int, ...]]:
    """The loops to merge in each generic: each contraction's parallel role that
    spans two or more loops every operand reads side by side, and the same
    dims of the tensors it makes and reads, followed through the generics that
    read all of them whole (its epilogue, the fill of its output, the next
    contraction), where no other loops were chosen for them first."""
    chosen: dict[ir.Operation, tuple[int, ...]] = {}
    for op in find_ops(module, lambda op: op.name == "linalg.generic"):
        if op in chosen or not is_projected(op) or reads_loop_indices(op) or as_contraction(op) is None:
            continue
        kinds = iterator_types(op)
        for role in role_loops(op):
            loops = tuple(role)
            if kinds[loops[0]] != PARALLEL or not _mergeable(op, loops) or op in chosen:
                continue
            chosen[op] = loops
            work = [op]
            while work:
                current = work.pop()
                for dims, neighbour, their_dims in _neighbours(current):
                    if chosen[current][0] not in dims or neighbour in chosen:
                        continue
                    first = dims.index(chosen[current][0])
                    theirs = tuple(their_dims[first:first + len(loops)])
                    if None in theirs or not _mergeable(neighbour, theirs) or _follows_unmerged(neighbour, theirs):
                        continue
                    chosen[neighbour] = theirs
                    work.append(neighbour)
    return chosen


@dataclass(frozen=True)
class WseMergeParallelRoles(WaferPass):
    """Merge a contraction's rows (or columns) where they span several loops that
    every operand reads side by side, in order, into one loop; and the same
    loops of the generics around it that read those dims whole.

    The wse target gives each role of a contraction one loop: of ConvNeXt's
    and Swin's MLPs over a 56x56 image, m is one loop of 56 rows, and every
    PE of the region steps through the other 56 in instruction rows of one
    element. Merged, m is 3,136 rows. Merging a contraction alone would put
    a reshape between it and its epilogue (the bias and GELU after it, the
    residual add), which then run in regions of their own; so the merge
    follows the tensors through every generic that reads those dims whole,
    and the reshapes between them cancel (canonicalize). A generic that does
    not (a window, a gather) keeps its loops and reads through a reshape.
    """

    name = "wse-merge-parallel-roles"
    summary = "Merge a contraction's multi-loop rows or columns into one loop, with its neighbours' loops"

    def apply(self, module: ir.Operation) -> None:
        for op, loops in merged_groups(module).items():
            groups = [list(loops) if loop == loops[0] else [loop]
                      for loop in range(len(iterator_types(op))) if loop not in loops[1:]]
            collapse(op, groups)
