"""A numpy interpreter for the linalg, tensor, arith and math ops torch-mlir emits.

The WSE simulator must produce real numbers, and fast: a per-PE buffer of local
shape S on an H x W rectangle of PEs is one array of shape (H, W, *S). So every op
here takes `grid_dims` extra leading dims, absent from the IR types, and applies
itself at every grid point in a few whole-array numpy expressions, never a Python
loop over grid points or elements. Grid dims broadcast like numpy batch dims: an
operand with size-1 grid dims (a constant, a weight every PE shares) meets one
with a full grid.

Structured ops run over their whole iteration space at once: each operand is
broadcast to the loop nest through its indexing map, the body runs once on those
arrays, and reductions are recognized by their combiner and done by the matching
numpy reduction. Contractions (matmul, conv, generic sums of products) go to
`np.matmul`, with convolution windows taken by `sliding_window_view`. A generic
that only moves data through affine index expressions (an im2col or pooling
window gather) is one fancy index by index arrays over its loops. Anything
else is an `InterpreterError` at the op's location, never a guess.

Here: the public API and each op's evaluator by name. values.py holds the
dtypes, shapes and constants; body.py the scalar ops and the blocks that run
them; structured.py the iteration space and linalg.generic, with
reductions.py; named_ops.py, tensor_ops.py and tm_tensor_ops.py the rest.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from torch_mlir import ir

from .body import BODY_OPS, SCALAR_OPS, assert_holds
from .named_ops import (eval_broadcast, eval_contraction_op, eval_conv, eval_fill, eval_generalized,
                        eval_pooling, eval_transpose)
from .structured import eval_generic, inits_of
from .tensor_ops import (eval_concat, eval_empty, eval_extract_slice, eval_insert_slice, eval_pad,
                         eval_reshape)
from .tm_tensor_ops import TM_TENSOR_OPS
from .values import InterpreterError, Lookup, constant_value, fail, numpy_dtype, shape_of

__all__ = ["BODY_OPS", "InterpreterError", "evaluate", "numpy_dtype", "run_function"]


def evaluate(op: ir.Operation, operands: list[np.ndarray], grid_dims: int = 0,
             above: dict[ir.Value, np.ndarray] | None = None) -> list[np.ndarray]:
    """Evaluate one op on arrays that carry `grid_dims` extra leading dims.

    Linalg structured ops return the updated value of each init/out operand (their
    results, on tensors); other ops return one array per result. Values the op's
    regions use from above come from `above` (a gather's table), else must be
    constants. The interpreter never writes into its operands, but a result may be
    a view of one, or of read-only constant data.
    """
    op = op.operation
    _check_operands(op, operands, list(op.operands), grid_dims)
    return _evaluate(op, list(operands), grid_dims, _lookup_above(op, above or {}))


def run_function(func_op: ir.Operation, args: list[np.ndarray]) -> list[np.ndarray]:
    """Interpret a single-block func.func on `args` (no grid dims); its return values."""
    func_op = func_op.operation
    params = list(func_op.regions[0].blocks[0].arguments)
    arrays = [np.asarray(array, dtype=numpy_dtype(func_op, param.type)) for param, array in zip(params, args)]
    _check_operands(func_op, arrays, params, 0)
    values = dict(zip(params, arrays))
    lookup = _lookup_above(func_op, values)
    for op in func_op.regions[0].blocks[0].operations:
        operands = [values[v] for v in op.operands]
        if op.name == "func.return":
            return operands
        results = _evaluate(op, operands, 0, lookup)
        # On memrefs a structured op has no results: its outs now hold the new values.
        targets = op.results if len(op.results) or not op.name.startswith("linalg.") else inits_of(op)
        values.update(zip(targets, results))
    raise fail(func_op, "has no func.return")


def _evaluate(op: ir.Operation, operands: list[np.ndarray], g: int, lookup: Lookup) -> list[np.ndarray]:
    with np.errstate(all="ignore"):  # IEEE results (inf, nan) as the hardware gives them
        if op.name in _OPS:
            return _OPS[op.name](op, operands, g, lookup)
        if op.name in SCALAR_OPS:
            return [np.asarray(SCALAR_OPS[op.name](op, *operands))]
        if op.name.startswith("linalg."):
            return eval_generalized(op, operands, g, lookup)
        raise fail(op, "unsupported op")


def _lookup_above(user: ir.Operation, values: dict[ir.Value, np.ndarray]) -> Lookup:
    """How `user`'s regions read values from above: from `values`, else only constants."""

    def lookup(value: ir.Value) -> np.ndarray:
        if value in values:
            return values[value]
        producer = value.owner
        if isinstance(producer, (ir.Operation, ir.OpView)) and producer.name == "arith.constant":
            return constant_value(producer.operation)
        raise fail(user, f"uses {value.get_name()} from above, which is not a constant")

    return lookup


def _check_operands(op: ir.Operation, arrays: list[np.ndarray], expected: list[ir.Value], g: int) -> None:
    """Each array must be an ndarray of the IR's dtype and static shape, after g grid dims."""
    if len(arrays) != len(expected):
        raise fail(op, f"takes {len(expected)} operands, got {len(arrays)} arrays")
    for i, (value, array) in enumerate(zip(expected, arrays)):
        shape = shape_of(value.type)
        if (not isinstance(array, np.ndarray) or array.ndim != g + len(shape)
                or array.dtype != numpy_dtype(op, value.type)):
            raise fail(op, f"operand #{i} is {_describe(array)}, expected {g} grid dims + {value.type}")
        if any(want >= 0 and have != want for want, have in zip(shape, array.shape[g:])):
            raise fail(op, f"operand #{i} has shape {array.shape}, expected {g} grid dims + {value.type}")


def _describe(array) -> str:
    return f"{array.dtype}{list(array.shape)}" if isinstance(array, np.ndarray) else type(array).__name__


_OPS: dict[str, Callable[..., list[np.ndarray]]] = {
    "arith.constant": lambda op, operands, g, lookup: [(c := constant_value(op)).reshape((1,) * g + c.shape)],
    "tensor.empty": eval_empty,
    "tensor.expand_shape": eval_reshape,
    "tensor.collapse_shape": eval_reshape,
    "tensor.pad": eval_pad,
    "tensor.extract_slice": eval_extract_slice,
    "tensor.insert_slice": eval_insert_slice,
    "tensor.concat": eval_concat,
    "tensor.cast": lambda op, operands, g, lookup: [operands[0]],
    "cf.assert": lambda op, operands, g, lookup: assert_holds(op, operands[0]),
    "linalg.generic": eval_generic,
    "linalg.fill": eval_fill,
    "linalg.matmul": eval_contraction_op,
    "linalg.batch_matmul": eval_contraction_op,
    "linalg.transpose": eval_transpose,
    "linalg.broadcast": eval_broadcast,
    "linalg.conv_2d_nchw_fchw": eval_conv,
    "linalg.pooling_nchw_max": eval_pooling(np.maximum),
    "linalg.pooling_nchw_sum": eval_pooling(np.add),
}
_OPS.update(TM_TENSOR_OPS)  # scans, sorts, top-k and scatters, run on the host
