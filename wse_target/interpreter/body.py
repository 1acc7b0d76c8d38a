"""Scalar and elementwise ops, and the blocks of linalg and tm_tensor bodies
that run them on whole arrays: each op takes (op, *arrays) and broadcasts like
numpy."""

from __future__ import annotations

from typing import Callable

import numpy as np
from torch_mlir import ir

from .values import UNSIGNED, Lookup, constant_value, fail, result_dtype


def _signed(x: np.ndarray) -> np.ndarray:
    """Integers read as signed: an i1 true is -1."""
    return -x.astype(np.int8) if x.dtype == np.bool_ else x


def _unsigned(x: np.ndarray) -> np.ndarray:
    return x.astype(UNSIGNED.get(x.dtype, np.uint8))


def _cast(op, x):
    return x.astype(result_dtype(op))


def _ceildiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a // b + (a % b != 0)


def _divsi(op, a, b):
    """Signed division rounding toward zero (numpy's // rounds down)."""
    quotient = np.floor_divide(a, b)
    return quotient + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0))).astype(a.dtype)


_CMPF = {  # arith.CmpFPredicate, in enum order; numpy comparisons are ordered except !=
    0: lambda a, b: np.zeros(np.broadcast(a, b).shape, np.bool_),
    1: np.equal, 2: np.greater, 3: np.greater_equal, 4: np.less, 5: np.less_equal,
    6: lambda a, b: np.less(a, b) | np.greater(a, b),
    7: lambda a, b: ~(np.isnan(a) | np.isnan(b)),
    8: lambda a, b: ~(np.less(a, b) | np.greater(a, b)),
    9: lambda a, b: ~np.less_equal(a, b), 10: lambda a, b: ~np.less(a, b),
    11: lambda a, b: ~np.greater_equal(a, b), 12: lambda a, b: ~np.greater(a, b),
    13: np.not_equal, 14: lambda a, b: np.isnan(a) | np.isnan(b),
    15: lambda a, b: np.ones(np.broadcast(a, b).shape, np.bool_),
}
_CMPI = {  # arith.CmpIPredicate, in enum order
    0: np.equal, 1: np.not_equal, 2: np.less, 3: np.less_equal, 4: np.greater, 5: np.greater_equal,
    6: np.less, 7: np.less_equal, 8: np.greater, 9: np.greater_equal,
}


def _cmpf(op, a, b):
    return _CMPF[ir.IntegerAttr(op.attributes["predicate"]).value](a, b)


def _cmpi(op, a, b):
    predicate = ir.IntegerAttr(op.attributes["predicate"]).value
    if predicate >= 6:
        a, b = _unsigned(a), _unsigned(b)
    return _CMPI[predicate](a, b)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1e-13: Taylor series below |x| = 3, erfc's continued fraction above."""
    a = np.abs(x.astype(np.float64))
    small, large = np.minimum(a, 3.0), np.maximum(a, 3.0)
    term, series = small.copy(), small.copy()
    for n in range(1, 64):
        term = term * -(small * small) / n
        series = series + term / (2 * n + 1)
    fraction = large
    for k in range(60, 0, -1):
        fraction = large + (k / 2) / fraction
    tail = 1 - np.exp(-large * large) / (np.sqrt(np.pi) * fraction)
    return (np.sign(x) * np.where(a < 3, series * (2 / np.sqrt(np.pi)), tail)).astype(x.dtype)


def _ufunc(ufunc):
    return lambda op, *args: ufunc(*args)


def _affine_apply(op, *operands) -> np.ndarray:
    """affine.apply on index arrays: its map's dims, then its symbols, are the operands
    (an arg-max over a flattened tensor linearizes its loop indices this way)."""
    affine_map = ir.AffineMapAttr(op.attributes["map"]).value

    def value(expr: ir.AffineExpr) -> np.ndarray:
        expr = expr.maybe_downcast() if hasattr(expr, "maybe_downcast") else expr
        if isinstance(expr, ir.AffineDimExpr):
            return operands[expr.position]
        if isinstance(expr, ir.AffineSymbolExpr):
            return operands[affine_map.n_dims + expr.position]
        if isinstance(expr, ir.AffineConstantExpr):
            return np.int64(expr.value)
        if type(expr) in AFFINE_OPS:
            return AFFINE_OPS[type(expr)](value(expr.lhs), value(expr.rhs))
        raise fail(op, f"affine expression {expr} is not supported")

    (result,) = affine_map.results
    return np.asarray(value(result), dtype=np.int64)


