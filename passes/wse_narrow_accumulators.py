"""wse-narrow-accumulators: contractions over f16 operands accumulate in f16."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .linalg_builders import iterator_types_attr
from .pass_base import WaferPass, find_ops


@dataclass(frozen=True)
class WseNarrowAccumulators(WaferPass):
    """Retype each linalg reduction that reads f16 and accumulates in f32 to
    accumulate in f16.

    torch-mlir imports an f16 matmul or convolution as PyTorch computes it:
    f16 operands, an f32 accumulator, a truncation to f16 after. On a WSE the
    f32 accumulator makes the kernel `@fmachs` (16-bit multiply, 32-bit add),
    half the SIMD width of the all-16-bit `@fmach`. Narrowed, its init (a
    fill, or a bias broadcast that widened f16) becomes f16 too, and the
    consumers that truncated the result read it as it is. Run on the imported
    ops, named or generic, before fusion moves the casts apart.
    """

    name = "wse-narrow-accumulators"
    summary = "Accumulate f16 contractions in f16 rather than f32"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, _is_mixed_contraction):
            uses = [(use.owner, use.operand_number) for result in op.results for use in result.uses]
            _narrow_in_place(op)
            widened: dict[int, ir.Value] = {}
            for user, index in uses:
                if not _reads_narrowed(user, index):
                    value = user.operands[index]
                    key = id(value.owner) * 8 + value.result_number
                    if key not in widened:
                        with ir.InsertionPoint.after(op), op.location:
                            widened[key] = _elementwise_cast(value, ir.F32Type.get(), arith.ExtFOp)
                    user.operands[index] = widened[key]


def _is_f32(type_: ir.Type) -> bool:
    return isinstance(type_, ir.F32Type)


def _element(value: ir.Value) -> ir.Type | None:
    return ir.ShapedType(value.type).element_type if isinstance(value.type, ir.ShapedType) else None


def _n_inputs(op: ir.Operation) -> int:
    return ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]


def _accumulates(op: ir.Operation) -> bool:
    """A linalg op (named or generic) whose body reads its init: a reduction."""
    if not op.name.startswith("linalg.") or "operandSegmentSizes" not in op.attributes or len(op.regions) != 1:
        return False
    block = op.regions[0].blocks[0]
    outputs = list(block.arguments)[_n_inputs(op):]
    return any(any(True for _ in arg.uses) for arg in outputs)


def _is_mixed_contraction(op: ir.Operation) -> bool:
    """A reduction with f32 results whose float inputs are all f16."""
    if not _accumulates(op):
        return False
    inputs = list(op.operands)[:_n_inputs(op)]
    floats = [_element(v) for v in inputs if isinstance(_element(v), ir.FloatType)]
    return (bool(floats) and all(isinstance(e, ir.F16Type) for e in floats)
            and all(isinstance(r.type, ir.RankedTensorType) and _is_f32(_element(r)) for r in op.results)
            and _body_narrows(op))


def _body_narrows(op: ir.Operation) -> bool:
    """Can every f32 value of `op`'s body be retyped to f16, op by op?"""
    for inner in op.regions[0].blocks[0].operations:
        if len(inner.regions) or inner.name == "arith.bitcast":
            return False
        if any(_is_f32(r.type) for r in inner.results) and not inner.name.startswith(("arith.", "math.")):
            return False
        if inner.name == "arith.constant" and _is_f32(inner.results[0].type) \
                and not isinstance(inner.attributes["value"], ir.FloatAttr):
            return False
    return True


def _narrow_in_place(op: ir.Operation) -> None:
    """Retype `op`'s f32 operands (to their f16 twins), results and body values to f16."""
    f16 = ir.F16Type.get()
    for index, value in enumerate(list(op.operands)):
        if _is_f32(_element(value) or value.type):
            with ir.InsertionPoint(op), op.location:
                op.operands[index] = _f16_twin(value)
    for result in op.results:
        if _is_f32(_element(result)):
            result.set_type(_with_element(result.type, f16))
    if not op.regions:
        return
    block = op.regions[0].blocks[0]
    for arg in block.arguments:
        if _is_f32(arg.type):
            arg.set_type(f16)
    truncated: dict[int, ir.Value] = {}
    for inner in list(block.operations):
        for index, value in enumerate(inner.operands):
            if _is_f32(value.type) and _defined_outside(value, op):
                key = id(value.owner) * 8 + (value.result_number if isinstance(value.owner, ir.OpView) else 0)
                if key not in truncated:
                    with ir.InsertionPoint.at_block_begin(block), inner.location:
                        truncated[key] = arith.TruncFOp(f16, value).result
                inner.operands[index] = truncated[key]
        _narrow_body_op(inner, f16)


