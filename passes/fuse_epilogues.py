"""wafer-fuse-epilogues: apply an elementwise consumer of a parallel loop's result to each tile, in the loop."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import affine, linalg, tensor
from torch_mlir.dialects.transform import structured

from .fuse import is_elementwise
from .linalg_builders import offset_indices
from .linalg_queries import constant_int, indexing_maps, is_projected_map, map_dims
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
    reads its init nor asserts. The consumer may read the result through
    reshapes (a packed convolution's [image, channel blocks, 8, pixel blocks,
    32] result read as NCHW) where each tile is a box of the reshaped result
    too: the tile is reshaped the same way in the loop, and back. In the loop
    the consumer updates the tile in place, a row at a time, so that
    wafer-vectorize turns each row into vector code.
    """

    name = "wafer-fuse-epilogues"
    summary = "Apply elementwise consumers of scf.forall results to each tile inside the loop"

    def apply(self, module: ir.Operation) -> None:
        fused = []
        for loop in find_ops(module, lambda op: op.name == "scf.forall" and len(op.results) == 1):
            tiling = static_tiling(loop.opview)
            epilogue = _epilogue(loop.opview, tiling) if tiling is not None else None
            if epilogue is not None:
                consumer, reshapes, box = epilogue
                ops = [op.name.removeprefix("arith.") for op in consumer.regions[0].blocks[0].operations][:-1]
                tile = "x".join(str(size) for size in box.sizes)
                record_strategy(consumer, f"epilogue {', '.join(ops)} per {tile} tile")
                fused.append(_move_into(consumer, loop.opview, tiling, reshapes, box))
        if not fused:
            return
        with transform_script(module) as root:
            for i, epilogue in enumerate(fused):
                tag(epilogue.operation, f"epilogue{i}")
                rank = len(epilogue.results[0].type.shape)
                structured.TileUsingForOp(match_tagged(root, f"epilogue{i}"), sizes=[1] * (rank - 1) + [0])


@dataclass(frozen=True)
class Box:
    """A tile of a loop's result, or of a reshape of it: per dim, the loop
    induction variable (its index) whose multiples of the size are the tile's
    offsets, or None where the tile spans the whole dim."""

    ivs: tuple[int | None, ...]
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class Tiling:
    insert: ir.OpView  # the loop's one parallel_insert_slice
    box: Box


def _epilogue(loop: ir.OpView, tiling: Tiling) -> tuple[ir.OpView, list[ir.OpView], Box] | None:
    """The elementwise consumer of `loop`'s result that can move into it, the
    reshapes between them and the tile as a box of the consumer's result."""
    value, box, reshapes = loop.results[0], tiling.box, []
    users = [use.owner for use in value.uses]
    while len(users) == 1 and users[0].name in _RESHAPES:
        box = _reshaped_box(box, users[0])
        if box is None:
            return None
        reshapes.append(users[0])
        value = users[0].results[0]
        users = [use.owner for use in value.uses]
    if len(users) != 1 or not is_elementwise(users[0]):
        return None
    consumer = users[0]
    inputs, init = list(consumer.operands)[:-1], consumer.operands[len(consumer.operands) - 1]
    maps = indexing_maps(consumer)
    body = consumer.regions[0].blocks[0]
    identity = ir.AffineMap.get_identity(maps[-1].n_dims)
    if (consumer.results[0].type != value.type or init == value or maps[-1] != identity
            or list(body.arguments[len(inputs)].uses)
            or any(op.name == "cf.assert" for op in body.operations)):
        return None
    for operand, indexing in zip(inputs, maps):
        if operand == value:
            if indexing != identity:
                return None
        elif not _reads_per_tile(indexing, operand) or not _available_before(operand, loop):
            return None
    return (consumer, reshapes, box) if sum(operand == value for operand in inputs) == 1 else None


_RESHAPES = ("tensor.collapse_shape", "tensor.expand_shape")


