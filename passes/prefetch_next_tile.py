"""wafer-prefetch-next-tile: fetch the next weight tile while the register blocks reuse this one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import affine, memref

from .cpu_target import element_bytes
from .linalg_builders import index_constant
from .linalg_queries import constant_int
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops
from .prefetch_panels import STREAMED_BYTES
from .prefetch_rows import viewed_buffer, viewed_bytes

_LINE_BYTES = 64
_LOOPS = ("scf.for", "scf.parallel")
# The most prefetches a step issues: the kernels' steps measured issue 1 to 3; where
# the reuse has fewer steps than that many lines, the tile's first lines are prefetched.
_MOST_LINES_A_STEP = 8


@dataclass(frozen=True)
class PrefetchNextTile(WaferPass):
    """Prefetch the weights that a kernel's next tile step reads, a few cache
    lines in each step of the loops that reuse the weights of this one.

    A packed matmul reads each tile of its constant B (a k tile of a block of
    columns) once per register block of rows, and a direct convolution each
    block of filters once per block of output rows: the first block waits
    for the tile to come from memory, where a model's weights do not stay in
    cache between calls, and the blocks after read it from cache while memory
    idles. Spreading the next tile's lines over those blocks' steps overlaps
    the two (bench/weight_streaming.py times kernels with their weights in
    memory and in cache).

    Runs after bufferization. It looks at reads (a subview or a vector read)
    of a constant (`memref.get_global`) of at least 256 KB inside the
    innermost loop of static trip count around them, the step loop: its
    index picks a slab of the weights (the dims from the first it offsets
    on, contiguous). Going out from the step loop, loops that move the read
    before any that does not pick which slab (a block of B's columns); loops
    that do not move it reuse the tile; the first loop after them that moves
    it is the tile loop, and its next step's slab (the next in the share of
    iterations a thread runs, for a parallel loop) is prefetched, spread
    over the steps of the step loop and of the reusing loops.
    """

    name = "wafer-prefetch-next-tile"
    summary = "Prefetch the weight tile a kernel's next tile step reads, spread over the steps reusing this one"

    def apply(self, module: ir.Operation) -> None:
        done = set()
        for read in find_ops(module, lambda op: op.name in ("memref.subview", "vector.transfer_read")):
            weights = _streamed_constant(read)
            step_loop = _step_loop(read)
            if weights is None or step_loop is None or (step_loop, weights) in done:
                continue
            plan = _TilePlan.of(read, step_loop)
            if plan is not None:
                done.add((step_loop, weights))
                plan.prefetch()


def _streamed_constant(read: ir.Operation) -> ir.Operation | None:
    """The `memref.get_global` under the views `read` reads, where it is too big to stay in cache."""
    owner = viewed_buffer(read.operands[0]).owner
    if not (isinstance(owner, ir.OpView) and owner.operation.name == "memref.get_global"):
        return None
    return owner.operation if viewed_bytes(read.operands[0]) >= STREAMED_BYTES else None


def _step_loop(read: ir.Operation) -> ir.Operation | None:
    """The innermost `scf.for` around `read` whose trip count is static."""
    loop = read.parent
    while loop.name in _LOOPS:
        if loop.name == "scf.for" and _static_trips(loop, 0) is not None:
            return loop
        loop = loop.parent
    return None


def _induction_variables(loop: ir.Operation) -> list[ir.Value]:
    """An `scf.for`'s index, or each of an `scf.parallel`'s."""
    arguments = list(loop.regions[0].blocks[0].arguments)
    return arguments if loop.name == "scf.parallel" else arguments[:1]


def _static_trips(loop: ir.Operation, dim: int) -> int | None:
    """Trip count of dim `dim` of an `scf.for` or `scf.parallel`, where its bounds are constants."""
    bounds = _bounds(loop, dim)
    return None if bounds is None else bounds[3]


def _depends_on(value: ir.Value, indices: set, seen: dict) -> bool:
    """Whether `value` is computed from any of `indices` (through ops, not through loops' results)."""
    if value in indices:
        return True
    if value in seen:
        return seen[value]
    owner = value.owner
    result = isinstance(owner, ir.OpView) and owner.operation.name not in _LOOPS and any(
        _depends_on(operand, indices, seen) for operand in owner.operands)
    seen[value] = result
    return result


def _read_offsets(read: ir.Operation) -> list[ir.Value | int]:
    """The source indices a subview or vector read starts at, constants as ints."""
    if read.name == "vector.transfer_read":
        return list(read.opview.indices)
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    values = iter(read.operands[1:])
    return [next(values) if o == dynamic else o for o in read.attributes["static_offsets"]]


def _inner_indices(step_loop: ir.Operation, read: ir.Operation) -> set:
    """The induction variables of the step loop and of the loops inside it around `read`."""
    indices, loop = set(), read.parent
    while True:
        if loop.name in _LOOPS:
            indices.update(_induction_variables(loop))
        if loop == step_loop:
            return indices
        loop = loop.parent


@dataclass
class _TilePlan:
    read: ir.Operation
    step_loop: ir.Operation
    slab_dim: int  # the first dim of the source the steps move along
    spread: list[tuple[ir.Operation, int]]  # (loop, dim), outermost first, the step loop last
    tile: tuple[ir.Operation, int]  # the tile loop and its dim

    @staticmethod
    def of(read: ir.Operation, step_loop: ir.Operation) -> _TilePlan | None:
        inner = _inner_indices(step_loop, read)
        offsets = _read_offsets(read)
        moving = [isinstance(o, ir.Value) and _depends_on(o, inner, {}) for o in offsets]
        if True not in moving:
            return None
        slab_dim = moving.index(True)
        source = read.operands[0]
        if _depends_on(source, inner, {}) or not _contiguous_from(ir.MemRefType(source.type), slab_dim):
            return None
        leading = [o for o in offsets[:slab_dim] if isinstance(o, ir.Value)] + [source]

        def moves(index: ir.Value) -> bool:
            return any(_depends_on(v, {index}, {}) for v in leading)

        spread, loop = [(step_loop, 0)], step_loop.parent
        while loop.name in _LOOPS:
            arguments = _induction_variables(loop)
            for dim in reversed(range(len(arguments))):  # a parallel loop's innermost dim steps first
                trips = _static_trips(loop, dim)
                if trips is None:
                    return None
                if trips == 1:
                    continue
                if not moves(arguments[dim]):
                    spread.append((loop, dim))
                elif len(spread) > 1:
                    return _TilePlan(read, step_loop, slab_dim, spread[::-1], (loop, dim))
            loop = loop.parent
        return None

    def prefetch(self) -> None:
        source = self.read.operands[0]
        shaped = ir.MemRefType(source.type)
        slab = shaped.shape[self.slab_dim:]
        per_line = _LINE_BYTES // element_bytes(shaped.element_type)
        lines = -(-math.prod(slab) // per_line)
        steps = math.prod(_bounds(loop, dim)[3] for loop, dim in self.spread)
        per_step = min(-(-lines // steps), _MOST_LINES_A_STEP)
        # The step number among the spread loops' steps, as an affine expression of their indices.
        step_number = _constant_expr(0)
        for position, (loop, dim) in enumerate(self.spread):
            lower, _, step, trips = _bounds(loop, dim)
            offset = ir.AffineDimExpr.get(position) - _constant_expr(lower)
            step_number = step_number * _constant_expr(trips) + ir.AffineFloorDivExpr.get(offset, _constant_expr(step))
        indices = [_induction_variables(loop)[dim] for loop, dim in self.spread]
        tile_loop, dim = self.tile
        index = _induction_variables(tile_loop)[dim]
        _, upper, step, _ = _bounds(tile_loop, dim)
        with ir.InsertionPoint.at_block_begin(self.step_loop.regions[0].blocks[0]), self.read.location:
            following = affine.AffineMinOp(_map(1, ir.AffineDimExpr.get(0) + _constant_expr(step), upper - step),
                                          [index]).result
            rebuilt = _Rebuild(index, following, self.step_loop)
            next_source = rebuilt.value(source)
            leading = [rebuilt.value(o) if isinstance(o, ir.Value) else index_constant(o)
                       for o in _read_offsets(self.read)[:self.slab_dim]]
            for i in range(per_step):
                element = (step_number * _constant_expr(per_step) + _constant_expr(i)) * _constant_expr(per_line)
                flat = affine.AffineMinOp(_map(len(indices), element, math.prod(slab) - 1), indices).result
                at = [affine.AffineApplyOp(_map(1, _slab_index(slab, d)), [flat]).result for d in range(len(slab))]
                memref.PrefetchOp(next_source, leading + at, False, 3, True)
        record_strategy(self.step_loop, f"prefetch the next weight tile ({'x'.join(map(str, slab))}), "
                                        f"{per_step} lines a step")


def _bounds(loop: ir.Operation, dim: int) -> tuple[int, int, int, int] | None:
    """Lower bound, upper bound, step and trip count of dim `dim` of a loop; None
    unless its bounds are constants."""
    dims = len(_induction_variables(loop))
    lower, upper, step = (constant_int(loop.operands[i * dims + dim]) for i in range(3))
    if None in (lower, upper, step):
        return None
    return lower, upper, step, -(-(upper - lower) // step)


def _constant_expr(value: int) -> ir.AffineExpr:
    return ir.AffineConstantExpr.get(value)


def _map(dims: int, *results) -> ir.AffineMap:
    exprs = [r if isinstance(r, ir.AffineExpr) else _constant_expr(r) for r in results]
    return ir.AffineMap.get(dims, 0, exprs)


def _slab_index(slab: list[int], d: int) -> ir.AffineExpr:
    """Index `d` of the element at flat position d0 of a contiguous `slab`."""
    index = ir.AffineFloorDivExpr.get(ir.AffineDimExpr.get(0), _constant_expr(math.prod(slab[d + 1:])))
    return ir.AffineModExpr.get(index, _constant_expr(slab[d])) if d > 0 else index


def _contiguous_from(shaped: ir.MemRefType, dim: int) -> bool:
    strides, _ = shaped.get_strides_and_offset()
    return all(strides[d] == math.prod(shaped.shape[d + 1:]) for d in range(dim, shaped.rank))


class _Rebuild:
    """Values computed again at the insertion point with the tile loop's index
    replaced by its next step's: the ops that depend on it, or that lie inside
    the step loop, cloned."""

    def __init__(self, index: ir.Value, replacement: ir.Value, step_loop: ir.Operation):
        self.index, self.replacement, self.step_loop = index, replacement, step_loop
        self.done: dict = {index: replacement}

    def value(self, value: ir.Value) -> ir.Value:
        if value in self.done:
            return self.done[value]
        owner = value.owner
        if not (isinstance(owner, ir.OpView) and (_depends_on(value, {self.index}, {}) or self._inside(owner))):
            return value
        operands = [self.value(operand) for operand in owner.operands]
        clone = owner.operation.clone()
        for i, operand in enumerate(operands):
            clone.operands[i] = operand
        result = clone.results[list(owner.results).index(value)]
        self.done[value] = result
        return result

    def _inside(self, op: ir.OpView) -> bool:
        parent = op.operation.parent
        while parent is not None and parent.name != "func.func":
            if parent == self.step_loop:
                return True
            parent = parent.parent
        return False
