"""wse-split-gathers: give each table read in a generic's body a generic of its own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from ..wse_target.lookup import cast_source, lookup_of
from .linalg_builders import clone_into, iterator_types_attr, with_extra_inputs
from .linalg_queries import PARALLEL, indexing_maps, iterator_types, loop_ranges, map_dims
from .pass_base import WaferPass, find_ops


def body_extracts(op: ir.Operation) -> list[ir.Operation]:
    """The `tensor.extract`s of a generic's body, in order."""
    return [inner.operation for inner in op.regions[0].blocks[0].operations
            if inner.operation.name == "tensor.extract"]


def index_slice(extract: ir.Operation) -> list[ir.Operation]:
    """The body ops that compute `extract`'s indices, and the checks
    (`cf.assert`, with what computes their conditions) of values computed
    from the block arguments the indices read and no other; in body order."""
    block = extract.parent.regions[0].blocks[0]
    needed = [op for index in list(extract.operands)[1:] for op in slice_of(index, block)]
    needed += _checks_of(_arguments_read(needed + [extract], block), block)
    return [op.operation for op in block.operations if any(op.operation == n for n in needed)]


def _checks_of(args: set[int], block: ir.Block) -> list[ir.Operation]:
    """The checks (`cf.assert`, with the ops that compute their conditions)
    whose conditions read `block`'s arguments `args` and no others, and no table."""
    found = []
    for check in (op.operation for op in block.operations if op.operation.name == "cf.assert"):
        condition = slice_of(check.operands[0], block)
        if not any(op.name == "tensor.extract" for op in condition) and _arguments_read(condition, block) <= args:
            found += [op for op in condition + [check] if not any(op == other for other in found)]
    return found


def slice_of(value: ir.Value, block: ir.Block) -> list[ir.Operation]:
    """The ops of `block` that `value` is computed by, in body order."""
    needed, pending = [], [value]
    while pending:
        owner = pending.pop().owner
        if isinstance(owner, ir.OpView) and owner.operation.parent == block.owner and \
                not any(owner.operation == seen for seen in needed):
            needed.append(owner.operation)
            pending += list(owner.operands)
    return [op.operation for op in block.operations if any(op.operation == n for n in needed)]


def _arguments_read(ops: list[ir.Operation], block: ir.Block) -> set[int]:
    """The numbers of `block`'s arguments that `ops` read."""
    return {value.arg_number for op in ops for value in op.operands
            if isinstance(value.owner, ir.Block) and value.owner == block}


def is_pure_gather(op: ir.Operation) -> bool:
    """A generic that yields one table read and computes nothing but its indices."""
    extracts = body_extracts(op)
    if len(extracts) != 1 or len(op.results) != 1:
        return False
    block = op.regions[0].blocks[0]
    *body, terminator = [inner.operation for inner in block.operations]
    kept = index_slice(extracts[0]) + extracts
    return (terminator.operands[0] == extracts[0].results[0]
            and all(any(inner == k for k in kept) for inner in body))


def _reads_outputs(ops: list[ir.Operation], op: ir.Operation) -> bool:
    n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
    outs = list(op.regions[0].blocks[0].arguments)[n_inputs:]
    return any(value == out for inner in ops for value in inner.operands for out in outs)


def _parallel_generic(at: ir.Operation, inputs: list[ir.Value], input_maps: list[ir.AffineMap],
                      init: ir.Value) -> tuple[ir.Operation, ir.Block]:
    """An all-parallel generic before `at` (at its location) that reads
    `inputs` through `input_maps` into `init` (identity map), and its empty
    body block."""
    rank = ir.RankedTensorType(init.type).rank
    maps = ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in input_maps + [ir.AffineMap.get_identity(rank)]])
    with ir.InsertionPoint(at), at.location:
        generic = linalg.GenericOp([init.type], inputs, [init], maps, iterator_types_attr(*["parallel"] * rank))
    types = [ir.RankedTensorType(v.type).element_type for v in inputs + [init]]
    return generic.operation, generic.regions[0].blocks.append(*types, arg_locs=[at.location] * len(types))


