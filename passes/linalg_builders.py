"""Small builders and queries for the linalg ops Wafer's passes create and match."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor, vector

from .linalg_queries import constant_int, iterator_attr, iterator_types


def reassociation(*groups: list[int]) -> ir.ArrayAttr:
    """The dim groups of a tensor.expand_shape or collapse_shape."""
    i64 = ir.IntegerType.get_signless(64)
    return ir.ArrayAttr.get([ir.ArrayAttr.get([ir.IntegerAttr.get(i64, d) for d in g]) for g in groups])


def index_constant(value: int) -> ir.Value:
    """An index `arith.constant`, built at the current insertion point."""
    return arith.ConstantOp(ir.IndexType.get(), value).result


def iterator_types_attr(*kinds: str) -> ir.ArrayAttr:
    """A generic's `iterator_types` of loop kinds by name ("parallel", "reduction")."""
    return ir.ArrayAttr.get([iterator_attr(linalg.IteratorType[kind]) for kind in kinds])


def iterator_kinds(op: ir.Operation) -> list[str]:
    """linalg_queries.iterator_types by name, for wafer-fuse until it reads those."""
    return [kind.name for kind in iterator_types(op)]


def is_constant(value: ir.Value) -> bool:
    """A constant, looking through reshapes (im2col collapses filters, torch-mlir
    expands batch norm's statistics)."""
    owner = value.owner
    while isinstance(owner, ir.OpView) and owner.name in ("tensor.collapse_shape", "tensor.expand_shape"):
        owner = owner.operands[0].owner
    return isinstance(owner, ir.OpView) and owner.name == "arith.constant"


def is_named(op: ir.Operation | ir.OpView | ir.Block, *names: str) -> bool:
    """Whether `op` (a value's owner, which may be a block) is an op of one of `names`."""
    return isinstance(op, (ir.Operation, ir.OpView)) and op.name in names


def fill_value(value: ir.Value) -> float | None:
    """The float constant a linalg.fill writes into `value`; None for any other value."""
    fill = value.owner
    if not (isinstance(fill, ir.OpView) and fill.name == "linalg.fill"):
        return None
    constant = fill.operands[0].owner
    if not (isinstance(constant, ir.OpView) and constant.name == "arith.constant"
            and isinstance(constant.attributes["value"], ir.FloatAttr)):
        return None
    return constant.attributes["value"].value


def is_zero_fill(value: ir.Value) -> bool:
    """Whether `value` is the result of a linalg.fill of the constant 0.0."""
    return fill_value(value) == 0.0


def is_bool(element: ir.Type) -> bool:
    return isinstance(element, ir.IntegerType) and element.width == 1


def copied_through(value: ir.Value, shape: list[int], source: list[ir.AffineExpr]) -> ir.Value:
    """A generic that fills a new tensor of `shape` with `value` read at
    `source` (one expression of the new tensor's dims per dim of `value`):
    a gather of windows, a transpose. Built at the current insertion point."""
    element = ir.ShapedType(value.type).element_type
    empty = tensor.EmptyOp(shape, element).result
    dims = [ir.AffineDimExpr.get(i) for i in range(len(shape))]
    copy = linalg.GenericOp([empty.type], [value], [empty], affine_maps(len(shape), source, dims),
                            iterator_types_attr(*["parallel"] * len(shape)))
    block = copy.regions[0].blocks.append(element, element)
    with ir.InsertionPoint(block):
        linalg.YieldOp([block.arguments[0]])
    return copy.results[0]


def elementwise(inputs: list[ir.Value], shape: list[int], body, input_maps=None, element=None) -> ir.Value:
    """A generic over `shape` computing body(*elements) of `element` (f32 by
    default); inputs read by identity unless mapped. Built at the current insertion point."""
    rank = len(shape)
    dims = [ir.AffineDimExpr.get(d) for d in range(rank)]
    maps = input_maps or [dims] * len(inputs)
    element = element or ir.F32Type.get()
    init = tensor.empty(shape, element)
    generic = linalg.GenericOp([init.type], inputs, [init], affine_maps(rank, *maps, dims),
                               iterator_types_attr(*["parallel"] * rank))
    block = generic.regions[0].blocks.append(*[v.type.element_type for v in inputs], element)
    with ir.InsertionPoint(block):
        linalg.YieldOp([body(*block.arguments[:len(inputs)])])
    return generic.result


