"""The interpreter's tm_tensor ops: scans, sorts, top-k and scatters, which the
WSE target runs on the host between regions (they have no spatial mapping)."""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from .body import COMBINERS, run_block
from .values import fail, result_dtype

# arith.cmpf / cmpi predicates by enum value: those that order a before b when a is smaller.
_ASCENDING_CMPF = {2: False, 3: False, 4: True, 5: True, 9: False, 10: False, 11: True, 12: True}  # gt ge lt le
_ASCENDING_CMPI = {2: True, 3: True, 4: False, 5: False, 6: True, 7: True, 8: False, 9: False}


def _combiner(block: ir.Block):
    """The ufunc of a body that yields combine(arg0, arg1) of its two arguments, or None."""
    combined = block.operations[len(block.operations) - 1].operands[0].owner
    if (isinstance(combined, ir.OpView) and combined.name in COMBINERS
            and set(combined.operands) == set(block.arguments)):
        return COMBINERS[combined.name]
    return None


def _eval_scan(op, operands, g, lookup) -> list[np.ndarray]:
    """tm_tensor.scan (cumsum, cumprod) as its loops define it: an inclusive scan
    accumulates the input; an exclusive one starts from the init and lags the
    input by one. The second result is the scan's last element."""
    ufunc = _combiner(op.regions[0].blocks[0])
    if ufunc is None:
        raise fail(op, "scans only with an add, mul, max, min, and, or or xor combiner")
    x, _, init = operands
    axis = g + ir.IntegerAttr(op.attributes["dimension"]).value
    x = x.astype(result_dtype(op))
    if x.shape[axis] == 0:
        return [x, init.astype(x.dtype)]
    if not ir.BoolAttr(op.attributes["inclusive"]).value:
        start = np.broadcast_to(np.expand_dims(init, axis), x.shape[:axis] + (1,) + x.shape[axis + 1:])
        x = np.concatenate([start.astype(x.dtype), np.take(x, np.arange(x.shape[axis] - 1), axis=axis)], axis=axis)
    scanned = ufunc.accumulate(x, axis=axis)
    return [scanned, np.take(scanned, -1, axis=axis)]


def _sort_direction(op) -> bool:
    """True for ascending: the comparator yields cmp(a, b) or cmp(b, a) of the
    first operand's two elements."""
    block = op.regions[0].blocks[0]
    compare = block.operations[len(block.operations) - 1].operands[0].owner
    table = {"arith.cmpf": _ASCENDING_CMPF, "arith.cmpi": _ASCENDING_CMPI}.get(getattr(compare, "name", ""))
    predicate = ir.IntegerAttr(compare.attributes["predicate"]).value if table is not None else None
    first, second = list(block.arguments)[:2]
    if predicate not in (table or {}) or list(compare.operands) not in ([first, second], [second, first]):
        raise fail(op, "sorts only by a comparison of the first operand's two elements")
    return table[predicate] == (list(compare.operands) == [first, second])


def _eval_sort(op, operands, g, lookup) -> list[np.ndarray]:
    """tm_tensor.sort (torch.sort, topk): every operand permuted by the order of
    the first along `dimension`, stably, NaN last ascending and first
    descending, as PyTorch orders it."""
    x = operands[0]
    axis = g + ir.IntegerAttr(op.attributes["dimension"]).value
    keys = np.moveaxis(x, axis, -1)
    nan = np.isnan(keys) if keys.dtype.kind == "f" else np.zeros(keys.shape, bool)
    if _sort_direction(op):
        order = np.lexsort((keys, nan))
    else:  # bitwise not reverses a signed integer's order without overflow
        order = np.lexsort((-keys if keys.dtype.kind == "f" else ~keys, ~nan))
    order = np.moveaxis(order, -1, axis)
    return [np.take_along_axis(np.broadcast_to(v, x.shape), order, axis=axis) for v in operands]


