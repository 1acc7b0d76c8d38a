"""Structured ops over their iteration space: every operand broadcast to the
loop nest through its indexing map, the body run once on those arrays."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from torch_mlir import ir

from wafer.passes.linalg_queries import indexing_maps, is_projected_map, map_dims, reduction_dims

from .body import AFFINE_OPS, run_block
from .reductions import MAXIMA, product_of, reduce_in_order, reduction_of
from .values import fail, fresh, grid_shape, numpy_dtype, static_shape


# An indexing map's results: a loop dim, or None for the constant 0.
Map = tuple[int | None, ...]


def projected_maps(op: ir.Operation) -> list[Map]:
    """The op's indexing maps, which must be projected permutations (constant-0 results allowed)."""
    maps = []
    for affine_map in indexing_maps(op):
        if not is_projected_map(affine_map):
            raise fail(op, f"indexing map {affine_map} is not a projected permutation")
        maps.append(tuple(map_dims(affine_map)))
    return maps


@dataclass
class Space:
    """The iteration space of a structured op: grid dims, then one axis per loop.

    An operand moves into the space by its indexing map (size 1 on loops it does not
    use), so the body's arithmetic broadcasts over the whole loop nest.
    """

    op: ir.Operation
    g: int
    grid: tuple[int, ...]
    ranges: list[int]
    reductions: tuple[int, ...]

    @classmethod
    def of(cls, op, arrays: list[np.ndarray], maps: list[Map], g: int, reductions) -> Space:
        # A generic over no loops (a one-element op after unit dims fold away) has no ranges.
        ranges = [None] * (1 + max((d for results in maps for d in results if d is not None), default=-1))
        for array, results in zip(arrays, maps):
            for axis, dim in enumerate(results):
                if dim is not None:
                    ranges[dim] = array.shape[g + axis]
        if None in ranges:
            raise fail(op, "has a loop that no operand's shape bounds")
        return cls(op, g, grid_shape(arrays, g), ranges, tuple(reductions))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grid + tuple(self.ranges)

    def enter(self, array: np.ndarray, results: Map) -> np.ndarray:
        """An operand as an array over the space (a view): index 0 at constant results."""
        array = array[(slice(None),) * self.g + tuple(0 if d is None else slice(None) for d in results)]
        dims = [d for d in results if d is not None]
        order = sorted(range(len(dims)), key=dims.__getitem__)
        array = array.transpose(*range(self.g), *(self.g + i for i in order))
        return np.expand_dims(array, tuple(self.g + d for d in range(len(self.ranges)) if d not in dims))

    def leave(self, value: np.ndarray, results: Map, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A value over the space (size 1 on reduced loops) as a fresh output array."""
        g, dims = self.g, [d for d in results if d is not None]
        value = np.asarray(value)
        value = value.reshape((1,) * (g + len(self.ranges) - value.ndim) + value.shape)
        dropped = [d for d in range(len(self.ranges)) if d not in dims]
        if any(value.shape[g + d] != 1 for d in dropped):
            raise fail(self.op, "writes one output element from several iterations")
        if any(size != 1 for d, size in zip(results, shape) if d is None):
            raise fail(self.op, "has a constant output index into a dim larger than 1")
        value = value.squeeze(tuple(g + d for d in dropped)) if dropped else value
        kept = sorted(dims)
        value = value.transpose(*range(g), *(g + kept.index(d) for d in dims))
        value = np.expand_dims(value, tuple(g + i for i, d in enumerate(results) if d is None))
        return fresh(value, self.grid + shape, dtype)

    def reduce(self, value: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
        """Reduce a value over the space along the reduction loops, keeping them as size 1."""
        full = np.broadcast_to(value, np.broadcast_shapes(self.shape, np.shape(value)))
        axes = tuple(self.g + d for d in self.reductions)
        return ufunc.reduce(full, axis=axes, keepdims=True, dtype=full.dtype)

    def arg_reduce(self, x, x_init, payload, payload_init, ufunc: np.ufunc, first: bool) -> np.ndarray:
        """The payload where x reaches its extreme (first or last such point in loop order)
        if that beats x_init, else payload_init: a sequential arg-max/min, in one pass."""
        if np.isnan(x).any() or np.isnan(x_init).any():
            raise fail(self.op, "an arg-max/min over NaN is not supported")
        extreme = self.reduce(x, ufunc)
        greater = ufunc in MAXIMA
        beats = (extreme > x_init if greater else extreme < x_init) if first else (
            extreme >= x_init if greater else extreme <= x_init)
        axes = tuple(self.g + d for d in self.reductions)

        def flat(value):
            """Reduction loops last, as one axis."""
            value = np.moveaxis(np.broadcast_to(value, self.shape), axes,
                                tuple(range(-len(axes), 0)))
            return value.reshape(value.shape[: value.ndim - len(axes)] + (-1,))

        hits = flat(np.broadcast_to(x, self.shape) == extreme)
        where = hits.argmax(-1) if first else hits.shape[-1] - 1 - hits[..., ::-1].argmax(-1)
        picked = np.take_along_axis(flat(payload), where[..., None], -1)
        return np.where(beats, picked.reshape(extreme.shape), payload_init)

    def contract(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """sum over the reduction loops of a * b, both over the space, by np.matmul if it can.

        Loops along which a and b both vary are batch dims, loops along which only one
        varies its free (M or N) dims, and the reduction loops K. A reduction loop that
        one of them does not vary along leaves the sum to numpy over the whole space.
        """
        g, n_loops = self.g, len(self.ranges)
        a, b = (np.reshape(x, (1,) * (g + n_loops - np.ndim(x)) + np.shape(x)) for x in (a, b))
        if any(x.shape[g + d] != self.ranges[d] for x in (a, b) for d in self.reductions):
            return self.reduce(a * b, np.add)
        a_dims, b_dims = ([d for d in range(n_loops) if x.shape[g + d] != 1 or d in self.reductions]
                          for x in (a, b))
        batch = [d for d in a_dims if d in b_dims and d not in self.reductions]
        m = [d for d in a_dims if d not in b_dims]
        n = [d for d in b_dims if d not in a_dims]
        k = list(self.reductions)

        def as_matrix(x, dims, rows, cols):
            x = x.squeeze(tuple(g + d for d in range(n_loops) if d not in dims))
            x = x.transpose(*range(g), *(g + dims.index(d) for d in batch + rows + cols))
            return x.reshape(x.shape[:g] + tuple(self.ranges[d] for d in batch)
                             + (math.prod(self.ranges[d] for d in rows), math.prod(self.ranges[d] for d in cols)))

        product = np.matmul(as_matrix(a, a_dims, m, k), as_matrix(b, b_dims, k, n))
        order = batch + m + n
        product = product.reshape(product.shape[:g] + tuple(self.ranges[d] for d in order))
        product = product.transpose(*range(g), *(g + order.index(d) for d in sorted(order)))
        return np.expand_dims(product, tuple(g + d for d in range(n_loops) if d not in order))


def inits_of(op: ir.Operation) -> list[ir.Value]:
    """The init/out operands of a structured op: the last ones, counted by its segment sizes."""
    n_inits = list(op.attributes["operandSegmentSizes"])[1] if "operandSegmentSizes" in op.attributes else 1
    return list(op.operands)[len(op.operands) - n_inits:]


def structured_parts(op: ir.Operation, operands: list[np.ndarray]):
    """(inputs, inits, init shapes, init dtypes) of a structured op."""
    inits = inits_of(op)
    n_in = len(operands) - len(inits)
    shapes = [static_shape(op, v.type) for v in inits]
    return operands[:n_in], operands[n_in:], shapes, [numpy_dtype(op, v.type) for v in inits]


def eval_generic(op, operands, g, lookup) -> list[np.ndarray]:
    """linalg.generic: the body once over the whole space; reductions by their combiner.
    An input read through affine expressions (an im2col gather's, a depthwise
    convolution's windows) enters the space by one fancy index per input dim."""
    affine_maps = indexing_maps(op)
    ins, inits, shapes, dtypes = structured_parts(op, operands)
    for affine_map in affine_maps[len(ins):]:
        if not is_projected_map(affine_map):
            raise fail(op, f"output indexing map {affine_map} is not a projected permutation")
    projected = [i for i, m in enumerate(affine_maps) if is_projected_map(m)]
    maps = {i: tuple(map_dims(affine_maps[i])) for i in projected}
    reductions = reduction_dims(op)
    space = Space.of(op, [operands[i] for i in projected], list(maps.values()), g, reductions)
    space = replace(space, grid=grid_shape(operands, g))

    def enter(i: int) -> np.ndarray:
        if i in maps:
            return space.enter(operands[i], maps[i])
        # The op's verifier has checked that every index lies inside the input.
        return operands[i][(slice(None),) * g + tuple(_index_array(op, e, space) for e in affine_maps[i].results)]

    block = op.regions[0].blocks[0]
    in_args, out_args = list(block.arguments)[: len(ins)], list(block.arguments)[len(ins):]
    bound = {arg: enter(i) for i, arg in enumerate(in_args)}
    out_maps = [maps[i] for i in range(len(ins), len(operands))]

    def loop_index(dim: int) -> np.ndarray:
        shape = [1] * (g + len(space.ranges))
        shape[g + dim] = space.ranges[dim]
        return np.arange(space.ranges[dim], dtype=np.int64).reshape(shape)

    if not reductions:
        bound |= {arg: enter(len(ins) + i) for i, arg in enumerate(out_args)}
        yielded = run_block(op, block, bound, lookup, loop_index)
        return [space.leave(y, m, s, t) for y, m, s, t in zip(yielded, out_maps, shapes, dtypes)]

    outputs = [reduction_of(block, out_args, i) for i in range(len(out_args))]
    entered = [space.enter(init, m) for init, m in zip(inits, out_maps)]
    if None in outputs:
        reduced = reduce_in_order(op, block, bound, dict(zip(out_args, entered)), space, lookup, loop_index)
        return [space.leave(v, m, s, t) for v, m, s, t in zip(reduced, out_maps, shapes, dtypes)]
    product = product_of(outputs)
    if product is not None:  # a contraction: sum(a * b) through matmul
        skipped = outputs[0].skipped | {product.result: None}
        a, b = run_block(op, block, bound, lookup, loop_index, skipped, wanted=list(product.operands))
        reduced = [space.contract(a, b)]
    else:
        skipped = {k: v for r in outputs for k, v in r.skipped.items()}
        yielded = run_block(op, block, bound, lookup, loop_index, skipped)
        reduced = [
            space.reduce(y, r.ufunc) if r.partner is None
            else space.arg_reduce(yielded[r.partner], entered[r.partner], y, entered[i], r.ufunc, r.first)
            for i, (r, y) in enumerate(zip(outputs, yielded))
        ]
    return [
        space.leave(value if r.partner is not None else r.ufunc(init, value), m, shape, dtype)
        for r, value, init, m, shape, dtype in zip(outputs, reduced, entered, out_maps, shapes, dtypes)
    ]


def _index_array(op: ir.Operation, expr: ir.AffineExpr, space: Space) -> np.ndarray:
    """An affine expression of the loop indices, as an int array over the loops (size 1
    on loops it does not read): d1 * 2 + d4 becomes arange(OH)[:, None] * 2 + arange(KH)."""
    n_loops = len(space.ranges)
    if isinstance(expr, ir.AffineDimExpr):
        shape = [1] * n_loops
        shape[expr.position] = space.ranges[expr.position]
        return np.arange(space.ranges[expr.position], dtype=np.int64).reshape(shape)
    if isinstance(expr, ir.AffineConstantExpr):
        return np.full((1,) * n_loops, expr.value, dtype=np.int64)
    if type(expr) in AFFINE_OPS:
        lhs, rhs = (_index_array(op, side, space) for side in (expr.lhs, expr.rhs))
        return AFFINE_OPS[type(expr)](lhs, rhs)
    raise fail(op, f"affine expression {expr} is not supported")
