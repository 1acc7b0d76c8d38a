"""wafer-split-epilogues: apply an elementwise consumer of a split contraction to each part's result."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .fuse import is_elementwise
from .fuse_epilogues import static_tiling
from .linalg_builders import iterator_types_attr
from .linalg_queries import indexing_maps, reads_loop_indices, reassociation_groups
from .pass_base import WaferPass, find_ops

@dataclass(frozen=True)
class Piece:
    """A static box of a tensor: per dim, its offset and size."""

    offsets: tuple[int, ...]
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class SplitResult:
    """A tensor made of two parts' results: `first` inserted into `init` at
    `first_box` (the `inner` insert), then `rest` at `rest_box` (`outer`)."""

    first: ir.Value
    first_box: Piece
    rest: ir.Value
    rest_box: Piece
    init: ir.Value
    inner: ir.OpView  # the first insert
    outer: ir.OpView  # the second insert


@dataclass(frozen=True)
class SplitEpilogues(WaferPass):
    """Apply an elementwise consumer of a split contraction's result to each
    part's result, so that it can join the first part's loop.

    wafer-pack-matmul splits a contraction whose M or N is ragged
    (SqueezeNet's 111x111 and 55x55 maps) into parts whose results are
    inserted one after the other into one tensor. A consumer of that tensor
    (the convolution's ReLU) was one more pass over it at memory speed:
    wafer-fuse-epilogues moves a consumer into one loop's tiles only. Where
    the two parts' boxes tile the tensor, the consumer is its only user and
    the first part is an `scf.forall` of static tiles, the consumer is
    applied to each part's result; the first part's piece then fuses into
    that loop's tiles (wafer-fuse-epilogues). The pieces go into the tensor
    both parts started from (where it has the result's type), so that each
    is written where its part was computed, in place; the second part's
    init becomes a copy of that tensor's slice (see
    `_read_rest_init_before_first`). A consumer that reads the tensor
    through an expand_shape (a convolution's NCHW view of [channels,
    pixels]) is applied in the tensor's own shape: its init and the inputs
    it reads whole are collapsed alike, and its other inputs may read only
    dims the reshape leaves alone (a per-channel bias).
    """

    name = "wafer-split-epilogues"
    summary = "Apply an elementwise consumer of a split contraction to each part's result"

    def apply(self, module: ir.Operation) -> None:
        for consumer in find_ops(module, lambda op: op.name == "linalg.generic"):
            _distribute(consumer.opview)  # its pieces read no split: they need no second look


def _distribute(consumer: ir.OpView) -> None:
    """Rewrite `consumer` over the parts of the split result it reads, if it reads one."""
    if not _plain_elementwise(consumer):
        return
    n_inputs = len(consumer.operands) - 1
    maps = indexing_maps(consumer)
    identity = ir.AffineMap.get_identity(maps[-1].n_dims)
    for position in range(n_inputs):
        value = consumer.operands[position]
        if maps[position] != identity or len(list(value.uses)) != 1:
            continue
        reshape = value.owner if isinstance(value.owner, ir.OpView) and value.owner.name == "tensor.expand_shape" \
            else None
        tensor_value = reshape.operands[0] if reshape is not None else value
        split = _split_result(tensor_value)
        if split is None or (reshape is not None and len(list(tensor_value.uses)) != 1) \
                or not _from_static_tiles(split.first):
            continue
        groups = reassociation_groups(reshape) if reshape is not None else [[d] for d in range(maps[-1].n_dims)]
        collapsed = _collapsed_maps(maps, groups, position)
        if collapsed is None:
            continue
        _rewrite(consumer, position, reshape, groups, collapsed, split)
        return


def _from_static_tiles(value: ir.Value) -> bool:
    """Whether `value` is an `scf.forall` result (or a reshape of one) whose tiles
    wafer-fuse-epilogues can apply a consumer to. Elsewhere the consumer's
    pieces would only be smaller passes than the whole, and an oddly shaped one
    may not vectorize (a GELU over a 576x81 corner ran as scalar code)."""
    while isinstance(value.owner, ir.OpView) and value.owner.name in ("tensor.collapse_shape", "tensor.expand_shape"):
        value = value.owner.operands[0]
    owner = value.owner
    return isinstance(owner, ir.OpView) and owner.name == "scf.forall" and static_tiling(owner) is not None


def _plain_elementwise(op: ir.OpView) -> bool:
    """An elementwise generic whose body reads no init and no loop positions,
    asserts nothing and has no regions."""
    if not is_elementwise(op) or reads_loop_indices(op) or not all(
            isinstance(v.type, ir.RankedTensorType) and v.type.has_static_shape for v in op.operands):
        return False
    body = op.regions[0].blocks[0]
    init_arg = body.arguments[len(op.operands) - 1]
    return not list(init_arg.uses) and all(len(inner.regions) == 0 and inner.name != "cf.assert"
                                           for inner in body.operations)


def _static_box(slice_op: ir.OpView) -> Piece | None:
    """The box an extract_slice reads or an insert_slice writes, if static and unit-stride."""
    offsets, sizes = list(slice_op.static_offsets), list(slice_op.static_sizes)
    if any(s != 1 for s in slice_op.static_strides) or ir.ShapedType.get_dynamic_stride_or_offset() in offsets \
            or ir.ShapedType.get_dynamic_size() in sizes:
        return None
    return Piece(tuple(offsets), tuple(sizes))


def _split_result(value: ir.Value) -> SplitResult | None:
    """`value` as insert(rest into insert(first into init)), the two boxes tiling it."""
    outer = value.owner
    if not isinstance(outer, ir.OpView) or outer.name != "tensor.insert_slice":
        return None
    inner = outer.operands[1].owner
    if not isinstance(inner, ir.OpView) or inner.name != "tensor.insert_slice":
        return None
    first_box, rest_box = _static_box(inner), _static_box(outer)
    if first_box is None or rest_box is None:
        return None
    shape = ir.RankedTensorType(value.type).shape
    differing = [d for d in range(len(shape)) if (first_box.offsets[d], first_box.sizes[d]) != (0, shape[d])
                 or (rest_box.offsets[d], rest_box.sizes[d]) != (0, shape[d])]
    if len(differing) != 1:
        return None
    d = differing[0]
    tiles = (first_box.offsets[d] == 0 and rest_box.offsets[d] == first_box.sizes[d]
             and first_box.sizes[d] + rest_box.sizes[d] == shape[d])
    return SplitResult(inner.operands[0], first_box, outer.operands[0], rest_box, inner.operands[1], inner,
                       outer) if tiles else None


def _collapsed_maps(maps: list[ir.AffineMap], groups: list[list[int]], split: int) -> list[ir.AffineMap] | None:
    """The consumer's maps over the collapsed loops (one per group), or None
    where an input reads part of a group. The split input and the init read
    everything (identity); another input read whole is collapsed too (see
    `_whole`); any other may read only ungrouped loops or constant 0s."""
    group_of = {d: g for g, group in enumerate(groups) for d in group}
    identity = ir.AffineMap.get_identity(maps[-1].n_dims)
    collapsed_identity = ir.AffineMap.get_identity(len(groups))
    result = []
    for position, affine_map in enumerate(maps):
        if position == split or affine_map == identity:
            result.append(collapsed_identity)
            continue
        exprs = []
        for expr in affine_map.results:
            if isinstance(expr, ir.AffineConstantExpr) and expr.value == 0:
                exprs.append(expr)
            elif isinstance(expr, ir.AffineDimExpr) and len(groups[group_of[expr.position]]) == 1:
                exprs.append(ir.AffineDimExpr.get(group_of[expr.position]))
            else:
                return None
        result.append(ir.AffineMap.get(len(groups), 0, exprs))
    return result


def _rewrite(consumer: ir.OpView, position: int, reshape: ir.OpView | None, groups: list[list[int]],
             maps: list[ir.AffineMap], split: SplitResult) -> None:
    n_inputs = len(consumer.operands) - 1
    original = indexing_maps(consumer)
    identity = ir.AffineMap.get_identity(original[-1].n_dims)
    with ir.InsertionPoint(consumer), consumer.location:
        operands = [_whole(v, reshape, groups) if i != position and original[i] == identity else v
                    for i, v in enumerate(list(consumer.operands)[:n_inputs])]
        init = _whole(consumer.operands[n_inputs], reshape, groups)
        # The parts' own init, where it can hold the result: each piece then goes
        # back where its part was computed, in place, with no copy.
        result = split.init if split.init.type == init.type else init
        for part, box in ((split.first, split.first_box), (split.rest, split.rest_box)):
            inputs = [part if i == position else _sliced(operands[i], maps[i], box) for i in range(n_inputs)]
            piece = _generic_like(consumer, inputs, _slice(result, box), maps)
            result = _insert(piece, result, box)
        if reshape is not None:
            result = tensor.ExpandShapeOp(consumer.results[0].type, result, reshape.attributes["reassociation"], [],
                                          static_output_shape=ir.RankedTensorType(consumer.results[0].type).shape
                                          ).result
    consumer.results[0].replace_all_uses_with(result)
    consumer.operation.erase()
    if reshape is not None:
        reshape.operation.erase()
    _read_rest_init_before_first(split)


def _whole(value: ir.Value, reshape: ir.OpView | None, groups: list[list[int]]) -> ir.Value:
    """`value`, read whole by the consumer, in the collapsed shape."""
    if reshape is None:
        return value
    source = ir.RankedTensorType(value.type)
    shape = [1] * len(groups)
    for g, group in enumerate(groups):
        for d in group:
            shape[g] *= source.shape[d]
    return tensor.CollapseShapeOp(ir.RankedTensorType.get(shape, source.element_type), value,
                                  reshape.attributes["reassociation"]).result


def _sliced(value: ir.Value, affine_map: ir.AffineMap, box: Piece) -> ir.Value:
    """The part of input `value` that the loops of `box` read through `affine_map`."""
    offsets, sizes = [], []
    for expr, extent in zip(affine_map.results, ir.RankedTensorType(value.type).shape):
        if isinstance(expr, ir.AffineDimExpr):
            offsets.append(box.offsets[expr.position])
            sizes.append(box.sizes[expr.position])
        else:
            offsets.append(0)
            sizes.append(extent)
    return _slice(value, Piece(tuple(offsets), tuple(sizes)))


def _slice(value: ir.Value, box: Piece) -> ir.Value:
    result = ir.RankedTensorType.get(list(box.sizes), ir.RankedTensorType(value.type).element_type)
    return tensor.ExtractSliceOp(result, value, [], [], [], list(box.offsets), list(box.sizes),
                                 [1] * len(box.sizes)).result


def _insert(piece: ir.Value, dest: ir.Value, box: Piece) -> ir.Value:
    return tensor.InsertSliceOp(piece, dest, [], [], [], list(box.offsets), list(box.sizes),
                                [1] * len(box.sizes)).result


def _generic_like(consumer: ir.OpView, inputs: list[ir.Value], init: ir.Value,
                  maps: list[ir.AffineMap]) -> ir.Value:
    """A copy of `consumer`'s body over `inputs` and `init`, through `maps`."""
    copy = consumer.operation.clone()
    rank = maps[0].n_dims
    attributes = {
        "indexing_maps": ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps]),
        "iterator_types": iterator_types_attr(*["parallel"] * rank),
        "operandSegmentSizes": ir.DenseI32ArrayAttr.get([len(inputs), 1]),
    }
    generic = ir.Operation.create("linalg.generic", results=[init.type], operands=inputs + [init],
                                  attributes=attributes, regions=1)
    old = copy.regions[0].blocks[0]
    block = generic.regions[0].blocks.append(*[a.type for a in old.arguments])
    for before, after in zip(old.arguments, block.arguments):
        before.replace_all_uses_with(after)
    for inner in list(old.operations):
        inner.detach_from_parent()
        block.append(inner)
    copy.erase()
    return generic.results[0]


def _read_rest_init_before_first(split: SplitResult) -> None:
    """The second part reads its init as a slice of the first insert's result,
    which the first part's result then feeds as well. Read it as a copy of
    the init both started from instead (the boxes are disjoint), so that the
    consumer's piece is the first part's result's only user. A copy made
    where that init is defined: a view of it, read after the first part wrote
    its box in place, would make bufferization copy all of it."""
    for use in list(split.inner.results[0].uses):
        reader = use.owner
        if reader.name != "tensor.extract_slice" or _static_box(reader) != split.rest_box:
            continue
        owner = split.init.owner
        after = ir.InsertionPoint.after(owner) if isinstance(owner, ir.OpView) else \
            ir.InsertionPoint.at_block_begin(split.init.owner)
        with after, reader.location:
            piece = _slice(split.init, split.rest_box)
            empty = tensor.EmptyOp(list(split.rest_box.sizes), ir.RankedTensorType(piece.type).element_type)
            copy = linalg.copy(piece, outs=[empty.result])
        reader.results[0].replace_all_uses_with(copy)
        reader.operation.erase()
