"""wafer-sort-rows: sort each row by insertion into the short prefix its readers read, or by merging."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, memref, scf, vector

from .linalg_builders import clone_into, index_constant
from .pass_base import WaferPass, find_ops
from .sorted_prefix import SORTED_PREFIX


# The longest sorted prefix taken by insertion: bench/sorting.py times both.
INSERTION_PREFIX = 128
# Elements an insertion compares with the k-th placed one at once: a zmm of f32 (two ymm with AVX2).
FILTER_LANES = 16


def _static_sort_on_buffers(op: ir.Operation) -> bool:
    return op.name == "tm_tensor.sort" and all(
        isinstance(v.type, ir.MemRefType) and ir.MemRefType(v.type).has_static_shape for v in op.operands)


def _goes_before(comparator: ir.Block, new: list[ir.Value], placed: list[ir.Value]) -> ir.Value:
    """Whether element `new` (later in the row) goes before `placed`: the
    comparator, cloned here, does not allow `placed` before it. Its block
    takes each buffer's (lhs, rhs) pair in turn."""
    mapping = {arg: value for arg, value in zip(comparator.arguments, (v for pair in zip(placed, new) for v in pair))}
    *body, terminator = comparator.operations
    clone_into(body, mapping)
    allowed = mapping[terminator.operands[0]]
    return arith.XOrIOp(allowed, arith.ConstantOp(allowed.type, 1).result).result


def _lower(sort: ir.OpView, insertion_prefix: int) -> None:
    """Replace `sort` by loops over its rows: an insertion into the first k
    places where k (`wafer.sorted_prefix`, else the row) is short, else a
    merge sort of the whole row."""
    buffers = list(sort.operands)
    shape = ir.MemRefType(buffers[0].type).shape
    dim = ir.IntegerAttr(sort.attributes["dimension"]).value
    prefix = ir.IntegerAttr(sort.attributes[SORTED_PREFIX]).value if SORTED_PREFIX in sort.attributes else shape[dim]
    comparator = sort.regions[0].blocks[0]
    with ir.InsertionPoint(sort), sort.location:
        if prefix <= insertion_prefix:
            _insertion_sort(buffers, shape, dim, prefix, comparator)
        else:
            _merge_sort(buffers, shape, dim, comparator)
    sort.operation.erase()


def _insertion_sort(buffers: list[ir.Value], shape: list[int], dim: int, prefix: int, comparator: ir.Block) -> None:
    """Each row's elements in turn inserted into its sorted first `prefix` places:
    one comparison with the last of them for an element that does not enter.
    Past the prefix, where the row is contiguous and the comparator plain
    arithmetic, `FILTER_LANES` elements are compared with the last placed one
    at once, and only a group with an element that goes before it is
    inserted one by one (on random rows, nearly every group of a long row is
    passed over)."""
    n = shape[dim]
    filtered = dim == len(shape) - 1 and n - prefix >= FILTER_LANES and _vectorizable(comparator)
    groups_end = prefix + (n - prefix) // FILTER_LANES * FILTER_LANES if filtered else prefix
    with _each_row(shape, dim) as at:
        insert = _inserter(buffers, at, prefix, comparator)
        _for_each(0, prefix if filtered else n, insert)
        if filtered:
            def insert_group(start: ir.Value) -> None:
                placed = [memref.LoadOp(b, at(index_constant(prefix - 1))).result for b in buffers]
                any_enters = vector.reduction(ir.IntegerType.get_signless(1), vector.CombiningKind.OR,
                                              _group_goes_before(comparator, buffers, at(start), placed))
                enters = scf.IfOp(any_enters)
                with _ends_with_yield(enters.then_block):
                    _for_each(start, arith.AddIOp(start, index_constant(FILTER_LANES)).result, insert)

            _for_each(prefix, groups_end, insert_group, FILTER_LANES)
            _for_each(groups_end, n, insert)


