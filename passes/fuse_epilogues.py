"""wafer-fuse-epilogues: apply an elementwise consumer of a parallel loop's result to each tile, in the loop."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor
from torch_mlir.dialects.transform import structured

from .fuse import is_elementwise
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops
from .transform_script import match_tagged, tag, transform_script

# Pure ops that may move up to the loop, so that the loop can slice their results.
_MOVABLE = ("arith.constant", "tensor.expand_shape", "tensor.collapse_shape", "tensor.extract_slice", "tensor.cast")


@dataclass(frozen=True)
class FuseEpilogues(WaferPass):
    """Move an elementwise consumer of an `scf.forall` result (a packed
    matmul's bias and activation, its residual add) into the loop: each
    iteration applies it to its tile right after computing it, while the
    tile is in cache, instead of one more pass over the whole result (a
    4096x2048 linear layer's bias and ReLU: 3.4 of 47 ms, 32 MB read and
    written at memory speed).

    Side by side: transformer b32 2-5% faster, LeNet b32 7-10%.

    Applies when the loop's tiles cover its result exactly (each dim's tile
    offset is an induction variable times the static tile size, and the
    trips times the size fill the dim), the consumer reads the result with an
    identity map and reads each dim of its other inputs along a loop dim, or
    at 0 for a unit dim (slices of them are taken per tile), and it neither
    reads its init nor asserts. In the loop the consumer updates the tile in
    place, a row at a time, so that wafer-vectorize turns each row into
    vector code.
    """

    name = "wafer-fuse-epilogues"
    summary = "Apply elementwise consumers of scf.forall results to each tile inside the loop"

    def apply(self, module: ir.Operation) -> None:
        fused = []
        for loop in find_ops(module, lambda op: op.name == "scf.forall" and len(op.results) == 1):
            insert = _tile_insert(loop.opview)
            consumer = _epilogue(loop.opview) if insert is not None else None
            if consumer is not None:
                ops = [op.name.removeprefix("arith.") for op in consumer.regions[0].blocks[0].operations][:-1]
                tile = "x".join(str(size) for size in insert.static_sizes)
                record_strategy(consumer, f"epilogue {', '.join(ops)} per {tile} tile")
                fused.append(_move_into(consumer, loop.opview, insert))
        if not fused:
            return
        with transform_script(module) as root:
            for i, epilogue in enumerate(fused):
                tag(epilogue.operation, f"epilogue{i}")
                rank = len(epilogue.results[0].type.shape)
                structured.TileUsingForOp(match_tagged(root, f"epilogue{i}"), sizes=[1] * (rank - 1) + [0])


def _epilogue(loop: ir.OpView) -> ir.OpView | None:
    """The elementwise consumer of `loop`'s result that can move into it, if any."""
    users = [use.owner for use in loop.results[0].uses]
    if len(users) != 1 or not is_elementwise(users[0]):
        return None
    consumer = users[0]
    inputs, init = list(consumer.operands)[:-1], consumer.operands[len(consumer.operands) - 1]
    maps = [ir.AffineMapAttr(m).value for m in consumer.attributes["indexing_maps"]]
    body = consumer.regions[0].blocks[0]
    identity = ir.AffineMap.get_identity(maps[-1].n_dims)
    if (consumer.results[0].type != loop.results[0].type or init == loop.results[0] or maps[-1] != identity
            or list(body.arguments[len(inputs)].uses)
            or any(op.name == "cf.assert" for op in body.operations)):
        return None
    for value, indexing in zip(inputs, maps):
        if value == loop.results[0]:
            if indexing != identity:
                return None
        elif not _reads_per_tile(indexing, value) or not _available_before(value, loop):
            return None
    return consumer if sum(value == loop.results[0] for value in inputs) == 1 else None


def _reads_per_tile(indexing: ir.AffineMap, value: ir.Value) -> bool:
    """Whether each of `value`'s dims is read along one loop dim, or is a unit
    dim read at 0 (batch norm's per-channel scale, [1, C, 1, 1])."""
    shape = ir.RankedTensorType(value.type).shape
    return all(str(expr).startswith("d") or (str(expr) == "0" and extent == 1)
               for expr, extent in zip(indexing.results, shape))


def _tile_insert(loop: ir.OpView) -> ir.OpView | None:
    """The loop's one `parallel_insert_slice`, if its tiles cover the result exactly."""
    inserts = list(loop.regions[0].blocks[0].operations)[-1].regions[0].blocks[0].operations
    if len(inserts) != 1 or len(loop.operands) != 1:  # dynamic bounds are operands too
        return None
    insert = inserts[0]
    bounds = [list(ir.DenseI64ArrayAttr(loop.attributes[key])) for key in
              ("staticLowerBound", "staticUpperBound", "staticStep")]
    if any(lower != 0 for lower in bounds[0]) or any(step != 1 for step in bounds[2]):
        return None
    ivs = list(loop.regions[0].blocks[0].arguments)[:len(bounds[1])]
    sizes = list(insert.static_sizes)
    shape = ir.RankedTensorType(loop.results[0].type).shape
    if any(s != 1 for s in insert.static_strides) or ir.ShapedType.get_dynamic_size() in sizes:
        return None
    covered = []
    for offset, size, extent in zip(_offsets(insert), sizes, shape):
        if offset == 0 and size == extent:
            continue
        if not isinstance(offset, ir.Value):
            return None
        iv, scale = _scaled_iv(offset, ivs)
        if iv is None or scale != size or bounds[1][iv] * size != extent or iv in covered:
            return None
        covered.append(iv)
    return insert if len(covered) == len(ivs) else None


