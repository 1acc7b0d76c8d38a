"""What wafer-pack-matmul packs: a static f32 multiply-accumulate, its loops sorted by role."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir

from .linalg_builders import is_constant, is_named
from .linalg_queries import indexing_maps, is_projected_map, map_dims
from .pass_base import enclosing

_CONTRACTIONS = ("linalg.matmul", "linalg.batch_matmul", "linalg.generic")
_MATMUL_BODY = ["arith.mulf", "arith.addf", "linalg.yield"]
# Loops of A, B and C for named ops that print no maps: (m, n, k) and (b, m, n, k).
_NAMED_LOOPS = {
    "linalg.matmul": [[0, 2], [2, 1], [0, 1]],
    "linalg.batch_matmul": [[0, 1, 3], [0, 3, 2], [0, 1, 2]],
}


@dataclass(frozen=True)
class Contraction:
    """A static f32 op C[b.., m.., n..] += A[b.., m.., k..] * B[b.., k.., n..].

    Each loop has a role: batch (in A, B and C), m (A and C), n (B and C) or
    k (A and B). Several loops may share a role (torch-mlir leaves unit dims
    and split heads around); the longest loop of each of m, n and k is the
    `primary` one that the kernel packs and vectorizes, the others are
    stepped one at a time. `operand_loops` lists the loops indexing A, B, C.
    """

    op: ir.OpView
    roles: list[str]
    extents: list[int]
    operand_loops: list[list[int]]
    primary: dict[str, int]
    constant: tuple[bool, bool]  # whether A and B are constants (weights); `op` is gone once packed

    def extent(self, role: str) -> int:
        return math.prod(e for r, e in zip(self.roles, self.extents) if r == role)

    @property
    def mnk(self) -> tuple[int, int, int]:
        return tuple(self.extents[self.primary[r]] for r in "mnk")

    @property
    def flops(self) -> int:
        """A multiply and an add per point of the loop nest."""
        return 2 * math.prod(self.extents)


def _role(in_a: bool, in_b: bool, in_c: bool) -> str | None:
    return {(1, 1, 1): "b", (1, 0, 1): "m", (0, 1, 1): "n", (1, 1, 0): "k"}.get((in_a, in_b, in_c))


def match_contraction(op: ir.OpView) -> Contraction | None:
    """Recognize a multiply-accumulate over f32 tensors with static shapes."""
    if op.name not in _CONTRACTIONS or len(op.operands) != 3 or len(op.results) != 1:
        return None
    types = [v.type if isinstance(v.type, ir.RankedTensorType) else None for v in op.operands]
    if any(t is None or not t.has_static_shape or str(t.element_type) != "f32" for t in types):
        return None
    if "indexing_maps" in op.attributes:
        if op.name == "linalg.generic" and [o.name for o in op.regions[0].blocks[0].operations] != _MATMUL_BODY:
            return None
        operand_loops = [map_dims(m) if is_projected_map(m) else [None] for m in indexing_maps(op)]
        if any(None in loops for loops in operand_loops):  # only loop dims, no constant
            return None
    elif op.name in _NAMED_LOOPS:
        operand_loops = _NAMED_LOOPS[op.name]
    else:
        return None
    a, b, c = (set(loops) for loops in operand_loops)
    count = len(a | b | c)
    roles = [_role(d in a, d in b, d in c) for d in range(count)]
    if None in roles or not {"m", "n", "k"} <= set(roles):
        return None
    extents = [0] * count
    for loops, t in zip(operand_loops, types):
        for position, size in zip(loops, t.shape):
            extents[position] = size
    primary = {r: max((d for d in range(count) if roles[d] == r), key=lambda d: (extents[d], d)) for r in "mnk"}
    return Contraction(op, roles, extents, operand_loops, primary,
                       (is_constant(op.operands[0]), is_constant(op.operands[1])))


def in_parallel_loop(op: ir.OpView) -> bool:
    """Whether `op` is nested in an scf.forall, whose iterations the threads already share."""
    return enclosing(op, "scf.forall") is not None


def is_temporary(value: ir.Value) -> bool:
    """Whether `value`, seen through reshapes and slices, is computed in the
    call: an op's result that is no constant, not an argument of the function."""
    while is_named(value.owner, "tensor.collapse_shape", "tensor.expand_shape", "tensor.extract_slice"):
        value = value.owner.operands[0]
    return isinstance(value.owner, ir.OpView) and not is_constant(value)