def _inserter(buffers: list[ir.Value], at, prefix: int, comparator: ir.Block):
    """The builder of one element's insertion: its position in, ops out."""
    zero, one, last = index_constant(0), index_constant(1), index_constant(prefix - 1)

    def load(position: ir.Value) -> list[ir.Value]:
        return [memref.LoadOp(b, at(position)).result for b in buffers]

    def insert(j: ir.Value) -> None:
        new = load(j)
        in_prefix = arith.CmpIOp(arith.CmpIPredicate.ult, j, index_constant(prefix)).result
        enters = scf.IfOp(arith.OrIOp(in_prefix, _goes_before(comparator, new, load(last))).result)
        with _ends_with_yield(enters.then_block):
            # Shift the placed elements that `new` goes before one place on, from its slot back.
            shift = scf.WhileOp([ir.IndexType.get()], [arith.MinUIOp(j, last).result])
            check = shift.before.blocks.append(ir.IndexType.get())
            with ir.InsertionPoint(check):
                place = check.arguments[0]
                positive = arith.CmpIOp(arith.CmpIPredicate.ugt, place, zero).result
                before_previous = scf.IfOp(positive, [ir.IntegerType.get_signless(1)], has_else=True)
                with ir.InsertionPoint(before_previous.then_block):
                    scf.YieldOp([_goes_before(comparator, new, load(arith.SubIOp(place, one).result))])
                with ir.InsertionPoint(before_previous.else_block):
                    scf.YieldOp([positive])
                scf.ConditionOp(before_previous.results[0], [place])
            step = shift.after.blocks.append(ir.IndexType.get())
            with ir.InsertionPoint(step):
                place = step.arguments[0]
                previous = arith.SubIOp(place, one).result
                for buffer, value in zip(buffers, load(previous)):
                    memref.StoreOp(value, buffer, at(place))
                scf.YieldOp([previous])
            for buffer, value in zip(buffers, new):
                memref.StoreOp(value, buffer, at(shift.results[0]))

    return insert


def _for_each(start: int | ir.Value, end: int | ir.Value, build, step: int = 1) -> None:
    """A loop from `start` to `end` whose body `build(position)` builds."""
    bounds = [index_constant(b) if isinstance(b, int) else b for b in (start, end)]
    loop = scf.ForOp(*bounds, index_constant(step))
    with _ends_with_yield(loop.body):
        build(loop.induction_variable)


def _vectorizable(comparator: ir.Block) -> bool:
    """Whether the comparator is elementwise arithmetic a vector can run, on
    its own arguments and results only."""
    *body, _ = comparator.operations
    return all(op.name.split(".")[0] in ("arith", "math") and not op.regions and len(op.results) == 1
               and all(_defined_in(operand, comparator) for operand in op.operands) for op in body)


def _defined_in(value: ir.Value, block: ir.Block) -> bool:
    owner = value.owner
    return owner == block if isinstance(owner, ir.Block) else owner.operation.block == block


def _group_goes_before(comparator: ir.Block, buffers: list[ir.Value], indices: list[ir.Value],
                       placed: list[ir.Value]) -> ir.Value:
    """Which of the `FILTER_LANES` elements from `indices` on go before the
    placed element `placed`: the comparator on vectors, its scalars broadcast."""
    def widened(type_: ir.Type) -> ir.VectorType:
        return ir.VectorType.get([FILTER_LANES], type_)

    mapping = {}
    for i, buffer in enumerate(buffers):
        placed_arg, new_arg = comparator.arguments[2 * i], comparator.arguments[2 * i + 1]
        element = ir.MemRefType(buffer.type).element_type
        if list(new_arg.uses):
            padding = arith.ConstantOp(element, ir.FloatAttr.get(element, 0.0) if isinstance(element, ir.FloatType)
                                       else ir.IntegerAttr.get(element, 0)).result
            rank = ir.MemRefType(buffer.type).rank
            mapping[new_arg] = vector.transfer_read(
                widened(element), buffer, indices, ir.AffineMap.get_minor_identity(rank, 1), padding, [True])
        if list(placed_arg.uses):
            mapping[placed_arg] = vector.broadcast(widened(element), placed[i])
    *body, terminator = comparator.operations
    for op in body:
        if op.name == "arith.constant":
            mapping[op.results[0]] = vector.broadcast(widened(op.results[0].type), op.clone().results[0])
            continue
        widened_op = ir.Operation.create(op.name, results=[widened(op.results[0].type)],
                                         operands=[mapping[v] for v in op.operands],
                                         attributes={name: op.attributes[name] for name in op.attributes})
        mapping[op.results[0]] = widened_op.results[0]
    allowed = mapping[terminator.operands[0]]
    return arith.XOrIOp(allowed, arith.ConstantOp(allowed.type, ir.DenseElementsAttr.get_splat(
        allowed.type, ir.IntegerAttr.get(ir.IntegerType.get_signless(1), 1))).result).result


