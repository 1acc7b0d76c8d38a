"""linalg's named ops: contractions and convolutions through np.matmul, pooling
by sliding windows, data movement directly, and any other op through the
generic linalg-generalize-named-ops makes of it."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from torch_mlir import ir, passmanager
from torch_mlir.dialects import func

from wafer.passes.linalg_queries import unsigned_cast

from .structured import Space, eval_generic, projected_maps, structured_parts
from .values import fail, fresh, grid_shape, static_shape


def eval_contraction_op(op, operands, g, lookup) -> list[np.ndarray]:
    """linalg.matmul / batch_matmul, with their (possibly transposing) indexing maps."""
    if unsigned_cast(op):
        raise fail(op, "unsigned casts are not supported")
    (a, b), (init,), (shape,), (dtype,) = structured_parts(op, operands)
    maps = projected_maps(op)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    reductions = [d for d in maps[0] if d is not None and d not in maps[2]]
    space = Space.of(op, [a, b, init], maps, g, reductions)
    product = space.contract(space.enter(a, maps[0]), space.enter(b, maps[1]))
    return [space.leave(space.enter(init, maps[2]) + product, maps[2], shape, dtype)]


def _windows(op, x: np.ndarray, g: int, kernel, out_hw) -> np.ndarray:
    """(grid, N, C, H, W) -> (grid, N, C, OH, OW, KH, KW) windows, by strides and dilations."""
    strides = list(op.attributes["strides"])
    dilations = list(op.attributes["dilations"])
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    view = sliding_window_view(x, spans, axis=(g + 2, g + 3))
    (oh, ow), (sh, sw), (dh, dw) = out_hw, strides, dilations
    return view[..., : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, ::dh, ::dw]


def eval_conv(op, operands, g, lookup) -> list[np.ndarray]:
    """linalg.conv_2d_nchw_fchw as a matmul over im2col windows."""
    (x, w), (init,), (shape,), (dtype,) = structured_parts(op, operands)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    windows = _windows(op, x, g, w.shape[-2:], shape[2:])
    # Loops: n, f, oh, ow, c, kh, kw.
    maps = [(0, 4, 2, 3, 5, 6), (1, 4, 5, 6), (0, 1, 2, 3)]
    space = Space.of(op, [windows, w, init], maps, g, (4, 5, 6))
    product = space.contract(space.enter(windows, maps[0]), space.enter(w, maps[1]))
    return [space.leave(space.enter(init, maps[2]) + product, maps[2], shape, dtype)]


def eval_pooling(ufunc: np.ufunc):
    def evaluate_pooling(op, operands, g, lookup) -> list[np.ndarray]:
        """linalg.pooling_nchw_*: reduce each window, then combine with the init."""
        (x, _), (init,), (shape,), (dtype,) = structured_parts(op, operands)
        kernel = static_shape(op, op.operands[1].type)
        windows = _windows(op, x.astype(dtype, copy=False), g, kernel, shape[2:])
        pooled = ufunc.reduce(windows, axis=(-2, -1), dtype=dtype)
        return [fresh(ufunc(init, pooled), grid_shape([pooled, init], g) + shape, dtype)]

    return evaluate_pooling


def eval_fill(op, operands, g, lookup) -> list[np.ndarray]:
    (value,), (init,), (shape,), (dtype,) = structured_parts(op, operands)
    value = value.reshape(value.shape + (1,) * len(shape))
    return [fresh(value, grid_shape([value, init], g) + shape, dtype)]


def eval_transpose(op, operands, g, lookup) -> list[np.ndarray]:
    (x,), (init,), (shape,), (dtype,) = structured_parts(op, operands)
    permutation = list(op.attributes["permutation"])
    return [fresh(x.transpose(*range(g), *(g + p for p in permutation)), grid_shape([x, init], g) + shape, dtype)]


def eval_broadcast(op, operands, g, lookup) -> list[np.ndarray]:
    (x,), (init,), (shape,), (dtype,) = structured_parts(op, operands)
    added = tuple(g + d for d in op.attributes["dimensions"])
    return [fresh(np.expand_dims(x, added), grid_shape([x, init], g) + shape, dtype)]


def eval_generalized(op, operands, g, lookup) -> list[np.ndarray]:
    """Any other linalg op, through the linalg.generic that linalg-generalize-named-ops makes.

    The op is cloned into a scratch function whose arguments stand for its operands.
    """
    scratch = ir.Module.create(op.location)
    with op.context, op.location:
        with ir.InsertionPoint(scratch.body):
            scratch_func = func.FuncOp("scratch", ([v.type for v in op.operands], [r.type for r in op.results]))
            entry = scratch_func.add_entry_block()
            with ir.InsertionPoint(entry):
                clone = op.clone()
                for i, arg in enumerate(entry.arguments):
                    clone.operands[i] = arg
                func.ReturnOp(list(clone.results))
        try:
            passmanager.PassManager.parse("builtin.module(func.func(linalg-generalize-named-ops))").run(
                scratch.operation
            )
        except ir.MLIRError:
            raise fail(op, "unsupported op (it cannot be generalized)") from None
    generic = list(entry.operations)[0]
    if generic.name != "linalg.generic":
        raise fail(op, "unsupported op")
    return eval_generic(generic, operands, g, lookup)