def split_gather(op: ir.Operation, extract: ir.Operation) -> ir.Operation:
    """Move `extract` and its index slice out of `op` into a pure gather over
    op's whole iteration space, which `op` then reads (identity map) instead.
    Returns the generic that replaces `op`."""
    moved = index_slice(extract)
    block = op.regions[0].blocks[0]
    n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
    args = list(block.arguments)[:n_inputs]
    read = [i for i, arg in enumerate(args) if any(value == arg for inner in moved + [extract]
                                                   for value in inner.operands)]
    ranges = loop_ranges(op)
    maps = indexing_maps(op)
    with ir.InsertionPoint(op), op.location:
        init = tensor.EmptyOp(ranges, extract.results[0].type).result
    gather, body = _parallel_generic(op, [op.operands[i] for i in read], [maps[i] for i in read], init)
    mapping = {args[i]: body.arguments[k] for k, i in enumerate(read)}
    with ir.InsertionPoint(body), op.location:
        clone_into(moved + [extract], mapping)
        ir.Operation.create("linalg.yield", operands=[mapping[extract.results[0]]])
    generic, (gathered,) = with_extra_inputs(op, [gather.results[0]], [ir.AffineMap.get_identity(len(ranges))])
    extract.results[0].replace_all_uses_with(gathered)
    extract.erase()
    for inner in reversed(moved):
        if not any(True for result in inner.results for _ in result.uses):
            inner.erase()
    return generic


def is_static_gather(op: ir.Operation) -> bool:
    """A generic that only gathers, at indices computed from constants alone
    (the loop indices wse-materialize-indices made iota inputs of, an
    upsampling's source pixels): its moves are known at compile time."""
    inputs = list(op.operands)[:len(op.operands) - len(op.results)]
    return is_pure_gather(op) and all(_from_constants(v) for v in inputs)


def _from_constants(value: ir.Value) -> bool:
    """A value computed from constants alone, by tensor ops and generics."""
    owner = value.owner
    if not isinstance(owner, ir.OpView):
        return False
    if owner.name in ("arith.constant", "tensor.empty"):
        return True
    if owner.name == "linalg.generic" and body_extracts(owner):
        return False
    return ((owner.name == "linalg.generic" or owner.name.startswith("tensor."))
            and all(_from_constants(v) for v in owner.operands))


def _iota_input(op: ir.Operation, value: ir.Value) -> int | None:
    """The input number of the block argument `value` (through an index cast)
    when that input is the iota of op's innermost loop; else None."""
    value = cast_source(value)
    if not isinstance(value.owner, ir.Block) or value.owner != op.regions[0].blocks[0]:
        return None
    number = value.arg_number
    loops = len(loop_ranges(op))
    if number >= len(op.operands) - len(op.results) or map_dims(indexing_maps(op)[number]) != [loops - 1]:
        return None
    source = op.operands[number].owner
    if not (isinstance(source, ir.OpView) and source.name == "arith.constant"
            and isinstance(source.attributes["value"], ir.DenseElementsAttr)):
        return None
    return number if np.array_equal(np.array(source.attributes["value"]), np.arange(loop_ranges(op)[-1])) else None


def split_row_numbers(op: ir.Operation) -> bool:
    """Make a pure gather from a rank-2 table, at (a row computed per result
    row, the innermost loop), a lookup generic (`wse_target.lookup`) that
    reads each result row's table row from an input: an input that holds it
    already, or a new generic that computes it (with the checks of it).
    False where `op` does not have that shape."""
    block = op.regions[0].blocks[0]
    (extract,) = body_extracts(op)
    ranges = loop_ranges(op)
    maps = indexing_maps(op)
    if (len(ir.RankedTensorType(extract.operands[0].type).shape) != 2 or len(ranges) < 2
            or any(kind != PARALLEL for kind in iterator_types(op)) or map_dims(maps[-1]) != list(range(len(ranges)))):
        return False
    column = _iota_input(op, extract.operands[2])
    if column is None:
        return False
    row_ops = slice_of(extract.operands[1], block)
    row = extract.operands[1]
    read = _arguments_read(row_ops, block) | ({row.arg_number} if isinstance(row.owner, ir.Block) else set())
    checks = _checks_of(read, block)
    args = list(block.arguments)
    read = sorted(read)
    last = len(ranges) - 1
    if any(last in map_dims(maps[i]) for i in read):
        return False  # the row depends on the column: not one row per result row
    source = cast_source(row)
    if not checks and len(read) == 1 and source == args[read[0]] and map_dims(maps[read[0]]) == list(range(last)):
        rows = op.operands[read[0]]  # the input holds each row already
    else:
        ops = [inner.operation for inner in block.operations if any(inner.operation == m for m in row_ops + checks)]
        rows = _row_numbers(op, read, ops, row)
    lookup = _lookup_generic(op, rows, op.operands[column], extract.operands[0])
    op.results[0].replace_all_uses_with(lookup.results[0])
    op.erase()
    return True