def multiply_accumulate(inputs: list[ir.Value], init: ir.Value, maps: list[ir.AffineMap],
                        iterators: list[str]) -> linalg.GenericOp:
    """A generic computing init += inputs[0] * inputs[1] over `maps`: a matmul-like
    contraction that wafer-pack-matmul recognizes. Inputs narrower than the
    init (f16 into an f32 accumulator) are widened in the body, as torch-mlir
    imports a 16-bit matmul. Built at the current insertion point."""
    element = init.type.element_type
    generic = linalg.GenericOp([init.type], inputs, [init],
                               ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps]),
                               iterator_types_attr(*iterators))
    block = generic.regions[0].blocks.append(*[v.type.element_type for v in inputs], element)
    with ir.InsertionPoint(block):
        lhs, rhs = (arg if arg.type == element else arith.ExtFOp(element, arg).result
                    for arg in block.arguments[:2])
        product = arith.MulFOp(lhs, rhs)
        linalg.YieldOp([arith.AddFOp(block.arguments[2], product.result).result])
    return generic


def touches_bools(op: ir.Operation) -> bool:
    """Whether an operand or result holds i1 elements. A memref of i1 is a byte
    per element, but LLVM packs a loaded or stored vector of i1 as bits: a
    vector transfer of bools reads and writes the wrong bytes."""
    return any(isinstance(v.type, ir.ShapedType) and is_bool(ir.ShapedType(v.type).element_type)
               for v in [*op.operands, *op.results])


def is_static_f32(op: ir.OpView) -> bool:
    """Are all of `op`'s operands f32 tensors of static shape?"""
    return all(
        isinstance(v.type, ir.RankedTensorType) and v.type.has_static_shape
        and isinstance(v.type.element_type, ir.F32Type)
        for v in op.operands
    )


def int_list(attr: ir.Attribute) -> list[int]:
    """The values of a dense integer attribute (strides, dilations)."""
    return [int(v) for v in ir.DenseIntElementsAttr(attr)]


def affine_maps(rank: int, *results: list) -> ir.ArrayAttr:
    """`indexing_maps` of `rank` dims, one map per list of result expressions."""
    return ir.ArrayAttr.get([ir.AffineMapAttr.get(ir.AffineMap.get(rank, 0, r)) for r in results])


def largest_divisor(extent: int, limit: int) -> int:
    """The largest tile size up to `limit` that divides `extent`: every tile static."""
    return next(size for size in range(min(extent, limit), 0, -1) if extent % size == 0)


def splat(value: float | int, type_: ir.Type) -> ir.Value:
    """A constant float or integer scalar, or a vector of them all `value`."""
    element = ir.ShapedType(type_).element_type if isinstance(type_, ir.ShapedType) else type_
    attr = ir.FloatAttr.get(element, value) if isinstance(element, ir.FloatType) else ir.IntegerAttr.get(element, value)
    if isinstance(type_, ir.VectorType):
        attr = ir.DenseElementsAttr.get_splat(type_, attr)
    return arith.ConstantOp(type_, attr).result


def scaled(value: ir.Value, scale: int, offset: int = 0) -> ir.Value:
    """value * scale + offset."""
    return arith.addi(arith.muli(value, index_constant(scale)), index_constant(offset))


def read_vector(source: ir.Value, indices: list[ir.Value], lanes: int, pad: ir.Value, in_bounds: bool) -> ir.Value:
    """`lanes` elements of `source`'s innermost dim from `indices`; `pad` where out of bounds."""
    rank = source.type.rank
    return vector.TransferReadOp(ir.VectorType.get([lanes], source.type.element_type), source, indices,
                                 ir.AffineMap.get_minor_identity(rank, 1), pad, [in_bounds]).result


def write_vector(value: ir.Value, dest: ir.Value, indices: list[ir.Value], in_bounds: bool) -> ir.Value:
    """`dest` with the vector `value` written along its innermost dim from `indices`."""
    return vector.TransferWriteOp(dest.type, value, dest, indices,
                                  ir.AffineMap.get_minor_identity(dest.type.rank, 1), [in_bounds]).result


def _static_or_dynamic(values: list[ir.Value | int]) -> tuple[list[ir.Value], list[int]]:
    """Ints and constant indices as static offsets, the rest as dynamic operands."""
    dynamic, static = [], []
    for value in values:
        if isinstance(value, int):
            static.append(value)
            continue
        constant = constant_int(value)
        if constant is not None:
            static.append(constant)
        else:
            dynamic.append(value)
            static.append(ir.ShapedType.get_dynamic_stride_or_offset())
    return dynamic, static


