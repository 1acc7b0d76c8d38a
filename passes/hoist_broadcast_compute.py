"""wafer-hoist-broadcast-compute: compute what a generic's body derives from broadcast reads once per read element."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .linalg_builders import (
    affine_maps,
    clone_into,
    is_constant,
    iterator_types_attr,
    with_extra_inputs,
    without_unread_inputs,
)
from .linalg_queries import PARALLEL, indexing_maps, iterator_types, loop_ranges
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops


def _costly(op: ir.Operation) -> bool:
    """An op worth computing once instead of per element: a division or a math function."""
    return op.name == "arith.divf" or op.name.startswith("math.")


@dataclass(frozen=True)
class HoistBroadcastCompute(WaferPass):
    """Move body ops that depend only on broadcast reads into a generic over fewer loops.

    linalg-fuse-elementwise-ops fuses a producer into every consumer, with no
    cost model: squeeze-excite's sigmoid of 480 channel scales, fused into
    the multiply by the [1, 480, 14, 14] input, ran 196 times per channel
    (EfficientNet's SE blocks 4-8x slower than ONNX Runtime); layer norm's
    rsqrt of a row's variance ran once per element. Here, an op of an
    all-parallel generic's body whose operands come only from inputs read
    through the same loops, a strict subset of the generic's, is computed by
    a new generic over just those loops, and the body reads its result
    through a broadcast map. Only chains holding a division or a math
    function move: an add or a multiply costs less than the extra read.
    Chains of constants only (batch norm's statistics) stay: the conv
    epilogues take those as per-channel constants.

    Options:
      reductions: hoist out of generics that reduce, not out of all-parallel
        ones, and move every chain, cheap or not. For the WSE target: fused
        into a matmul's operand, GPT-2's bias add and GELU run once per
        multiply-add on a PE, n times per element; hoisted, once per element,
        as the previous matmul's epilogue. Its row-wise regions keep their
        cheap per-row ops: hoisted, each would become a region of its own.
    """

    name = "wafer-hoist-broadcast-compute"
    summary = "Compute a generic body's ops on broadcast reads once per read element"

    reductions: bool = False

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            while (hoisted := _hoistable(op, self.reductions)) is not None:
                op = without_unread_inputs(_hoist(op, *hoisted))


def _hoistable(op: ir.Operation, reductions: bool):
    """A body value that depends on a strict subset of the loops, costly unless
    `reductions`, as `_hoist`'s arguments: (value, those loops, the body ops
    computing it, the loop ranges, the input count, the indexing maps); None
    if there is none."""
    if all(kind == PARALLEL for kind in iterator_types(op)) == reductions:
        return None
    ranges = loop_ranges(op)
    if ranges is None or len(op.results) != 1:
        return None
    n_inputs = list(ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"]))[0]
    maps = indexing_maps(op)
    if not all(isinstance(e, (ir.AffineDimExpr, ir.AffineConstantExpr)) for m in maps for e in m.results):
        return None  # a window gather's d2 + d4 reads no single loop
    block = op.regions[0].blocks[0]
    every_loop = frozenset(range(len(ranges)))
    # The loops each body value depends on (None: it reads an output); values
    # defined above the generic depend on none.
    loops: dict = {arg: None for arg in block.arguments}
    for arg, affine_map in zip(list(block.arguments)[:n_inputs], maps):
        loops[arg] = frozenset(e.position for e in affine_map.results if isinstance(e, ir.AffineDimExpr))
    chains: dict = {}  # hoistable body value -> the body ops computing it
    for inner in block.operations:
        if inner.name == "linalg.yield":
            continue
        read = [loops.get(v, frozenset()) for v in inner.operands]
        dependent = None in read or inner.name == "linalg.index" or len(inner.results) != 1 or inner.regions
        used = every_loop if dependent else frozenset().union(*read)
        for result in inner.results:
            loops[result] = used
        if used != every_loop:
            chains[inner.result] = [c for v in inner.operands if v in chains for c in chains[v]] + [inner]
    constants = {arg for arg, operand in zip(block.arguments, op.operands) if is_constant(operand)}

    def leaves(value) -> bool:
        """Is `value` read by an op that depends on more loops, or by one with no
        results (a cf.assert)? A widening (`arith.extf`) of it that leaves counts:
        the body widens a 16-bit read as it reads it (`@fmachs` on a WSE), where
        hoisted, the wide copy would double the operand's bytes."""
        return any(use.owner.name == "linalg.yield" or not use.owner.results
                   or loops.get(use.owner.results[0]) != loops[value]
                   or (use.owner.name == "arith.extf" and leaves(use.owner.results[0]))
                   for use in value.uses)

    for value, chain in chains.items():
        if all(v in constants or v not in loops for c in chain for v in c.operands if v not in chains):
            continue  # weights only (batch norm's rsqrt of the variance): left to the epilogue passes
        if chain[-1].name == "arith.extf":
            continue  # hoisted unwidened, if at all
        if (reductions or any(_costly(c) for c in chain)) and leaves(value):
            return value, sorted(loops[value]), list(dict.fromkeys(chain)), ranges, n_inputs, maps
    return None


def _shape(extents) -> str:
    return "x".join(str(e) for e in extents)


def _hoist(op, value, kept, chain, ranges, n_inputs, maps) -> ir.Operation:
    """A generic over loops `kept` computes `value`; `op` reads it instead."""
    block = op.regions[0].blocks[0]
    args = list(block.arguments)[:n_inputs]
    position = {loop: i for i, loop in enumerate(kept)}
    used = [i for i, arg in enumerate(args) if any(u.owner in chain for u in arg.uses)]
    element = value.type
    with ir.InsertionPoint(op), op.location:
        empty = tensor.EmptyOp([ranges[loop] for loop in kept], element)
        in_maps = [[ir.AffineDimExpr.get(position[e.position]) if isinstance(e, ir.AffineDimExpr) else e
                    for e in maps[i].results] for i in used]
        dims = [ir.AffineDimExpr.get(i) for i in range(len(kept))]
        hoisted = linalg.GenericOp([empty.result.type], [op.operands[i] for i in used], [empty.result],
                                   affine_maps(len(kept), *in_maps, dims), iterator_types_attr(*["parallel"] * len(kept)))
        new_block = hoisted.regions[0].blocks.append(*[args[i].type for i in used], element)
        mapping = {args[i]: new_block.arguments[j] for j, i in enumerate(used)}
        with ir.InsertionPoint(new_block):
            clone_into(chain, mapping)
            linalg.YieldOp([mapping[value]])
    names = ", ".join(dict.fromkeys(c.name for c in chain))
    how_often = f"once per {_shape(ranges[loop] for loop in kept)} of" if kept else "once for all of"
    record_strategy(op, f"{names} {how_often} a {_shape(ranges)} generic")
    read = ir.AffineMap.get(len(ranges), 0, [ir.AffineDimExpr.get(loop) for loop in kept])
    generic, (hoisted_arg,) = with_extra_inputs(op, [hoisted.result], [read])
    value.replace_all_uses_with(hoisted_arg)
    for inner in reversed(chain):
        if not any(True for _ in inner.result.uses):
            inner.erase()
    return generic