def _merge_sort(buffers: list[ir.Value], shape: list[int], dim: int, comparator: ir.Block) -> None:
    """A bottom-up merge sort of every row, runs of 1, 2, 4, ... merged pass by
    pass between the buffers and scratch copies of them, branch-free."""
    scratch = [memref.AllocOp(ir.MemRefType.get(shape, ir.MemRefType(b.type).element_type), [], []).result
               for b in buffers]
    source, target = buffers, scratch
    width = 1
    while width < shape[dim]:
        _merge_runs(source, target, shape, dim, width, comparator)
        source, target, width = target, source, 2 * width
    if source is scratch:
        for copy, buffer in zip(scratch, buffers):
            memref.CopyOp(copy, buffer)
    for copy in scratch:
        memref.DeallocOp(copy)


def _merge_runs(source: list[ir.Value], target: list[ir.Value], shape: list[int], dim: int, width: int,
                comparator: ir.Block) -> None:
    """Merge each pair of sorted runs of `width` along `dim` of `source` into
    `target`: the right run's element first only where it goes before the
    left's (stable), every read clamped into the row."""
    n = shape[dim]
    zero, one, end, last = index_constant(0), index_constant(1), index_constant(n), index_constant(n - 1)
    with _each_row(shape, dim) as at:
        pairs = scf.ForOp(zero, end, index_constant(2 * width))
        with _ends_with_yield(pairs.body):
            low = pairs.induction_variable
            middle = arith.MinUIOp(arith.AddIOp(low, index_constant(width)).result, end).result
            high = arith.MinUIOp(arith.AddIOp(low, index_constant(2 * width)).result, end).result
            merge = scf.ForOp(low, high, one, [low, middle])
            with ir.InsertionPoint(merge.body):
                i, j = merge.inner_iter_args
                left = [memref.LoadOp(b, at(arith.MinUIOp(i, last).result)).result for b in source]
                right = [memref.LoadOp(b, at(arith.MinUIOp(j, last).result)).result for b in source]
                left_done = arith.CmpIOp(arith.CmpIPredicate.uge, i, middle).result
                right_left = arith.CmpIOp(arith.CmpIPredicate.ult, j, high).result
                right_first = arith.AndIOp(right_left,
                                           arith.OrIOp(left_done, _goes_before(comparator, right, left)).result).result
                for buffer, r, l in zip(target, right, left):
                    memref.StoreOp(arith.SelectOp(right_first, r, l).result, buffer, at(merge.induction_variable))
                scf.YieldOp([arith.SelectOp(right_first, i, arith.AddIOp(i, one).result).result,
                             arith.SelectOp(right_first, arith.AddIOp(j, one).result, j).result])


@contextlib.contextmanager
def _each_row(shape: list[int], dim: int):
    """Build inside loops over every dim but `dim`; yields at(position): the
    indices of the row's element at `position`."""
    zero, one = index_constant(0), index_constant(1)
    with contextlib.ExitStack() as nest:
        row = {}
        for d, size in enumerate(shape):
            if d != dim:
                loop = scf.ForOp(zero, index_constant(size), one)
                nest.enter_context(_ends_with_yield(loop.body))
                row[d] = loop.induction_variable
        yield lambda position: [position if d == dim else row[d] for d in range(len(shape))]


@contextlib.contextmanager
def _ends_with_yield(block: ir.Block):
    """Build into `block`, then end it with an empty `scf.yield`."""
    with ir.InsertionPoint(block):
        yield
        scf.YieldOp([])


@dataclass(frozen=True)
class SortRows(WaferPass):
    """Lower each static `tm_tensor.sort` on buffers to loops over its rows
    that sort the first k places: the prefix wafer-sorted-prefix found its
    readers read (`topk`'s k), else the whole row.

    tm-tensor-to-loops lowers a sort as a bubble sort, n^2 / 2 comparisons a
    row whatever part of it is read (bench/sorting.py times top-k and sorts
    against ONNX Runtime). Where k is short, each element is compared with
    the k-th placed one and passed over unless it goes before it; one that
    does shifts the placed ones it goes before one place on (k moves at
    most). Along a contiguous row, with a comparator of plain arithmetic,
    the elements are compared `FILTER_LANES` at a time first. Where k is
    long, a bottom-up merge sort (log2 n passes over the row). Both are
    stable as the bubble sort was: an element goes before one earlier in
    the row only where the comparator does not allow that one first, so
    ties keep their order. Rows of a dynamic size are left to
    tm-tensor-to-loops.

    Options:
      insertion-prefix: the longest prefix sorted by insertion.
    """

    name = "wafer-sort-rows"
    summary = "Lower static sorts to insertion into a short sorted prefix, or a merge sort"

    insertion_prefix: int = INSERTION_PREFIX

    def apply(self, module: ir.Operation) -> None:
        for sort in find_ops(module, _static_sort_on_buffers):
            _lower(sort.opview, self.insertion_prefix)