def pad_high(value: ir.Value, high: list[int], padding: ir.Value) -> ir.Value:
    """`value` with `high[d]` more elements of `padding` at the end of each dim d."""
    return pad_value(value, [0] * len(high), high, padding)


def pad_value(value: ir.Value, low: list[int], high: list[int], padding: ir.Value) -> ir.Value:
    """`value` with `low[d]` elements of `padding` before each dim d and `high[d]` after."""
    shape = [size + before + after for size, before, after in zip(value.type.shape, low, high)]
    pad = tensor.PadOp(ir.RankedTensorType.get(shape, value.type.element_type), value, [], [], low, high)
    block = pad.region.blocks.append(*[ir.IndexType.get()] * len(shape))
    with ir.InsertionPoint(block):
        tensor.YieldOp(padding)
    return pad.result


def remade_init(init: ir.Value, shape: list[int], broadcast_dims=lambda dims: dims) -> ir.Value | None:
    """`init`'s `linalg.fill`, or its `linalg.broadcast` along `broadcast_dims`
    of the old broadcast dimensions, made again at `shape`: the init of a
    reshaped or sliced op that a strategy still reads as a fill or a bias.
    None for any other init, or where `broadcast_dims` gives None."""
    op = init.owner
    if not (isinstance(op, ir.OpView) and op.name in ("linalg.fill", "linalg.broadcast")):
        return None
    if op.name == "linalg.fill":
        return linalg.fill(op.operands[0], outs=[tensor.EmptyOp(shape, init.type.element_type).result])
    dims = broadcast_dims(list(ir.DenseI64ArrayAttr(op.attributes["dimensions"])))
    if dims is None:
        return None
    return linalg.broadcast(op.operands[0], outs=[tensor.EmptyOp(shape, init.type.element_type).result],
                            dimensions=dims)


def reshaped_back(reshape: ir.OpView, value: ir.Value) -> ir.Value:
    """`value`, of the type `reshape` makes, reshaped back to the type it reads."""
    source_type = reshape.operands[0].type
    groups = reshape.attributes["reassociation"]
    if reshape.name == "tensor.collapse_shape":
        return tensor.ExpandShapeOp(source_type, value, groups, [], static_output_shape=source_type.shape).result
    return tensor.CollapseShapeOp(source_type, value, groups).result


def extract_slice(source: ir.Value, offsets: list[ir.Value | int], sizes: list[int]) -> ir.Value:
    """The unit-stride slice of `source` of static `sizes` at `offsets`."""
    dynamic, static = _static_or_dynamic(offsets)
    result = ir.RankedTensorType.get(sizes, source.type.element_type)
    return tensor.ExtractSliceOp(result, source, dynamic, [], [], static, sizes, [1] * len(sizes)).result


def parallel_insert(value: ir.Value, dest: ir.Value, offsets: list[ir.Value], sizes: list[int]) -> None:
    """Insert `value` into the scf.forall's shared `dest` at `offsets` (in its in_parallel block)."""
    dynamic, static = _static_or_dynamic(offsets)
    tensor.ParallelInsertSliceOp(value, dest, dynamic, [], [], static, sizes, [1] * len(sizes))


def generic_like(op: ir.Operation, inputs: list[ir.Value], input_maps: list[ir.Attribute],
                 args: list[ir.Value | None], outputs: list[ir.Value] | None = None,
                 output_maps: list[ir.Attribute] | None = None) -> tuple[ir.Operation, ir.Block]:
    """A linalg.generic like `op` (its outputs, attributes and result types, or
    `outputs` through `output_maps`), built before it, that reads `inputs`
    through `input_maps`, and its empty body block. `args` are `op`'s block
    arguments in the new block's order, None for a new input's: each is
    replaced by its new argument (linalg wants one per operand)."""
    n_inputs, n_outputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])
    maps = list(op.attributes["indexing_maps"])
    if outputs is None:
        outputs, output_maps = list(op.operands)[n_inputs:], maps[n_inputs:]
    attributes = {name: op.attributes[name] for name in op.attributes}
    attributes["indexing_maps"] = ir.ArrayAttr.get(input_maps + output_maps)
    attributes["operandSegmentSizes"] = ir.DenseI32ArrayAttr.get([len(inputs), n_outputs])
    with ir.InsertionPoint(op), op.location:
        generic = ir.Operation.create("linalg.generic", results=[v.type for v in outputs],
                                      operands=inputs + outputs, attributes=attributes, regions=1)
    operands = inputs + outputs
    types = [ir.ShapedType(v.type).element_type if a is None else a.type for a, v in zip(args, operands)]
    block = generic.regions[0].blocks.append(*types, arg_locs=[op.location if a is None else a.location for a in args])
    for old, new in zip(args, block.arguments):
        if old is not None:
            old.replace_all_uses_with(new)
    return generic, block