def _narrow_body_op(inner: ir.Operation, f16: ir.Type) -> None:
    """Retype one body op whose operands are narrowed already: a cast between
    f16 and f32 becomes its operand, an f32 constant an f16 one."""
    if inner.name in ("arith.extf", "arith.truncf") and inner.operands[0].type == f16 \
            and (_is_f32(inner.results[0].type) or inner.results[0].type == f16):
        inner.results[0].replace_all_uses_with(inner.operands[0])
        inner.erase()
    elif inner.name == "arith.constant" and _is_f32(inner.results[0].type):
        with ir.InsertionPoint(inner), inner.location:
            narrow = _f16_constant(inner)
        inner.results[0].replace_all_uses_with(narrow)
        inner.erase()
    else:
        for result in inner.results:
            if _is_f32(result.type):
                result.set_type(f16)


def _f16_constant(constant: ir.Operation) -> ir.Value:
    return arith.ConstantOp(ir.F16Type.get(), ir.FloatAttr(constant.attributes["value"]).value).result


def _f16_twin(value: ir.Value) -> ir.Value:
    """The f16 value that `arith.truncf` of the f32 `value` would give, built
    at the current insertion point: constants, empties, fills and broadcasts are
    retyped (copied first where something else reads them too), a generic that
    only widened f16 yields it unwidened, anything else is truncated."""
    owner = value.owner
    if isinstance(owner, ir.OpView):
        if owner.name == "arith.constant" and isinstance(owner.attributes["value"], ir.FloatAttr):
            return _f16_constant(owner.operation)
        if owner.name in ("tensor.empty", "linalg.fill", "linalg.broadcast") or _widens_f16(owner.operation):
            op = owner.operation if len(list(value.uses)) == 1 else owner.operation.clone(ir.InsertionPoint(owner))
            _narrow_in_place(op)
            return op.results[0]
    if _element(value) is None:
        return arith.TruncFOp(ir.F16Type.get(), value).result
    return _elementwise_cast(value, ir.F16Type.get(), arith.TruncFOp)


def _widens_f16(op: ir.Operation) -> bool:
    """A one-result parallel generic that yields an `arith.extf` of an f16 value."""
    if op.name != "linalg.generic" or len(op.results) != 1 or _accumulates(op) or not _body_narrows(op):
        return False
    *_, terminator = op.regions[0].blocks[0].operations
    owner = terminator.operands[0].owner
    return (isinstance(owner, ir.OpView) and owner.name == "arith.extf"
            and isinstance(owner.operands[0].type, ir.F16Type))


def _reads_narrowed(user: ir.Operation, index: int) -> bool:
    """Adapt a generic that reads the narrowed value as an input: its truncations
    of it fold away, any other use reads an extension. False for other users."""
    if user.name != "linalg.generic" or index >= _n_inputs(user):
        return False
    block = user.regions[0].blocks[0]
    arg = block.arguments[index]
    arg.set_type(_element(user.operands[index]))
    uses = [(use.owner, use.operand_number) for use in arg.uses]
    def folds(owner) -> bool:
        return owner.name == "arith.truncf" and owner.results[0].type == arg.type

    truncations = [owner for owner, _ in uses if folds(owner)]
    others = [(owner, number) for owner, number in uses if not folds(owner)]
    if others:
        with ir.InsertionPoint.at_block_begin(block), user.location:
            wide = arith.ExtFOp(ir.F32Type.get(), arg).result
        for owner, number in others:
            owner.operands[number] = wide
    for truncation in truncations:
        truncation.results[0].replace_all_uses_with(arg)
        truncation.erase()
    return True


def _defined_outside(value: ir.Value, op: ir.Operation) -> bool:
    owner = value.owner
    if isinstance(owner, ir.Block):
        return owner.owner != op
    return owner.operation.parent != op


def _with_element(type_: ir.Type, element: ir.Type) -> ir.RankedTensorType:
    shaped = ir.RankedTensorType(type_)
    return ir.RankedTensorType.get(shaped.shape, element, shaped.encoding)


def _elementwise_cast(value: ir.Value, element: ir.Type, cast) -> ir.Value:
    """A parallel generic applying `cast` to each element of `value`, giving
    `element`s; built at the current insertion point."""
    result_type = _with_element(value.type, element)
    rank = result_type.rank
    sizes = [tensor.dim(value, arith.constant(ir.IndexType.get(), d)) if result_type.is_dynamic_dim(d)
             else result_type.shape[d] for d in range(rank)]
    empty = tensor.EmptyOp(sizes, element)
    identity = ir.AffineMapAttr.get(ir.AffineMap.get_identity(rank))
    generic = linalg.GenericOp([result_type], [value], [empty.result], ir.ArrayAttr.get([identity, identity]),
                               iterator_types_attr(*["parallel"] * rank))
    block = generic.regions[0].blocks.append(_element(value), element)
    with ir.InsertionPoint(block):
        linalg.YieldOp([cast(element, block.arguments[0]).result])
    return generic.result
