"""wafer-fold-channel-affine: fold a convolution's per-channel scale and shift (batch norm) into its filters and bias."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .constant_pack import ConstantReader
from .linalg_builders import affine_maps, iterator_types_attr
from .linalg_queries import PARALLEL, indexing_maps, iterator_types
from .pack_matmul import record_strategy
from .pass_base import WaferPass, find_ops
from .resource_blobs import aligned_copy, resource_attr

# Convolutions whose filters' dim 0 is the output channel (dim 1 of the result).
_CONVS = ("linalg.conv_1d_ncw_fcw", "linalg.conv_2d_nchw_fchw", "linalg.depthwise_conv_2d_nchw_chw")
_CHANNEL = 1


@dataclass(frozen=True)
class FoldChannelAffine(WaferPass):
    """Fold the per-channel adds, subtracts, multiplies and divisions by
    constants that follow a convolution into its filters and bias.

    An eval-mode batch norm reaches linalg as (conv - mean) * rsqrt(var + eps)
    * gamma + beta: after fusion, an epilogue of four per-channel reads and
    ops on every output element, which cost a 1x1 convolution over a 112x112
    image as much as its product (MobileNet-v2's expansions). With constant
    filters, the chain is a * conv + b per channel: the filters become a * W,
    computed here once, as ONNX Runtime and PyTorch's fuse_conv_bn_eval do,
    and b joins the convolution's bias, or, where it has none, is added
    after it, where the epilogue reads it per channel: made the init of C, it
    cost a 3x3 convolution a pass over C. The per-channel operands may themselves
    be computed from constants (the rsqrt of the variance): the wse target's
    numpy interpreter evaluates them at compile time.

    Applies to f32 and f16 convolutions with constant filters whose output
    channel is the filters' dim 0 (NCHW convolutions, depthwise ones), an init
    that is zero or a constant per-channel bias, and a chain of single-use
    elementwise generics each combining the running value with a constant
    read per channel. At 16 bits the chain runs in f32 between conversions
    (PyTorch's half batch norm); it folds up to its last value of the
    convolution's type, the scale and shift computed in f32, the folded
    filters rounded once to f16.
    """

    name = "wafer-fold-channel-affine"
    summary = "Fold per-channel affine consumers of a convolution (batch norm) into its filters and bias"

    def apply(self, module: ir.Operation) -> None:
        constants = _Constants(ConstantReader(module))
        for conv in find_ops(module, lambda op: op.name in _CONVS):
            _fold(conv.opview, constants)


def _fold(conv: ir.OpView, constants: _Constants) -> None:
    filters, result = constants.array(conv.operands[1]), conv.results[0]
    if filters is None or filters.dtype not in _FLOATS \
            or not isinstance(result.type.element_type, (ir.F32Type, ir.F16Type)):
        return
    channels = result.type.shape[_CHANNEL]
    bias = _bias(conv.operands[2], channels, constants)
    if bias is None:
        return
    scale, shift = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    chain, value, folds = [], result, ([], None, scale, shift)  # the longest prefix that ends at the conv's type
    while (step := _affine_step(value, channels, constants) or _conversion(value)) is not None:
        op, a, b = step
        scale, shift = scale * a, shift * a + b
        chain.append(op)
        value = op.results[0]
        if value.type == result.type and any(_body_op(op).name in _AFFINE for op in chain):
            folds = (list(chain), value, scale, shift)
    chain, value, scale, shift = folds
    if not chain:
        return
    element = result.type.element_type
    dtype = np.float16 if isinstance(element, ir.F16Type) else np.float32
    with ir.InsertionPoint(conv), conv.location:
        new_filters = _constant(filters.astype(np.float32) * scale.reshape((channels,) + (1,) * (filters.ndim - 1)),
                                conv.operands[1].type, "folded_filters", filters.dtype)
        channel_type = ir.RankedTensorType.get([channels], element)
        has_bias = conv.operands[2].owner.name == "linalg.broadcast"
        if has_bias:  # it takes the shift too
            init = _broadcast(_constant(bias * scale + shift, channel_type, "folded_bias", dtype), result.type)
        else:  # zeros: the shift is added after, where the epilogue reads it per channel
            init, shift_values = conv.operands[2], _constant(shift, channel_type, "folded_shift", dtype)
        folded = conv.operation.clone()
        folded.operands[1] = new_filters
        folded.operands[2] = init
        folded_value = folded.results[0] if has_bias else _add_per_channel(folded.results[0], shift_values)
    names = ", ".join(dict.fromkeys(_body_op(op).name.removeprefix("arith.") for op in chain
                                    if _body_op(op).name in _AFFINE))
    record_strategy(conv, f"per-channel {names} folded into the filters")
    value.replace_all_uses_with(folded_value)
    for op in reversed(chain):
        op.operation.erase()
    conv.operation.erase()


def _broadcast(channel_values: ir.Value, type_: ir.RankedTensorType) -> ir.Value:
    """`channel_values` along every dim of `type_` but the channel."""
    empty = tensor.EmptyOp(type_.shape, type_.element_type)
    return linalg.broadcast(channel_values, outs=[empty.result],
                            dimensions=[d for d in range(type_.rank) if d != _CHANNEL]).results[0]


def _add_per_channel(value: ir.Value, channel_values: ir.Value) -> ir.Value:
    """value + channel_values[c], as an elementwise generic."""
    rank = value.type.rank
    dims = [ir.AffineDimExpr.get(d) for d in range(rank)]
    empty = tensor.EmptyOp(value.type.shape, value.type.element_type)
    add = linalg.GenericOp([value.type], [value, channel_values], [empty.result],
                           affine_maps(rank, dims, [dims[_CHANNEL]], dims), iterator_types_attr(*["parallel"] * rank))
    element = value.type.element_type
    block = add.regions[0].blocks.append(element, element, element)
    with ir.InsertionPoint(block):
        linalg.YieldOp([arith.addf(block.arguments[0], block.arguments[1])])
    return add.results[0]


def _constant(array: np.ndarray, type_: ir.RankedTensorType, name: str, dtype) -> ir.Value:
    """`array`, rounded to `dtype` (the element type of `type_`), as a constant."""
    return arith.ConstantOp(type_, resource_attr(aligned_copy(array.astype(dtype)), name, type_, owned=True)).result


def _bias(init: ir.Value, channels: int, constants: _Constants) -> np.ndarray | None:
    """The per-channel values a convolution's init holds: zeros for a fill of
    0, the constant of a broadcast along every dim but the channel; None for
    anything else."""
    owner = init.owner
    if not isinstance(owner, ir.OpView):
        return None
    if owner.name == "linalg.fill":
        value = constants.array(owner.operands[0])
        return np.zeros(channels, np.float32) if value is not None and value.size == 1 and value == 0 else None
    if owner.name == "linalg.broadcast":
        dims = list(owner.attributes["dimensions"])
        kept = [d for d in range(len(init.type.shape)) if d not in dims]
        value = constants.array(owner.operands[0])
        if kept == [_CHANNEL] and value is not None and value.dtype in _FLOATS:
            return value.astype(np.float32).reshape(channels)
    return None


_AFFINE = ("arith.addf", "arith.subf", "arith.mulf", "arith.divf")
_CONVERSIONS = ("arith.extf", "arith.truncf")
_FLOATS = (np.float32, np.float16)


def _body_op(op: ir.OpView) -> ir.Operation:
    return list(op.regions[0].blocks[0].operations)[0]


def _sole_user(value: ir.Value, operands: int) -> ir.OpView | None:
    """The linalg.generic of `operands` operands and one result that is
    `value`'s only use, if it is one."""
    uses = list(value.uses)
    if len(uses) != 1:
        return None
    op = uses[0].owner
    if not isinstance(op, ir.OpView) or op.name != "linalg.generic" or len(op.operands) != operands \
            or len(op.results) != 1:
        return None
    return op


def _affine_step(value: ir.Value, channels: int, constants: _Constants):
    """(op, a, b) when `value`'s only use is an elementwise generic computing
    a * value + b per channel with a, b constant; else None."""
    op = _sole_user(value, operands=3)
    if op is None or op.results[0].type != value.type or any(kind != PARALLEL for kind in iterator_types(op)):
        return None
    block = op.regions[0].blocks[0]
    body = list(block.operations)
    if len(body) != 2 or body[0].name not in _AFFINE or body[1].operands[0] != body[0].result:
        return None
    position = list(op.operands).index(value)
    if position > 1:
        return None
    other = op.operands[1 - position]
    maps = indexing_maps(op)
    if maps[position] != ir.AffineMap.get_identity(maps[position].n_dims) or maps[2] != maps[position]:
        return None
    per_channel = _per_channel(constants.array(other), maps[1 - position], channels)
    if per_channel is None:
        return None
    x, c = block.arguments[position], block.arguments[1 - position]
    lhs, rhs = body[0].operands
    if {lhs, rhs} != {x, c}:
        return None
    kind = body[0].name
    if kind == "arith.addf":
        return op, np.ones(channels, np.float32), per_channel
    if kind == "arith.mulf":
        return op, per_channel, np.zeros(channels, np.float32)
    if kind == "arith.subf":
        return (op, np.ones(channels, np.float32), -per_channel) if lhs == x else (op, -np.ones(channels, np.float32), per_channel)
    if lhs == x:  # x / c; c / x is no affine map of x
        return op, (1 / per_channel).astype(np.float32), np.zeros(channels, np.float32)
    return None


def _conversion(value: ir.Value):
    """(op, 1, 0) when `value`'s only use is an elementwise generic that only
    converts it between f16 and f32; else None."""
    op = _sole_user(value, operands=2)
    if op is None or op.operands[0] != value:
        return None
    body = list(op.regions[0].blocks[0].operations)
    identity = ir.AffineMap.get_identity(len(value.type.shape))
    converted = op.regions[0].blocks[0].arguments[0]
    if len(body) != 2 or body[0].name not in _CONVERSIONS or body[0].operands[0] != converted \
            or any(affine_map != identity for affine_map in indexing_maps(op)):
        return None
    channels = value.type.shape[_CHANNEL]
    return op, np.ones(channels, np.float32), np.zeros(channels, np.float32)


def _per_channel(array: np.ndarray | None, affine_map: ir.AffineMap, channels: int) -> np.ndarray | None:
    """`array`, read through `affine_map`, as one f32 value per channel, when it
    varies along the channel loop at most (a [1, C, 1, 1] read as (0, d1, 0, 0),
    a [C] read as (d1), a scalar read as ())."""
    if array is None or array.dtype != np.float32:
        return None
    for expr, size in zip(affine_map.results, array.shape):
        if size != 1 and not (isinstance(expr, ir.AffineDimExpr) and expr.position == _CHANNEL):
            return None
    if array.size == 1:
        return np.full(channels, array.reshape(()), np.float32)
    return array.reshape(channels) if array.size == channels else None


class _Constants:
    """Values computed from constants only, evaluated at compile time: an
    `arith.constant` (dense, splat or a blob), a reshape of one, or a linalg
    op on them (the batch norm's rsqrt(var + eps)), by the wse target's numpy
    interpreter."""

    def __init__(self, reader: ConstantReader):
        self._reader = reader
        self._known: dict = {}

    def array(self, value: ir.Value) -> np.ndarray | None:
        if value not in self._known:
            self._known[value] = self._evaluate(value)
        return self._known[value]

    def _evaluate(self, value: ir.Value) -> np.ndarray | None:
        owner = value.owner
        if not isinstance(owner, ir.OpView):
            return None
        if owner.name == "arith.constant":
            attr = owner.attributes["value"]
            if isinstance(attr, ir.FloatAttr) and isinstance(attr.type, (ir.F32Type, ir.F16Type)):
                return np.array(attr.value, np.float32)
            if isinstance(attr, ir.DenseElementsAttr) and attr.is_splat:
                return np.full(value.type.shape, attr.get_splat_value().value, np.float32) \
                    if isinstance(value.type.element_type, ir.F32Type) else None
            return self._reader.array(value)
        if not isinstance(value.type, ir.RankedTensorType):
            return None
        if owner.name in ("tensor.expand_shape", "tensor.collapse_shape"):
            source = self.array(owner.operands[0])
            return None if source is None else source.reshape(value.type.shape)
        if owner.name == "tensor.empty":
            return np.zeros(value.type.shape, np.float32) if isinstance(value.type.element_type, ir.F32Type) else None
        if owner.name in ("linalg.generic", "linalg.broadcast", "linalg.fill") and len(owner.results) == 1:
            # Imported here: the interpreter imports this package's queries.
            from ..wse_target.interpreter import InterpreterError, evaluate

            operands = [self.array(v) for v in owner.operands]
            if any(a is None for a in operands):
                return None
            try:
                (result,) = evaluate(owner.operation, operands)
            except InterpreterError:
                return None
            return np.asarray(result)
        return None