def with_extra_inputs(op: ir.Operation, inputs: list[ir.Value],
                      maps: list[ir.AffineMap]) -> tuple[ir.Operation, list[ir.Value]]:
    """Replace linalg.generic `op` by one that also reads `inputs` through `maps`,
    after its own inputs, with `op`'s body moved in; the new generic and the new
    block arguments."""
    n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
    old_args = list(op.regions[0].blocks[0].arguments)
    generic, block = generic_like(
        op, list(op.operands)[:n_inputs] + inputs,
        list(op.attributes["indexing_maps"])[:n_inputs] + [ir.AffineMapAttr.get(m) for m in maps],
        old_args[:n_inputs] + [None] * len(inputs) + old_args[n_inputs:])
    _move_body(op, generic, block)
    return generic, list(block.arguments)[n_inputs:n_inputs + len(inputs)]


def without_unread_inputs(op: ir.Operation) -> ir.Operation:
    """Replace linalg.generic `op` by one without the inputs its body never reads,
    as long as the rest still bound every loop; the new generic (or `op`)."""
    n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
    old_args = list(op.regions[0].blocks[0].arguments)
    maps = list(op.attributes["indexing_maps"])
    kept = [i for i in range(n_inputs) if any(True for _ in old_args[i].uses)]
    bounded = {e.position for i in kept + list(range(n_inputs, len(maps)))
               for e in ir.AffineMapAttr(maps[i]).value.results if isinstance(e, ir.AffineDimExpr)}
    if len(kept) == n_inputs or len(bounded) < ir.AffineMapAttr(maps[0]).value.n_dims:
        return op
    generic, block = generic_like(op, [op.operands[i] for i in kept], [maps[i] for i in kept],
                                  [old_args[i] for i in kept] + old_args[n_inputs:])
    _move_body(op, generic, block)
    return generic


def _move_body(op: ir.Operation, generic: ir.Operation, block: ir.Block) -> None:
    """Move `op`'s body into `block` of `generic`, which replaces `op`."""
    move_body(op, block)
    for old, new in zip(op.results, generic.results):
        old.replace_all_uses_with(new)
    op.erase()


def offset_indices(generic: ir.Operation, offsets: list[ir.Value | int]) -> None:
    """Count the `linalg.index` positions of `generic`'s body from `offsets`
    (one per loop; 0 leaves a loop's as they are): a body moved onto a tile
    of the loops it was written for reads the tile's own positions otherwise."""
    for index in [op for op in generic.regions[0].blocks[0].operations if op.name == "linalg.index"]:
        offset = offsets[ir.IntegerAttr(index.attributes["dim"]).value]
        if isinstance(offset, int) and offset == 0:
            continue
        uses = [(use.owner, use.operand_number) for use in index.result.uses]
        with ir.InsertionPoint.after(index.operation), index.location:
            start = index_constant(offset) if isinstance(offset, int) else offset
            shifted = arith.AddIOp(index.result, start).result
        for owner, number in uses:
            owner.operands[number] = shifted


def clone_into(ops: list[ir.Operation], mapping: dict) -> None:
    """Clone `ops` at the insertion point, reading `mapping`'s values for the
    ones it names, and add each clone's results to it."""
    for inner in ops:
        clone = inner.clone()
        for i, value in enumerate(clone.operands):
            if value in mapping:
                clone.operands[i] = mapping[value]
        for old, new in zip(inner.results, clone.results):
            mapping[old] = new


def move_body(op: ir.Operation, block: ir.Block) -> None:
    """Move the ops of `op`'s body into `block` (whose arguments replaced its own)."""
    for inner in list(op.regions[0].blocks[0].operations):
        inner.detach_from_parent()
        block.append(inner)