SCALAR_OPS: dict[str, Callable[..., np.ndarray]] = {
    "affine.apply": _affine_apply,
    "arith.constant": lambda op: constant_value(op),
    "arith.addf": _ufunc(np.add), "arith.subf": _ufunc(np.subtract),
    "arith.mulf": _ufunc(np.multiply), "arith.divf": _ufunc(np.true_divide),
    "arith.remf": _ufunc(np.fmod), "arith.negf": _ufunc(np.negative),
    "arith.maximumf": _ufunc(np.maximum), "arith.minimumf": _ufunc(np.minimum),
    "arith.maxnumf": _ufunc(np.fmax), "arith.minnumf": _ufunc(np.fmin),
    "arith.cmpf": _cmpf, "arith.cmpi": _cmpi,
    "arith.select": lambda op, c, a, b: np.where(c, a, b),
    "arith.extf": _cast, "arith.truncf": _cast, "arith.fptosi": _cast,
    "arith.sitofp": lambda op, x: _signed(x).astype(result_dtype(op)),
    "arith.uitofp": lambda op, x: _unsigned(x).astype(result_dtype(op)),
    "arith.extsi": lambda op, x: _signed(x).astype(result_dtype(op)),
    "arith.extui": lambda op, x: _unsigned(x).astype(result_dtype(op)),
    "arith.trunci": _cast, "arith.index_cast": lambda op, x: _signed(x).astype(result_dtype(op)),
    "arith.addi": _ufunc(np.add), "arith.subi": _ufunc(np.subtract),
    "arith.muli": _ufunc(np.multiply), "arith.divsi": _divsi,
    "arith.maxsi": _ufunc(np.maximum), "arith.minsi": _ufunc(np.minimum),
    "arith.andi": _ufunc(np.bitwise_and), "arith.ori": _ufunc(np.bitwise_or),
    "arith.xori": _ufunc(np.bitwise_xor),
    "math.exp": _ufunc(np.exp), "math.log": _ufunc(np.log), "math.log1p": _ufunc(np.log1p),
    "math.expm1": _ufunc(np.expm1), "math.floor": _ufunc(np.floor), "math.ceil": _ufunc(np.ceil),
    "math.sqrt": _ufunc(np.sqrt),
    "math.rsqrt": lambda op, x: 1 / np.sqrt(x), "math.tanh": _ufunc(np.tanh),
    "math.erf": lambda op, x: _erf(x), "math.powf": _ufunc(np.power),
    "math.fpowi": lambda op, x, n: np.power(x, n).astype(x.dtype), "math.absf": _ufunc(np.abs),
    "arith.remsi": _ufunc(np.fmod), "arith.floordivsi": _ufunc(np.floor_divide),
    "arith.ceildivsi": lambda op, a, b: -np.floor_divide(-a, b),
    "arith.remui": lambda op, a, b: np.fmod(_unsigned(a), _unsigned(b)).astype(result_dtype(op)),
    "arith.divui": lambda op, a, b: np.floor_divide(_unsigned(a), _unsigned(b)).astype(result_dtype(op)),
    "arith.maxui": lambda op, a, b: np.maximum(_unsigned(a), _unsigned(b)).astype(result_dtype(op)),
    "arith.minui": lambda op, a, b: np.minimum(_unsigned(a), _unsigned(b)).astype(result_dtype(op)),
    "arith.shli": _ufunc(np.left_shift), "arith.shrsi": _ufunc(np.right_shift),
    "arith.shrui": lambda op, a, b: np.right_shift(_unsigned(a), _unsigned(b)).astype(result_dtype(op)),
    "math.absi": _ufunc(np.abs), "math.trunc": _ufunc(np.trunc), "math.roundeven": _ufunc(np.rint),
    "math.round": lambda op, x: np.copysign(np.floor(np.abs(x) + 0.5), x).astype(x.dtype),
    "math.log10": _ufunc(np.log10), "math.log2": _ufunc(np.log2), "math.exp2": _ufunc(np.exp2),
    "math.cbrt": _ufunc(np.cbrt), "math.atan2": _ufunc(np.arctan2), "math.copysign": _ufunc(np.copysign),
    "math.sin": _ufunc(np.sin), "math.cos": _ufunc(np.cos), "math.tan": _ufunc(np.tan),
    "math.asin": _ufunc(np.arcsin), "math.acos": _ufunc(np.arccos), "math.atan": _ufunc(np.arctan),
    "math.sinh": _ufunc(np.sinh), "math.cosh": _ufunc(np.cosh),
    "math.asinh": _ufunc(np.arcsinh), "math.acosh": _ufunc(np.arccosh), "math.atanh": _ufunc(np.arctanh),
    "math.fma": lambda op, a, b, c: (a * b + c).astype(result_dtype(op)),
    "math.ipowi": lambda op, x, n: np.power(x, n).astype(result_dtype(op)),
    "arith.ceildivui": lambda op, a, b: _ceildiv(_unsigned(a), _unsigned(b)).astype(result_dtype(op)),
    "math.isnan": _ufunc(np.isnan), "math.isinf": _ufunc(np.isinf), "math.isfinite": _ufunc(np.isfinite),
}