def _eval_topk(op, operands, g, lookup) -> list[np.ndarray]:
    """tm_tensor.topk (kthvalue) as its loops define it: each input element, in
    order along `dimension`, goes into the k kept values (the outs, which start
    as the init) before the first one the comparator says it precedes, the rest
    shifting down and the last dropping. The comparator runs as written, so a
    NaN or a tie lands where the CPU target's loops put it. Indices are the
    input positions, or the optional second input's values."""
    if g:
        raise fail(op, "reads tensors held on the PE grid; a top-k runs between regions")
    inputs = len(op.operands) - 2
    values, given_indices = operands[0], operands[1] if inputs == 2 else None
    kept, kept_indices = (np.array(v) for v in operands[inputs:])
    axis = ir.IntegerAttr(op.attributes["dimension"]).value
    values = np.moveaxis(values, axis, -1)
    positions = (np.moveaxis(given_indices, axis, -1) if given_indices is not None
                 else np.broadcast_to(np.arange(values.shape[-1]), values.shape))
    kept, kept_indices = np.moveaxis(kept, axis, -1), np.moveaxis(kept_indices, axis, -1)
    block = op.regions[0].blocks[0]
    first, second = list(block.arguments)[:2]
    k = kept.shape[-1]
    for i in range(values.shape[-1]):
        x, index = values[..., i:i + 1], positions[..., i:i + 1]
        (precedes,) = run_block(op, block, {first: np.broadcast_to(x, kept.shape), second: kept}, lookup)
        precedes = np.asarray(precedes, bool)
        slot = np.where(precedes.any(-1, keepdims=True), precedes.argmax(-1)[..., None], k)
        after = np.arange(k) > slot
        shifted, shifted_indices = np.roll(kept, 1, -1), np.roll(kept_indices, 1, -1)
        kept = np.where(after, shifted, np.where(np.arange(k) == slot, x, kept))
        kept_indices = np.where(after, shifted_indices, np.where(np.arange(k) == slot, index, kept_indices))
    return [np.moveaxis(kept, -1, axis), np.moveaxis(kept_indices.astype(operands[-1].dtype), -1, axis)]


def _eval_scatter(op, operands, g, lookup) -> list[np.ndarray]:
    """tm_tensor.scatter (index_put, scatter): each update row combined into the
    original at its indices, over the dims `dimension_map` names; the rest of the
    original's dims are the update's slice. An index outside the tensor is a
    run-time error."""
    updates, indices, original = operands
    if g:
        raise fail(op, "reads tensors held on the PE grid; a scatter runs between regions")
    block = op.regions[0].blocks[0]
    replaces = block.operations[len(block.operations) - 1].operands[0] == block.arguments[0]
    ufunc = None if replaces else _combiner(block)
    if not replaces and ufunc is None:
        raise fail(op, "scatters only by replacing or by an add, mul, max, min, and, or or xor")
    dims = list(ir.DenseI64ArrayAttr(op.attributes["dimension_map"]))
    out = np.array(original, dtype=result_dtype(op))
    indices = indices.reshape(len(indices), -1).astype(np.int64)
    if updates.ndim - 1 == out.ndim - len(dims):  # a slice over the other dims: size 1 on the indexed ones
        updates = np.expand_dims(updates, tuple(1 + d for d in dims))
    if updates.ndim - 1 != out.ndim:
        raise fail(op, f"has updates of shape {updates.shape} for a {out.ndim}-d original")
    slice_shape = updates.shape[1:]
    where = []
    for d in range(out.ndim):
        shape = [1] * (1 + out.ndim)
        shape[1 + d] = slice_shape[d]
        offset = np.arange(slice_shape[d]).reshape(shape)
        if d in dims:
            start = indices[:, dims.index(d)]
            if np.any((start < 0) | (start + slice_shape[d] > out.shape[d])):
                raise fail(op, f"index out of bounds for dim {d} of size {out.shape[d]}")
            offset = offset + start.reshape([len(start)] + [1] * out.ndim)
        where.append(offset)
    if ufunc is None:
        out[tuple(where)] = updates
    else:
        ufunc.at(out, tuple(np.broadcast_arrays(*where)), updates)
    return [out]


TM_TENSOR_OPS = {"tm_tensor.scan": _eval_scan, "tm_tensor.sort": _eval_sort, "tm_tensor.topk": _eval_topk,
                 "tm_tensor.scatter": _eval_scatter}