def _reshaped_box(box: Box, reshape: ir.OpView) -> Box | None:
    """`box` as a box of `reshape`'s result, if each tile is one there too."""
    groups = [list(ir.ArrayAttr(group)) for group in ir.ArrayAttr(reshape.attributes["reassociation"])]
    groups = [[ir.IntegerAttr(d).value for d in group] for group in groups]
    if reshape.name == "tensor.collapse_shape":
        shape = ir.RankedTensorType(reshape.operands[0].type).shape
        pieces = [_collapsed(box, group, shape) for group in groups]
    else:
        shape = ir.RankedTensorType(reshape.results[0].type).shape
        pieces = [_expanded(box.ivs[d], box.sizes[d], [shape[i] for i in group]) for d, group in enumerate(groups)]
    if any(piece is None for piece in pieces):
        return None
    return Box(tuple(iv for piece in pieces for iv, _ in piece), tuple(size for piece in pieces for _, size in piece))


def _collapsed(box: Box, group: list[int], shape: list[int]) -> list[tuple[int | None, int]] | None:
    """The one dim that `group` collapses into: a tile is one run of it when at
    most one dim is tiled, the dims inside it are whole and those outside unit."""
    tiled = [d for d in group if box.ivs[d] is not None]
    size = math.prod(box.sizes[d] for d in group)
    if not tiled:
        return [(None, size)]
    outer, inner = group[:group.index(tiled[0])], group[group.index(tiled[0]) + 1:]
    if len(tiled) > 1 or any(shape[d] != 1 for d in outer) or any(box.sizes[d] != shape[d] for d in inner):
        return None
    return [(box.ivs[tiled[0]], size)]


