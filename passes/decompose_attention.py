"""wafer-decompose-attention: masked attention as two contractions and a softmax."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, math as math_ops, tensor

from .linalg_builders import affine_maps, elementwise, is_bool, iterator_types_attr
from .linalg_queries import collapsed_heads
from .pass_base import WaferPass, find_ops

_ATTENTION = "tm_tensor.attention"
_ELEMENTS = (ir.F32Type, ir.F16Type, ir.BF16Type)


@dataclass(frozen=True)
class DecomposeAttention(WaferPass):
    """Rewrite each static f32, f16 or bf16 `tm_tensor.attention` as linalg ops.

    torch-mlir imports a `scaled_dot_product_attention` with a mask (an
    additive f32 mask, a boolean keep-mask, or `is_causal`'s) as one
    `tm_tensor.attention`, which only tm-tensor-to-loops lowers: scalar
    loops, and an op the WSE target cannot place. Unmasked attention it
    already imports as linalg. This pass gives the masked kind the same form,
    so the matmul kernels, fusion (wafer-attention-head-groups'
    groups of heads and blocks of queries) and the WSE target treat both alike:

        S = Q K^T                         (a batch_matmul over the batch dims as one)
        T = S * scale + mask              (or: mask ? S * scale : -inf)
        E = exp(T - rowmax(T))
        P = E * (1 / rowsum(E))
        O = P V                           (a batch_matmul as S)

    A row the mask hides entirely has rowmax -inf; it takes 0 in its place
    (so no inf - inf) and its output is 0, as in PyTorch. The default scale
    is 1/sqrt(head dim), as in tm_tensor.attention and PyTorch.
    At 16 bits, the contractions accumulate in f32 and the softmax runs in
    f32, as PyTorch computes it; E and O are rounded to 16 bits.
    Attention with dynamic shapes or other element types is left to
    tm-tensor-to-loops.
    """

    name = "wafer-decompose-attention"
    summary = "Rewrite tm_tensor.attention as contractions and a softmax in linalg"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == _ATTENTION):
            if _decomposable(op):
                with ir.InsertionPoint(op), op.location:
                    result = _decompose(op)
                op.results[0].replace_all_uses_with(result)
                op.erase()


def _decomposable(op: ir.Operation) -> bool:
    """Static float query, key, value and output of one rank and element type; a
    mask of the scores' shape, boolean or additive in any of those float types
    (a 16-bit model's mask made in its forward is f32)."""
    query, key, value, *mask, output = (v.type for v in op.operands)
    types = (query, key, value, output)
    if not all(isinstance(t, ir.RankedTensorType) and t.has_static_shape and t.rank >= 2 for t in types):
        return False
    element = query.element_type
    if len({t.rank for t in types}) != 1 or not isinstance(element, _ELEMENTS) \
            or any(t.element_type != element for t in types):
        return False
    if not mask:
        return True
    scores = [*query.shape[:-1], key.shape[-2]]
    (mask,) = mask
    return isinstance(mask, ir.RankedTensorType) and list(mask.shape) == scores and (
        isinstance(mask.element_type, _ELEMENTS) or is_bool(mask.element_type))


def _decompose(op: ir.Operation) -> ir.Value:
    query, key, value, *mask, _ = op.operands  # the output init: attention overwrites it
    element = query.type.element_type
    batch = list(query.type.shape[:-2])
    m, head = query.type.shape[-2:]
    n, width = value.type.shape[-2:]
    scale = (ir.FloatAttr(op.attributes["scale"]).value if "scale" in op.attributes
             else 1.0 / math.sqrt(head))

    # The contractions take the batch dims as one, loops (batch, m, n, k), as
    # torch-mlir imports unmasked attention; the softmax runs over [batch, heads]
    # where the batch dims are those two, or a 3-D query collapses them.
    b, i, j, k = (ir.AffineDimExpr.get(d) for d in range(4))
    flat = math.prod(batch)
    merged = collapsed_heads(query)  # torch-mlir's import of masked attention
    heads = list(ir.RankedTensorType(merged.type).shape[:2]) if merged is not None else batch
    scores = _batched(heads, linalg.batch_matmul(
        _flat(query, flat), _flat(key, flat), outs=[_filled([flat, m, n], 0.0)],
        indexing_maps=[ir.AffineMap.get(4, 0, r) for r in ([b, i, k], [b, j, k], [b, i, j])]))

    dims = [ir.AffineDimExpr.get(d) for d in range(len(heads) + 2)]
    row = dims[:-1]
    masked = elementwise(
        [scores, *(_over_heads(keep, heads, flat) for keep in mask)], heads + [m, n],
        lambda s, *keep: _masked_score(arith.mulf(s, _f32(scale)), keep))
    row_max = _reduce(masked, heads + [m], float("-inf"), arith.maximumf)
    exps = elementwise(
        [masked, row_max], heads + [m, n],
        lambda t, top: math_ops.exp(arith.subf(t, _finite_or_zero(top))),
        input_maps=[dims, row])
    row_sum = _reduce(exps, heads + [m], 0.0, arith.addf)
    reciprocals = elementwise([row_sum], heads + [m], _reciprocal_or_zero)
    probabilities = elementwise(
        [exps, reciprocals], heads + [m, n], lambda e, r: _narrowed(element, arith.mulf(e, r)),
        input_maps=[dims, row], element=element)
    products = _batched(batch, linalg.batch_matmul(
        _flat(probabilities, flat), _flat(value, flat), outs=[_filled([flat, m, width], 0.0)],
        indexing_maps=[ir.AffineMap.get(4, 0, r) for r in ([b, i, k], [b, k, j], [b, i, j])]))
    if element == products.type.element_type:
        return products
    return elementwise([products], batch + [m, width], lambda o: arith.truncf(element, o), element=element)


def _over_heads(mask: ir.Value, heads: list[int], flat: int) -> ir.Value:
    """The mask [batch.., m, n] as [*heads, m, n]: the value its collapse of heads reads, or reshaped."""
    merged = collapsed_heads(mask)
    if merged is not None and list(ir.RankedTensorType(merged.type).shape[:2]) == heads:
        return merged
    return _batched(heads, _flat(mask, flat))


def _flat(value: ir.Value, flat: int) -> ir.Value:
    """`value` [batch.., rows, cols] as [flat, rows, cols]: its batch dims one (a unit one where it has none)."""
    shape = ir.RankedTensorType(value.type).shape
    batch = len(shape) - 2
    if batch == 1:
        return value
    result = ir.RankedTensorType.get([flat, *shape[-2:]], value.type.element_type)
    if batch == 0:
        return tensor.expand_shape(result, value, [[0, 1], [2]], output_shape=[], static_output_shape=result.shape)
    return tensor.collapse_shape(result, value, [list(range(batch)), [batch], [batch + 1]])


def _batched(batch: list[int], value: ir.Value) -> ir.Value:
    """`value` [flat, rows, cols] as [*batch, rows, cols]: `_flat` undone."""
    shape = ir.RankedTensorType(value.type).shape
    if len(batch) == 1:
        return value
    result = ir.RankedTensorType.get([*batch, *shape[1:]], value.type.element_type)
    if not batch:
        return tensor.collapse_shape(result, value, [[0, 1], [2]])
    return tensor.expand_shape(result, value, [list(range(len(batch))), [len(batch)], [len(batch) + 1]],
                               output_shape=[], static_output_shape=result.shape)


def _narrowed(element: ir.Type, value: ir.Value) -> ir.Value:
    return value if value.type == element else arith.truncf(element, value)


def _f32(value: float) -> ir.Value:
    return arith.constant(ir.F32Type.get(), value)


def _filled(shape: list[int], value: float) -> ir.Value:
    empty = tensor.empty(shape, ir.F32Type.get())
    return linalg.fill(_f32(value), outs=[empty])


def _masked_score(score: ir.Value, keep: tuple[ir.Value, ...]) -> ir.Value:
    """score plus an additive f32 mask, or score where a boolean mask keeps it and -inf elsewhere."""
    if not keep:
        return score
    (mask,) = keep
    if is_bool(mask.type):
        return arith.select(mask, score, _f32(float("-inf")))
    return arith.addf(score, mask if mask.type == score.type else arith.extf(score.type, mask))


def _finite_or_zero(top: ir.Value) -> ir.Value:
    """A row maximum, or 0 where the whole row is masked (-inf): exp then gives 0, not NaN."""
    hidden = arith.cmpf(arith.CmpFPredicate.OEQ, top, _f32(float("-inf")))
    return arith.select(hidden, _f32(0.0), top)


def _reciprocal_or_zero(total: ir.Value) -> ir.Value:
    """1 / a row's sum of exponentials, or 0 for a fully masked row (sum 0)."""
    empty = arith.cmpf(arith.CmpFPredicate.OEQ, total, _f32(0.0))
    return arith.select(empty, _f32(0.0), arith.divf(_f32(1.0), total))


def _reduce(source: ir.Value, shape: list[int], start: float, combine) -> ir.Value:
    """`source` reduced over its innermost dim with `combine`, from `start`."""
    rank = len(shape) + 1
    dims = [ir.AffineDimExpr.get(d) for d in range(rank)]
    init = _filled(shape, start)
    generic = linalg.GenericOp([init.type], [source], [init], affine_maps(rank, dims, dims[:-1]),
                               iterator_types_attr(*["parallel"] * (rank - 1), "reduction"))
    block = generic.regions[0].blocks.append(ir.F32Type.get(), ir.F32Type.get())
    with ir.InsertionPoint(block):
        linalg.YieldOp([combine(block.arguments[0], block.arguments[1])])
    return generic.result
