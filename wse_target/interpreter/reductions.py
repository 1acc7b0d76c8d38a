"""How a reduction generic's outputs are reduced: by a combiner numpy reduces
with, as an arg-max or arg-min of another output, or, for any other body, one
point of the reduction loops at a time."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from torch_mlir import ir

from .body import COMBINERS, run_block
from .values import Lookup

if TYPE_CHECKING:
    from .structured import Space


@dataclass
class _Reduction:
    """How a reduction generic computes one output.

    A combined output yields `ufunc(init, expr)`. An arg-reduction output (the index
    of an arg-max) yields `select(cmp(x, partner's init), payload, init)`, where the
    partner output reduces x by `ufunc`: the payload at the first (or last) extreme.
    `skipped` maps the body ops this replaces to the value to yield instead.
    """

    ufunc: np.ufunc
    expr: ir.Value | None
    skipped: dict[ir.Value, ir.Value | None]
    partner: int | None = None
    first: bool = True


# "x <relation> running value" of a compare op, by (op name, predicate): (greater?, strict?).
_ARG_RELATIONS = {
    ("arith.cmpf", 2): (True, True), ("arith.cmpf", 9): (True, True),  # ogt, ugt
    ("arith.cmpf", 3): (True, False), ("arith.cmpf", 10): (True, False),  # oge, uge
    ("arith.cmpf", 4): (False, True), ("arith.cmpf", 11): (False, True),  # olt, ult
    ("arith.cmpf", 5): (False, False), ("arith.cmpf", 12): (False, False),  # ole, ule
    ("arith.cmpi", 4): (True, True), ("arith.cmpi", 5): (True, False),  # sgt, sge
    ("arith.cmpi", 2): (False, True), ("arith.cmpi", 3): (False, False),  # slt, sle
}
MAXIMA, _MINIMA = (np.maximum, np.fmax), (np.minimum, np.fmin)


def _op(value: ir.Value) -> ir.Operation | None:
    owner = value.owner
    return owner.operation if isinstance(owner, (ir.Operation, ir.OpView)) else None


def _combined(block: ir.Block, out_args: list[ir.Value], i: int) -> _Reduction | None:
    """Output i as `combine(init, expr)`, if it is."""
    producer = _op(list(block.operations)[-1].operands[i])
    if producer is None or producer.name not in COMBINERS:
        return None
    lhs, rhs = producer.operands
    expr = rhs if lhs == out_args[i] else lhs if rhs == out_args[i] else None
    if expr is None or expr == out_args[i]:
        return None
    return _Reduction(COMBINERS[producer.name], expr, {producer.result: expr})


def reduce_in_order(op, block: ir.Block, bound: dict, accumulators: dict, space: Space, lookup: Lookup,
                     loop_index: Callable[[int], np.ndarray]) -> list[np.ndarray]:
    """The outputs of a reduction none of whose combiners `reduction_of` knows
    (max pooling's index of the first maximum in its window): the body runs
    once per point of the reduction loops, in loop order, on all parallel
    points at once, each output's accumulator carried to the next point.
    `loop_index` gives a parallel loop's indices over the whole space."""
    g = space.g
    for point in itertools.product(*(range(space.ranges[d]) for d in space.reductions)):
        at = dict(zip(space.reductions, point))

        def pick(array: np.ndarray) -> np.ndarray:
            return array[tuple(slice(at[d], at[d] + 1) if d in at and array.shape[g + d] > 1 else slice(None)
                               for d in range(-g, len(space.ranges)))]

        def index_at(dim: int) -> np.ndarray:
            if dim in at:
                return np.full([1] * (g + len(space.ranges)), at[dim], dtype=np.int64)
            return loop_index(dim)

        now = {arg: pick(x) for arg, x in bound.items()} | accumulators
        yielded = run_block(op, block, now, lookup, index_at)
        accumulators = {arg: np.broadcast_to(y, acc.shape).astype(acc.dtype)
                        for (arg, acc), y in zip(accumulators.items(), yielded)}
    return list(accumulators.values())


def reduction_of(block: ir.Block, out_args: list[ir.Value], i: int) -> _Reduction | None:
    """Recognize how output i of a reduction generic is reduced; None if by none of
    the known combiners or an arg-max/min of another output."""
    combined = _combined(block, out_args, i)
    if combined is not None:
        return combined
    select = _op(list(block.operations)[-1].operands[i])
    compare = _op(select.operands[0]) if select is not None and select.name == "arith.select" else None
    if compare is not None and select.operands[2] == out_args[i] and compare.name in ("arith.cmpf", "arith.cmpi"):
        greater, strict = _ARG_RELATIONS.get((compare.name, ir.IntegerAttr(compare.attributes["predicate"]).value),
                                             (None, None))
        operands = tuple(compare.operands)
        for k in range(len(out_args)):
            partner = _combined(block, out_args, k) if k != i and greater is not None else None
            if partner is None or out_args[k] not in operands or partner.expr not in operands:
                continue
            x_greater = greater if operands == (partner.expr, out_args[k]) else not greater
            if partner.ufunc in (MAXIMA if x_greater else _MINIMA):
                skipped = {select.result: select.operands[1], compare.result: None}
                return _Reduction(partner.ufunc, None, skipped, partner=k, first=strict)
    return None


def product_of(outputs: list[_Reduction]) -> ir.Operation | None:
    """The multiply of a one-output body `init + a * b`, if it is one."""
    if len(outputs) != 1 or outputs[0].ufunc is not np.add or outputs[0].expr is None:
        return None
    product = _op(outputs[0].expr)
    return product if product is not None and product.name in ("arith.mulf", "arith.muli") else None