def _expanded(iv: int | None, size: int, extents: list[int]) -> list[tuple[int | None, int]] | None:
    """The dims that a dim tiled by `size` expands into: whole innermost dims,
    then one tiled dim whose extent the rest of the tile divides, then unit dims."""
    if iv is None:
        return [(None, extent) for extent in extents]
    pieces, inner = [], 1
    for position in range(len(extents) - 1, -1, -1):
        extent = extents[position]
        if size % (inner * extent) == 0 and position > 0:
            pieces.append((None, extent))
            inner *= extent
            continue
        if size % inner or extent % (size // inner) or any(e != 1 for e in extents[:position]):
            return None
        return [(None, 1)] * position + [(iv, size // inner)] + pieces[::-1]
    return None


def _reads_per_tile(indexing: ir.AffineMap, value: ir.Value) -> bool:
    """Whether each of `value`'s dims is read along one loop dim, or is a unit
    dim read at 0 (batch norm's per-channel scale, [1, C, 1, 1])."""
    if not is_projected_map(indexing):
        return False
    shape = ir.RankedTensorType(value.type).shape
    return all(dim is not None or extent == 1 for dim, extent in zip(map_dims(indexing), shape))


def static_tiling(loop: ir.OpView) -> Tiling | None:
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
            covered.append(None)
            continue
        if not isinstance(offset, ir.Value):
            return None
        iv, scale = _scaled_iv(offset, ivs)
        if iv is None or scale != size or bounds[1][iv] * size != extent or iv in covered:
            return None
        covered.append(iv)
    if sorted(iv for iv in covered if iv is not None) != list(range(len(ivs))):
        return None
    return Tiling(insert, Box(tuple(covered), tuple(sizes)))


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
        expr = ir.AffineMapAttr(op.attributes["map"]).value.results[0]
        if (isinstance(expr, ir.AffineMulExpr) and isinstance(expr.lhs, ir.AffineDimExpr)
                and isinstance(expr.rhs, ir.AffineConstantExpr)):
            factor = expr.rhs.value
    elif op.name == "arith.muli":
        factor = constant_int(op.operands[1])
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


def _move_into(consumer: ir.OpView, loop: ir.OpView, tiling: Tiling, reshapes: list[ir.OpView],
               box: Box) -> ir.OpView:
    """Apply `consumer` to each tile of `loop` before its insert puts it in;
    returns the consumer's copy in the loop. The copy reads the tile (reshaped
    as the loop's result is) as its init, which it overwrites: read as an
    input as well, the tile would be copied first (bufferization cannot see
    that each element is read before it is written)."""
    insert = tiling.insert
    inputs = list(consumer.operands)[:-1]
    maps = indexing_maps(consumer)
    view = reshapes[-1].results[0] if reshapes else loop.results[0]
    terminator = list(loop.regions[0].blocks[0].operations)[-1]
    ivs = list(loop.regions[0].blocks[0].arguments)
    with ir.InsertionPoint(terminator), consumer.location:
        offsets = [_scaled(ivs[iv], size) if iv is not None else 0 for iv, size in zip(box.ivs, box.sizes)]
        tile, types = _reshaped(insert.operands[0], reshapes, tiling.box)
        slices, slice_maps = [], []
        for value, indexing in zip(inputs, maps):
            if value == view:
                continue
            _hoist_before(value, loop)
            # A unit dim read at 0 is sliced at 0; a loop dim at the tile's offset, by its size.
            dims = map_dims(indexing)
            starts = [0 if d is None else offsets[d] for d in dims]
            extents = [1 if d is None else box.sizes[d] for d in dims]
            piece = ir.RankedTensorType.get(extents, ir.RankedTensorType(value.type).element_type)
            slices.append(tensor.ExtractSliceOp(
                piece, value, [o for o in starts if isinstance(o, ir.Value)], [], [],
                [o if isinstance(o, int) else ir.ShapedType.get_dynamic_size() for o in starts],
                extents, [1] * len(dims)).result)
            slice_maps.append(ir.AffineMapAttr.get(indexing))
        epilogue = linalg.GenericOp([tile.type], slices, [tile], ir.ArrayAttr.get(slice_maps + [
            ir.AffineMapAttr.get(maps[-1])]), consumer.attributes["iterator_types"])
        body = epilogue.regions[0].blocks.append(*[ir.RankedTensorType(v.type).element_type for v in slices + [tile]])
        done = _unreshaped(epilogue.result, reshapes, types)
    old = consumer.regions[0].blocks[0]
    new_args = iter(body.arguments)
    for value, argument in zip(inputs, old.arguments):
        argument.replace_all_uses_with(body.arguments[len(slices)] if value == view else next(new_args))
    for op in list(old.operations):
        body.append(op)
    offset_indices(epilogue, offsets)  # a gather's positions are the whole result's, not the tile's
    insert.operands[0] = done
    consumer.results[0].replace_all_uses_with(view)
    consumer.operation.erase()
    return epilogue


def _scaled(iv: ir.Value, size: int) -> ir.Value:
    """`iv * size` as an index."""
    if size == 1:
        return iv
    scale = ir.AffineMap.get(1, 0, [ir.AffineMulExpr.get(ir.AffineDimExpr.get(0), ir.AffineConstantExpr.get(size))])
    return affine.AffineApplyOp(scale, [iv]).result


def _reshaped(tile: ir.Value, reshapes: list[ir.OpView], box: Box) -> tuple[ir.Value, list[ir.Type]]:
    """The loop's tile reshaped as `reshapes` reshape the loop's result, and
    its type before each reshape."""
    types = []
    for reshape in reshapes:
        types.append(tile.type)
        box = _reshaped_box(box, reshape)
        shaped = ir.RankedTensorType.get(list(box.sizes), ir.RankedTensorType(tile.type).element_type)
        tile = _reshape(reshape.name, shaped, tile, reshape.attributes["reassociation"])
    return tile, types


def _unreshaped(tile: ir.Value, reshapes: list[ir.OpView], types: list[ir.Type]) -> ir.Value:
    """The consumer's tile reshaped back to the loop's: each reshape undone, last first."""
    inverse = {"tensor.collapse_shape": "tensor.expand_shape", "tensor.expand_shape": "tensor.collapse_shape"}
    for reshape, shaped in zip(reversed(reshapes), reversed(types)):
        tile = _reshape(inverse[reshape.name], shaped, tile, reshape.attributes["reassociation"])
    return tile


def _reshape(name: str, shaped: ir.RankedTensorType, tile: ir.Value, reassociation: ir.Attribute) -> ir.Value:
    if name == "tensor.collapse_shape":
        return tensor.CollapseShapeOp(shaped, tile, reassociation).result
    return tensor.ExpandShapeOp(shaped, tile, reassociation, [], list(ir.RankedTensorType(shaped).shape)).result


def _offsets(insert: ir.OpView) -> list[ir.Value | int]:
    """The insert's offsets, each a static int or its dynamic value."""
    values = iter(insert.offsets)
    dynamic = ir.ShapedType.get_dynamic_size()
    return [next(values) if offset == dynamic else offset for offset in insert.static_offsets]
