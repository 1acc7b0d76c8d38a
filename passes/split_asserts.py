"""wafer-split-asserts: check a `cf.assert` inside an elementwise op once per input element, in an op of its own."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg

from .linalg_builders import iterator_types_attr
from .linalg_queries import indexing_maps, is_projected_map, map_dims
from .pass_base import WaferPass, find_ops


def _condition_slice(body: ir.Block, check: ir.Operation) -> tuple[list[ir.Operation], set[int]] | None:
    """The body ops that compute `check`'s condition, in order, and the block arguments they read.

    None when the slice holds an op with effects (another assert), a loop index
    (an embedding's column, which the op over the inputs alone does not loop
    over) or regions.
    """
    ops, args, pending = [], set(), [check.operands[0]]
    while pending:
        value = pending.pop()
        owner = value.owner
        if isinstance(owner, ir.Block):
            if owner == body:
                args.add(ir.BlockArgument(value).arg_number)
            continue
        if owner.operation.parent != body.owner or any(o == owner.operation for o in ops):
            continue  # defined outside the op (a constant), or already taken
        if owner.name in ("cf.assert", "linalg.index") or len(owner.regions):
            return None  # another check, a loop index the new op would not have, or a region
        ops.append(owner.operation)
        pending.extend(owner.operands)
    return [op for op in body.operations if any(op == o for o in ops)], args


def _broadcast_map(affine_map: ir.AffineMap, shape: list[int]) -> bool:
    """Each result a distinct loop dim, or a constant 0 on a dim of size 1.

    Every element of an operand read through such a map is read by some
    iteration (when no loop is empty): checking each element once checks
    everything the op's iterations would.
    """
    if not is_projected_map(affine_map):
        return False
    dims = [d for d, size in zip(map_dims(affine_map), shape) if d is not None or size != 1]
    return None not in dims and len(set(dims)) == len(dims)


def _static_nonempty(value: ir.Value) -> bool:
    shaped = value.type
    return isinstance(shaped, ir.RankedTensorType) and shaped.has_static_shape and 0 not in shaped.shape


def split_assert(generic: ir.OpView, check: ir.Operation) -> bool:
    """Move `check` (in `generic`'s body) to a new op over the inputs it reads; False if it cannot."""
    body = generic.regions[0].blocks[0]
    found = _condition_slice(body, check)
    if found is None:
        return False
    ops, args = found
    inputs = len(generic.inputs)
    if not args or any(a >= inputs for a in args) or not all(_static_nonempty(v) for v in generic.operands):
        return False
    used = sorted(args)
    maps = [m for a, m in enumerate(indexing_maps(generic)) if a in args]
    shape = list(generic.operands[used[0]].type.shape)
    if any(m != maps[0] or list(generic.operands[a].type.shape) != shape for a, m in zip(used, maps)):
        return False
    if not _broadcast_map(maps[0], shape):
        return False
    rank = len(shape)
    identity = ir.AffineMap.get_identity(rank)
    if not generic.results and len(used) == len(generic.operands) and maps[0] == identity:
        return False  # already a check over its inputs alone
    with ir.InsertionPoint(generic), generic.location:
        identities = ir.ArrayAttr.get([ir.AffineMapAttr.get(identity)] * len(used))
        split = linalg.GenericOp([], [generic.operands[a] for a in used], [], identities,
                                 iterator_types_attr(*["parallel"] * rank))
        block = split.regions[0].blocks.append(*[body.arguments[a].type for a in used])
    mapping = [(body.arguments[a], block.arguments[i]) for i, a in enumerate(used)]
    with ir.InsertionPoint(block):
        for op in [*ops, check]:
            clone = op.clone()
            for i, operand in enumerate(clone.operands):
                for old, new in mapping:
                    if operand == old:
                        clone.operands[i] = new
                        break
            mapping += list(zip(op.results, clone.results))
        linalg.YieldOp([])
    check.erase()
    return True


@dataclass(frozen=True)
class SplitAsserts(WaferPass):
    """Take runtime checks out of elementwise ops so that they vectorize.

    torch-mlir's batch norm asserts `sqrt(var + eps) != 0` inside the
    elementwise op that normalizes every activation, so the check runs once
    per activation and the op cannot become vector code. When the condition
    reads only inputs broadcast along the op's other loops (the per-channel
    variance), the assert moves to a new op over those inputs alone: the same
    check, once per channel. The source op keeps its other work; an op left
    with no results and no checks is dead and canonicalize erases it.
    """

    name = "wafer-split-asserts"
    summary = "Move cf.assert out of linalg.generic bodies into checks over the broadcast inputs they read"

    def apply(self, module: ir.Operation) -> None:
        checks = find_ops(module, lambda op: op.name == "cf.assert" and op.parent is not None
                          and op.parent.name == "linalg.generic")
        for check in checks:
            split_assert(check.parent.opview, check)