def _scaled_iv(value: ir.Value, ivs: list[ir.Value]) -> tuple[int | None, int]:
    """(which induction variable, its factor) when `value` is `iv`, or `iv * factor`
    as an `affine.apply` or an `arith.muli` by a constant."""
    if value in ivs:
        return ivs.index(value), 1
    op = value.owner
    if not isinstance(op, ir.OpView) or not op.operands or op.operands[0] not in ivs:
        return None, 0
    factor = None
    if op.name == "affine.apply" and len(op.operands) == 1:
        expr = str(ir.AffineMapAttr(op.attributes["map"]).value)
        prefix = "(d0) -> (d0 * "
        if expr.startswith(prefix) and expr[len(prefix):-1].isdigit():
            factor = int(expr[len(prefix):-1])
    elif op.name == "arith.muli" and isinstance(op.operands[1].owner, ir.OpView) \
            and op.operands[1].owner.name == "arith.constant":
        factor = ir.IntegerAttr(op.operands[1].owner.attributes["value"]).value
    return (ivs.index(op.operands[0]), factor) if factor is not None else (None, 0)


def _available_before(value: ir.Value, loop: ir.OpView) -> bool:
    """Whether `value` is defined before `loop`, or by constants and views of
    them (a bias reshaped to the packed layout) that can move there."""
    owner = value.owner
    if not isinstance(owner, ir.OpView) or owner.operation.block != loop.operation.block:
        return True  # a block argument, or defined in an enclosing block
    if _before(owner, loop):
        return True
    return owner.name in _MOVABLE and all(_available_before(operand, loop) for operand in owner.operands)


def _before(op: ir.OpView, loop: ir.OpView) -> bool:
    for candidate in op.operation.block.operations:
        if candidate.operation == op.operation:
            return True
        if candidate.operation == loop.operation:
            return False
    return False


def _hoist_before(value: ir.Value, loop: ir.OpView) -> None:
    owner = value.owner
    if isinstance(owner, ir.OpView) and owner.operation.block == loop.operation.block and not _before(owner, loop):
        for operand in owner.operands:
            _hoist_before(operand, loop)
        owner.operation.move_before(loop.operation)


def _move_into(consumer: ir.OpView, loop: ir.OpView, insert: ir.OpView) -> ir.OpView:
    """Apply `consumer` to each tile of `loop` before `insert` puts it in; returns the
    consumer's copy in the loop. The copy reads the tile as its init, which
    it overwrites: read as an input as well, the tile would be copied first
    (bufferization cannot see that each element is read before it is written)."""
    tile, offsets, sizes = insert.operands[0], _offsets(insert), list(insert.static_sizes)
    inputs = list(consumer.operands)[:-1]
    maps = list(consumer.attributes["indexing_maps"])
    terminator = list(loop.regions[0].blocks[0].operations)[-1]
    slices, slice_maps = [], []
    with ir.InsertionPoint(terminator), consumer.location:
        for value, indexing in zip(inputs, maps):
            if value == loop.results[0]:
                continue
            _hoist_before(value, loop)
            # A unit dim read at 0 is sliced at 0; a loop dim at the tile's offset, by its size.
            dims = [None if str(e) == "0" else int(str(e)[1:]) for e in ir.AffineMapAttr(indexing).value.results]
            starts = [0 if d is None else offsets[d] for d in dims]
            extents = [1 if d is None else sizes[d] for d in dims]
            piece = ir.RankedTensorType.get(extents, ir.RankedTensorType(value.type).element_type)
            slices.append(tensor.ExtractSliceOp(
                piece, value, [o for o in starts if isinstance(o, ir.Value)], [], [],
                [o if isinstance(o, int) else ir.ShapedType.get_dynamic_size() for o in starts],
                extents, [1] * len(dims)).result)
            slice_maps.append(indexing)
        epilogue = linalg.GenericOp([tile.type], slices, [tile], ir.ArrayAttr.get(slice_maps + [maps[-1]]),
                                    consumer.attributes["iterator_types"])
        body = epilogue.regions[0].blocks.append(*[ir.RankedTensorType(v.type).element_type for v in slices + [tile]])
    old = consumer.regions[0].blocks[0]
    new_args = iter(body.arguments)
    for value, argument in zip(inputs, old.arguments):
        argument.replace_all_uses_with(body.arguments[len(slices)] if value == loop.results[0] else next(new_args))
    for op in list(old.operations):
        body.append(op)
    insert.operands[0] = epilogue.result
    consumer.results[0].replace_all_uses_with(loop.results[0])
    consumer.operation.erase()
    return epilogue


def _offsets(insert: ir.OpView) -> list[ir.Value | int]:
    """The insert's offsets, each a static int or its dynamic value."""
    values = iter(insert.offsets)
    dynamic = ir.ShapedType.get_dynamic_size()
    return [next(values) if offset == dynamic else offset for offset in insert.static_offsets]