def _row_numbers(op: ir.Operation, read: list[int], ops: list[ir.Operation], row: ir.Value) -> ir.Value:
    """A generic over op's loops but the innermost that computes `row` (an
    index, by `ops` of op's body from op's inputs `read`) as an i64."""
    maps = indexing_maps(op)
    args = list(op.regions[0].blocks[0].arguments)
    last = maps[-1].n_dims - 1
    i64 = ir.IntegerType.get_signless(64)
    leading = [ir.AffineMap.get(last, 0, list(maps[i].results)) for i in read]
    with ir.InsertionPoint(op), op.location:
        init = tensor.EmptyOp(loop_ranges(op)[:last], i64).result
    generic, block = _parallel_generic(op, [op.operands[i] for i in read], leading, init)
    mapping = {args[i]: block.arguments[k] for k, i in enumerate(read)}
    with ir.InsertionPoint(block), op.location:
        clone_into(ops, mapping)
        value = mapping.get(row, row)
        if not isinstance(value.type, ir.IntegerType):
            value = arith.IndexCastOp(i64, value).result
        ir.Operation.create("linalg.yield", operands=[value])
    return generic.results[0]


def _lookup_generic(op: ir.Operation, rows: ir.Value, iota: ir.Value, table: ir.Value) -> ir.Operation:
    """`out[r..., j] = table[rows[r...], iota[j]]` over op's loops, into op's init."""
    loops = indexing_maps(op)[-1].n_dims
    dims = [ir.AffineDimExpr.get(d) for d in range(loops)]
    maps = [ir.AffineMap.get(loops, 0, dims[:-1]), ir.AffineMap.get(loops, 0, dims[-1:])]
    generic, block = _parallel_generic(op, [rows, iota], maps, op.operands[len(op.operands) - 1])
    with ir.InsertionPoint(block), op.location:
        index = ir.IndexType.get()
        indices = [arg if isinstance(arg.type, ir.IndexType) else arith.IndexCastOp(index, arg).result
                   for arg in list(block.arguments)[:2]]
        ir.Operation.create("linalg.yield", operands=[tensor.ExtractOp(table, indices).result])
    return generic


@dataclass(frozen=True)
class WseSplitGathers(WaferPass):
    """Split every table read (`tensor.extract` in a generic's body) that
    shares its generic with other work into a generic that only gathers.

    Elementwise fusion merges an embedding lookup into the add after it and
    bilinear upsampling computes with the four pixels it reads; a generic
    that gathers cannot run on a region (its PEs do not hold the table), so
    the whole op would leave the wafer. Split, the arithmetic runs on the
    wafer like any elementwise op, and each gather is one op the partition
    can place on its own: data movement when its indices are constants (an
    upsampling), a lookup when they are data (an embedding). A read whose
    indices depend on the op's outputs (a running value) stays where it is.
    """

    name = "wse-split-gathers"
    summary = "Move each tensor.extract of a generic with other work into a generic that only gathers"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            if not body_extracts(op) or loop_ranges(op) is None:
                continue
            gathers = []
            if is_pure_gather(op):
                gathers.append(op)
            else:
                for extract in body_extracts(op):
                    if not _reads_outputs(index_slice(extract) + [extract], op):
                        op = split_gather(op, extract)
                        gathers.append(op.operands[len(op.operands) - len(op.results) - 1].owner.operation)
            for gather in gathers:
                if not is_static_gather(gather) and lookup_of(gather) is None:
                    split_row_numbers(gather)