# The binary affine expressions, as numpy ufuncs on index arrays (mod and floordiv round down).
AFFINE_OPS = {
    ir.AffineAddExpr: np.add, ir.AffineMulExpr: np.multiply, ir.AffineModExpr: np.mod,
    ir.AffineFloorDivExpr: np.floor_divide, ir.AffineCeilDivExpr: lambda a, b: -np.floor_divide(-a, b),
}

_TERMINATORS = ("linalg.yield", "tensor.yield", "tm_tensor.yield")
# Every op the interpreter runs in a linalg or tm_tensor body (wse-verify-support
# refuses any other up front, at the user's line, instead of at call time).
BODY_OPS = frozenset(SCALAR_OPS) | {*_TERMINATORS, "linalg.index", "cf.assert", "tensor.extract"}

# A reduction body's combiner -> the numpy ufunc whose .reduce it becomes.
COMBINERS = {
    "arith.addf": np.add, "arith.addi": np.add, "arith.mulf": np.multiply, "arith.muli": np.multiply,
    "arith.maximumf": np.maximum, "arith.minimumf": np.minimum, "arith.maxnumf": np.fmax,
    "arith.minnumf": np.fmin, "arith.maxsi": np.maximum, "arith.minsi": np.minimum,
    "arith.andi": np.bitwise_and, "arith.ori": np.bitwise_or, "arith.xori": np.bitwise_xor,
}


def run_block(
    owner: ir.Operation,
    block: ir.Block,
    bound: dict[ir.Value, np.ndarray],
    lookup: Lookup,
    loop_index: Callable[[int], np.ndarray] | None = None,
    skipped: dict[ir.Value, ir.Value | None] | None = None,
    wanted: list[ir.Value] | None = None,
) -> list[np.ndarray]:
    """Run a region's block on whole arrays; the values its terminator yields, or `wanted`.

    `bound` gives block arguments (an unbound one may not be read). `skipped` names
    ops not to run (a reduction's combiner), by result: the terminator yields the
    value given instead, and no other op may read the result.
    """
    values = dict(bound)
    skipped = skipped or {}

    def get(value: ir.Value) -> np.ndarray:
        if value in values:
            return values[value]
        if isinstance(value.owner, ir.Block) and value.owner == block:
            raise fail(owner, f"reads block argument #{value.arg_number}, which has no value here "
                               "(a reduction may read its init only in its combiner)")
        if value in skipped:
            raise fail(owner, "reads the running value of a reduction outside its combiner")
        return lookup(value)

    for op in block.operations:
        if op.name in _TERMINATORS:
            if wanted is not None:
                return [get(v) for v in wanted]
            return [get(skipped[v]) if v in skipped and skipped[v] is not None else get(v) for v in op.operands]
        if len(op.results) == 1 and op.result in skipped:
            continue
        if op.name == "linalg.index" and loop_index is not None:
            values[op.result] = loop_index(ir.IntegerAttr(op.attributes["dim"]).value)
        elif op.name == "cf.assert":
            assert_holds(op, get(op.operands[0]))
        elif op.name == "tensor.extract":
            values[op.result] = _extract(op, get(op.operands[0]), [get(v) for v in op.operands[1:]])
        elif op.name in SCALAR_OPS:
            values[op.result] = SCALAR_OPS[op.name](op, *[get(v) for v in op.operands])
        else:
            raise fail(op, f"unsupported op in the body of '{owner.name}'")
    raise fail(owner, "region has no terminator")


def _extract(op: ir.Operation, source: np.ndarray, indices: list[np.ndarray]) -> np.ndarray:
    """A gather in a body (an embedding lookup): the element of `source` at each
    iteration's indices, by one fancy index. An index outside the tensor is a
    run-time error, as the CPU target's checks make it: numpy would wrap a
    negative one around silently."""
    if source.ndim != len(indices):  # a tensor on the PE grid: gathers run between regions
        raise fail(op, "reads a tensor held on the PE grid; a gather runs between regions")
    for axis, (index, extent) in enumerate(zip(indices, source.shape)):
        outside = (index < 0) | (index >= extent)
        if np.any(outside):
            bad = int(np.broadcast_to(index, outside.shape)[outside].flat[0])
            raise fail(op, f"index {bad} is out of bounds for dim {axis} of size {extent}")
    return source[tuple(indices)]


def assert_holds(op, condition: np.ndarray) -> list[np.ndarray]:
    """A check, in a body or between regions (adaptive pooling's window sizes): a
    run-time error if it fails."""
    if not np.all(condition):
        raise fail(op, f"assertion failed: {ir.StringAttr(op.attributes['msg']).value}")
    return []
