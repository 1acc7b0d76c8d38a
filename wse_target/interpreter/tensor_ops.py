"""tensor ops: the data movement between structured ops, with static offsets,
sizes and strides."""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from .body import run_block
from .values import fail, grid_shape, result_dtype, static_shape


def _static_list(op, name: str) -> list[int]:
    values = list(op.attributes[name])
    if ir.ShapedType.get_dynamic_size() in values:  # also the dynamic stride/offset marker
        raise fail(op, f"dynamic {name.removeprefix('static_')} are not supported")
    return values


def _slices(op, g: int) -> tuple[slice, ...]:
    offsets, sizes, strides = (_static_list(op, f"static_{n}") for n in ("offsets", "sizes", "strides"))
    return (slice(None),) * g + tuple(slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offsets, sizes, strides))


def eval_empty(op, operands, g, lookup) -> list[np.ndarray]:
    return [np.zeros((1,) * g + static_shape(op, op.result.type), result_dtype(op))]


def eval_reshape(op, operands, g, lookup) -> list[np.ndarray]:
    """tensor.expand_shape / collapse_shape: a row-major reshape below the grid dims."""
    x = operands[0]
    return [x.reshape(x.shape[:g] + static_shape(op, op.result.type))]


def eval_pad(op, operands, g, lookup) -> list[np.ndarray]:
    """tensor.pad with static amounts and a pad value that does not depend on the index."""
    x = operands[0]
    low, high = _static_list(op, "static_low"), _static_list(op, "static_high")
    (value,) = run_block(op, op.regions[0].blocks[0], {}, lookup)
    padded = np.empty(x.shape[:g] + static_shape(op, op.result.type), x.dtype)
    padded[...] = np.asarray(value).reshape(np.shape(value) + (1,) * (padded.ndim - np.ndim(value)))
    interior = tuple(slice(lo, size - hi) for lo, hi, size in zip(low, high, padded.shape[g:]))
    padded[(slice(None),) * g + interior] = x
    return [padded]


def eval_extract_slice(op, operands, g, lookup) -> list[np.ndarray]:
    x = operands[0]
    return [x[_slices(op, g)].reshape(x.shape[:g] + static_shape(op, op.result.type))]


def eval_insert_slice(op, operands, g, lookup) -> list[np.ndarray]:
    source, dest = operands[:2]
    out = np.array(np.broadcast_to(dest, grid_shape([source, dest], g) + dest.shape[g:]))  # a copy
    region = out[_slices(op, g)]
    region[...] = source.reshape(source.shape[:g] + region.shape[g:])
    return [out]


def eval_concat(op, operands, g, lookup) -> list[np.ndarray]:
    grid = grid_shape(operands, g)
    dim = ir.IntegerAttr(op.attributes["dim"]).value
    return [np.concatenate([np.broadcast_to(x, grid + x.shape[g:]) for x in operands], axis=g + dim)]
