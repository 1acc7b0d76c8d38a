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
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass, replace
from typing import Callable

import ml_dtypes
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from torch_mlir import ir, passmanager
from torch_mlir.dialects import func

from wafer.diagnostics import WaferError, format_location
from wafer.passes.linalg_queries import indexing_maps, is_projected_map, map_dims, reduction_dims, unsigned_cast
from wafer.passes.resource_blobs import cast_attr, printed_blobs, resource_name

Lookup = Callable[[ir.Value], np.ndarray]


class InterpreterError(WaferError):
    """An op the interpreter cannot evaluate, or a failed runtime check in one."""

    def __init__(self, location: str, message: str):
        self.location, self.message = location, message
        super().__init__(f"{location}: error: {message}" if location else f"error: {message}")


def _fail(op: ir.Operation, message: str) -> InterpreterError:
    return InterpreterError(format_location(op.location), f"'{op.name}': {message}")


# ---------------------------------------------------------------------------------------
# Public API


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
        targets = op.results if len(op.results) or not op.name.startswith("linalg.") else _inits(op)
        values.update(zip(targets, results))
    raise _fail(func_op, "has no func.return")


def _evaluate(op: ir.Operation, operands: list[np.ndarray], g: int, lookup: Lookup) -> list[np.ndarray]:
    with np.errstate(all="ignore"):  # IEEE results (inf, nan) as the hardware gives them
        if op.name in _OPS:
            return _OPS[op.name](op, operands, g, lookup)
        if op.name in _SCALAR_OPS:
            return [np.asarray(_SCALAR_OPS[op.name](op, *operands))]
        if op.name.startswith("linalg."):
            return _eval_generalized(op, operands, g, lookup)
        raise _fail(op, "unsupported op")


def _lookup_above(user: ir.Operation, values: dict[ir.Value, np.ndarray]) -> Lookup:
    """How `user`'s regions read values from above: from `values`, else only constants."""

    def lookup(value: ir.Value) -> np.ndarray:
        if value in values:
            return values[value]
        producer = value.owner
        if isinstance(producer, (ir.Operation, ir.OpView)) and producer.name == "arith.constant":
            return _constant(producer.operation)
        raise _fail(user, f"uses {value.get_name()} from above, which is not a constant")

    return lookup


def _check_operands(op: ir.Operation, arrays: list[np.ndarray], expected: list[ir.Value], g: int) -> None:
    """Each array must be an ndarray of the IR's dtype and static shape, after g grid dims."""
    if len(arrays) != len(expected):
        raise _fail(op, f"takes {len(expected)} operands, got {len(arrays)} arrays")
    for i, (value, array) in enumerate(zip(expected, arrays)):
        shape = _shape(value.type)
        if not isinstance(array, np.ndarray) or array.ndim != g + len(shape) or array.dtype != numpy_dtype(op, value.type):
            raise _fail(op, f"operand #{i} is {_describe(array)}, expected {g} grid dims + {value.type}")
        if any(want >= 0 and have != want for want, have in zip(shape, array.shape[g:])):
            raise _fail(op, f"operand #{i} has shape {array.shape}, expected {g} grid dims + {value.type}")


def _describe(array) -> str:
    return f"{array.dtype}{list(array.shape)}" if isinstance(array, np.ndarray) else type(array).__name__


# ---------------------------------------------------------------------------------------
# Types

_DTYPES = {
    "f16": np.float16, "bf16": ml_dtypes.bfloat16, "f32": np.float32, "f64": np.float64, "i1": np.bool_, "i8": np.int8,
    "i16": np.int16, "i32": np.int32, "i64": np.int64, "index": np.int64,
}
_UNSIGNED = {np.dtype(np.int8): np.uint8, np.dtype(np.int16): np.uint16,
             np.dtype(np.int32): np.uint32, np.dtype(np.int64): np.uint64}


def numpy_dtype(op: ir.Operation, type_: ir.Type) -> np.dtype:
    """The numpy dtype of a scalar, tensor or memref type's elements."""
    element = ir.ShapedType(type_).element_type if isinstance(type_, ir.ShapedType) else type_
    if str(element) not in _DTYPES:
        raise _fail(op, f"element type {element} is not supported")
    return np.dtype(_DTYPES[str(element)])


def _shape(type_: ir.Type) -> tuple[int, ...]:
    """Static dims of a shaped type, -1 where dynamic; () for a scalar."""
    if not isinstance(type_, ir.ShapedType):
        return ()
    shaped = ir.ShapedType(type_)
    return tuple(-1 if shaped.is_dynamic_dim(i) else shaped.get_dim_size(i) for i in range(shaped.rank))


def _static_shape(op: ir.Operation, type_: ir.Type) -> tuple[int, ...]:
    shape = _shape(type_)
    if -1 in shape:
        raise _fail(op, f"dynamic shape {type_} is not supported")
    return shape


def _result_dtype(op: ir.Operation) -> np.dtype:
    return numpy_dtype(op, op.results[0].type)


def _grid(arrays: list[np.ndarray], g: int) -> tuple[int, ...]:
    """The grid shape that the operands' grid dims broadcast to."""
    return np.broadcast_shapes(*(a.shape[:g] for a in arrays)) if arrays else (1,) * g


def _fresh(value: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """`value` broadcast to `shape` as a contiguous array of `dtype` (a copy unless it is one)."""
    return np.asarray(np.broadcast_to(value, shape), dtype=dtype, order="C")  # ascontiguousarray makes 0-d 1-d


# ---------------------------------------------------------------------------------------
# Constants, including the fx importer's dense_resource weights

# Per context, resource name -> raw bytes. Resource names are unique in a context.
_RESOURCE_BLOBS: weakref.WeakKeyDictionary[ir.Context, dict[str, bytes]] = weakref.WeakKeyDictionary()


def _constant(op: ir.Operation) -> np.ndarray:
    """The value of an arith.constant, without grid dims."""
    attr = op.attributes["value"]
    dtype = _result_dtype(op)
    shape = _static_shape(op, op.result.type)
    if isinstance(attr, ir.DenseElementsAttr):
        return np.array(attr).astype(dtype, copy=False).reshape(shape)
    if isinstance(attr, (ir.FloatAttr, ir.IntegerAttr, ir.BoolAttr)):
        return np.array(attr.value).astype(dtype)
    resource = cast_attr(ir.DenseResourceElementsAttr, attr)  # the bindings do not downcast these
    if resource is not None:
        blob = _resource_blob(op, resource)
        if len(blob) != math.prod(shape) * dtype.itemsize:
            raise _fail(op, f"resource holds {len(blob)} bytes, not the {op.result.type} it names")
        return np.frombuffer(blob, dtype=dtype).reshape(shape)
    raise _fail(op, f"constant {attr} is not supported")


def _resource_blob(op: ir.Operation, attr: ir.DenseResourceElementsAttr) -> bytes:
    """The bytes of a `dense_resource<name>` attribute, from the module's printed
    resource section (see `printed_blobs`), kept per context."""
    name = resource_name(attr)
    blobs = _RESOURCE_BLOBS.setdefault(op.context, {})
    if name not in blobs:
        blobs.update(printed_blobs(op))
    if name not in blobs:
        raise _fail(op, f"the module holds no data for resource {name}")
    return blobs[name]


# ---------------------------------------------------------------------------------------
# Scalar and elementwise ops: each takes (op, *arrays) and broadcasts like numpy


def _signed(x: np.ndarray) -> np.ndarray:
    """Integers read as signed: an i1 true is -1."""
    return -x.astype(np.int8) if x.dtype == np.bool_ else x


def _unsigned(x: np.ndarray) -> np.ndarray:
    return x.astype(_UNSIGNED.get(x.dtype, np.uint8))


def _cast(op, x):
    return x.astype(_result_dtype(op))


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
        if type(expr) in _AFFINE_OPS:
            return _AFFINE_OPS[type(expr)](value(expr.lhs), value(expr.rhs))
        raise _fail(op, f"affine expression {expr} is not supported")

    (result,) = affine_map.results
    return np.asarray(value(result), dtype=np.int64)


_SCALAR_OPS: dict[str, Callable[..., np.ndarray]] = {
    "affine.apply": _affine_apply,
    "arith.constant": lambda op: _constant(op),
    "arith.addf": _ufunc(np.add), "arith.subf": _ufunc(np.subtract),
    "arith.mulf": _ufunc(np.multiply), "arith.divf": _ufunc(np.true_divide),
    "arith.remf": _ufunc(np.fmod), "arith.negf": _ufunc(np.negative),
    "arith.maximumf": _ufunc(np.maximum), "arith.minimumf": _ufunc(np.minimum),
    "arith.maxnumf": _ufunc(np.fmax), "arith.minnumf": _ufunc(np.fmin),
    "arith.cmpf": _cmpf, "arith.cmpi": _cmpi,
    "arith.select": lambda op, c, a, b: np.where(c, a, b),
    "arith.extf": _cast, "arith.truncf": _cast, "arith.fptosi": _cast,
    "arith.sitofp": lambda op, x: _signed(x).astype(_result_dtype(op)),
    "arith.uitofp": lambda op, x: _unsigned(x).astype(_result_dtype(op)),
    "arith.extsi": lambda op, x: _signed(x).astype(_result_dtype(op)),
    "arith.extui": lambda op, x: _unsigned(x).astype(_result_dtype(op)),
    "arith.trunci": _cast, "arith.index_cast": lambda op, x: _signed(x).astype(_result_dtype(op)),
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
    "arith.remui": lambda op, a, b: np.fmod(_unsigned(a), _unsigned(b)).astype(_result_dtype(op)),
    "arith.divui": lambda op, a, b: np.floor_divide(_unsigned(a), _unsigned(b)).astype(_result_dtype(op)),
    "arith.maxui": lambda op, a, b: np.maximum(_unsigned(a), _unsigned(b)).astype(_result_dtype(op)),
    "arith.minui": lambda op, a, b: np.minimum(_unsigned(a), _unsigned(b)).astype(_result_dtype(op)),
    "arith.shli": _ufunc(np.left_shift), "arith.shrsi": _ufunc(np.right_shift),
    "arith.shrui": lambda op, a, b: np.right_shift(_unsigned(a), _unsigned(b)).astype(_result_dtype(op)),
    "math.absi": _ufunc(np.abs), "math.trunc": _ufunc(np.trunc), "math.roundeven": _ufunc(np.rint),
    "math.round": lambda op, x: np.copysign(np.floor(np.abs(x) + 0.5), x).astype(x.dtype),
    "math.log10": _ufunc(np.log10), "math.log2": _ufunc(np.log2), "math.exp2": _ufunc(np.exp2),
    "math.cbrt": _ufunc(np.cbrt), "math.atan2": _ufunc(np.arctan2), "math.copysign": _ufunc(np.copysign),
    "math.sin": _ufunc(np.sin), "math.cos": _ufunc(np.cos), "math.tan": _ufunc(np.tan),
    "math.asin": _ufunc(np.arcsin), "math.acos": _ufunc(np.arccos), "math.atan": _ufunc(np.arctan),
    "math.sinh": _ufunc(np.sinh), "math.cosh": _ufunc(np.cosh),
    "math.asinh": _ufunc(np.arcsinh), "math.acosh": _ufunc(np.arccosh), "math.atanh": _ufunc(np.arctanh),
    "math.fma": lambda op, a, b, c: (a * b + c).astype(_result_dtype(op)),
    "math.ipowi": lambda op, x, n: np.power(x, n).astype(_result_dtype(op)),
    "arith.ceildivui": lambda op, a, b: _ceildiv(_unsigned(a), _unsigned(b)).astype(_result_dtype(op)),
    "math.isnan": _ufunc(np.isnan), "math.isinf": _ufunc(np.isinf), "math.isfinite": _ufunc(np.isfinite),
}

_TERMINATORS = ("linalg.yield", "tensor.yield", "tm_tensor.yield")
# Every op the interpreter runs in a linalg or tm_tensor body (wse-verify-support
# refuses any other up front, at the user's line, instead of at call time).
BODY_OPS = frozenset(_SCALAR_OPS) | {*_TERMINATORS, "linalg.index", "cf.assert", "tensor.extract"}

# A reduction body's combiner -> the numpy ufunc whose .reduce it becomes.
_COMBINERS = {
    "arith.addf": np.add, "arith.addi": np.add, "arith.mulf": np.multiply, "arith.muli": np.multiply,
    "arith.maximumf": np.maximum, "arith.minimumf": np.minimum, "arith.maxnumf": np.fmax,
    "arith.minnumf": np.fmin, "arith.maxsi": np.maximum, "arith.minsi": np.minimum,
    "arith.andi": np.bitwise_and, "arith.ori": np.bitwise_or, "arith.xori": np.bitwise_xor,
}


def _run_block(
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
            raise _fail(owner, f"reads block argument #{value.arg_number}, which has no value here "
                               "(a reduction may read its init only in its combiner)")
        if value in skipped:
            raise _fail(owner, "reads the running value of a reduction outside its combiner")
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
            _assert(op, get(op.operands[0]))
        elif op.name == "tensor.extract":
            values[op.result] = _extract(op, get(op.operands[0]), [get(v) for v in op.operands[1:]])
        elif op.name in _SCALAR_OPS:
            values[op.result] = _SCALAR_OPS[op.name](op, *[get(v) for v in op.operands])
        else:
            raise _fail(op, f"unsupported op in the body of '{owner.name}'")
    raise _fail(owner, "region has no terminator")


def _extract(op: ir.Operation, source: np.ndarray, indices: list[np.ndarray]) -> np.ndarray:
    """A gather in a body (an embedding lookup): the element of `source` at each
    iteration's indices, by one fancy index. An index outside the tensor is a
    run-time error, as the CPU target's checks make it: numpy would wrap a
    negative one around silently."""
    if source.ndim != len(indices):  # a tensor on the PE grid: gathers run between regions
        raise _fail(op, "reads a tensor held on the PE grid; a gather runs between regions")
    for axis, (index, extent) in enumerate(zip(indices, source.shape)):
        outside = (index < 0) | (index >= extent)
        if np.any(outside):
            bad = int(np.broadcast_to(index, outside.shape)[outside].flat[0])
            raise _fail(op, f"index {bad} is out of bounds for dim {axis} of size {extent}")
    return source[tuple(indices)]


# ---------------------------------------------------------------------------------------
# Structured ops over their iteration space

# An indexing map's results: a loop dim, or None for the constant 0.
Map = tuple[int | None, ...]


def _maps(op: ir.Operation) -> list[Map]:
    """The op's indexing maps, which must be projected permutations (constant-0 results allowed)."""
    maps = []
    for affine_map in indexing_maps(op):
        if not is_projected_map(affine_map):
            raise _fail(op, f"indexing map {affine_map} is not a projected permutation")
        maps.append(tuple(map_dims(affine_map)))
    return maps


@dataclass
class _Space:
    """The iteration space of a structured op: grid dims, then one axis per loop.

    An operand moves into the space by its indexing map (size 1 on loops it does not
    use), so the body's arithmetic broadcasts over the whole loop nest.
    """

    op: ir.Operation
    g: int
    grid: tuple[int, ...]
    ranges: list[int]
    reductions: tuple[int, ...]

    @classmethod
    def of(cls, op, arrays: list[np.ndarray], maps: list[Map], g: int, reductions) -> _Space:
        # A generic over no loops (a one-element op after unit dims fold away) has no ranges.
        ranges = [None] * (1 + max((d for results in maps for d in results if d is not None), default=-1))
        for array, results in zip(arrays, maps):
            for axis, dim in enumerate(results):
                if dim is not None:
                    ranges[dim] = array.shape[g + axis]
        if None in ranges:
            raise _fail(op, "has a loop that no operand's shape bounds")
        return cls(op, g, _grid(arrays, g), ranges, tuple(reductions))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grid + tuple(self.ranges)

    def enter(self, array: np.ndarray, results: Map) -> np.ndarray:
        """An operand as an array over the space (a view): index 0 at constant results."""
        array = array[(slice(None),) * self.g + tuple(0 if d is None else slice(None) for d in results)]
        dims = [d for d in results if d is not None]
        order = sorted(range(len(dims)), key=dims.__getitem__)
        array = array.transpose(*range(self.g), *(self.g + i for i in order))
        return np.expand_dims(array, tuple(self.g + d for d in range(len(self.ranges)) if d not in dims))

    def leave(self, value: np.ndarray, results: Map, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A value over the space (size 1 on reduced loops) as a fresh output array."""
        g, dims = self.g, [d for d in results if d is not None]
        value = np.asarray(value)
        value = value.reshape((1,) * (g + len(self.ranges) - value.ndim) + value.shape)
        dropped = [d for d in range(len(self.ranges)) if d not in dims]
        if any(value.shape[g + d] != 1 for d in dropped):
            raise _fail(self.op, "writes one output element from several iterations")
        if any(size != 1 for d, size in zip(results, shape) if d is None):
            raise _fail(self.op, "has a constant output index into a dim larger than 1")
        value = value.squeeze(tuple(g + d for d in dropped)) if dropped else value
        kept = sorted(dims)
        value = value.transpose(*range(g), *(g + kept.index(d) for d in dims))
        value = np.expand_dims(value, tuple(g + i for i, d in enumerate(results) if d is None))
        return _fresh(value, self.grid + shape, dtype)

    def reduce(self, value: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
        """Reduce a value over the space along the reduction loops, keeping them as size 1."""
        full = np.broadcast_to(value, np.broadcast_shapes(self.shape, np.shape(value)))
        axes = tuple(self.g + d for d in self.reductions)
        return ufunc.reduce(full, axis=axes, keepdims=True, dtype=full.dtype)

    def arg_reduce(self, x, x_init, payload, payload_init, ufunc: np.ufunc, first: bool) -> np.ndarray:
        """The payload where x reaches its extreme (first or last such point in loop order)
        if that beats x_init, else payload_init: a sequential arg-max/min, in one pass."""
        if np.isnan(x).any() or np.isnan(x_init).any():
            raise _fail(self.op, "an arg-max/min over NaN is not supported")
        extreme = self.reduce(x, ufunc)
        greater = ufunc in _MAXIMA
        beats = (extreme > x_init if greater else extreme < x_init) if first else (
            extreme >= x_init if greater else extreme <= x_init)
        axes = tuple(self.g + d for d in self.reductions)

        def flat(value):
            """Reduction loops last, as one axis."""
            value = np.moveaxis(np.broadcast_to(value, self.shape), axes,
                                tuple(range(-len(axes), 0)))
            return value.reshape(value.shape[: value.ndim - len(axes)] + (-1,))

        hits = flat(np.broadcast_to(x, self.shape) == extreme)
        where = hits.argmax(-1) if first else hits.shape[-1] - 1 - hits[..., ::-1].argmax(-1)
        picked = np.take_along_axis(flat(payload), where[..., None], -1)
        return np.where(beats, picked.reshape(extreme.shape), payload_init)

    def contract(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """sum over the reduction loops of a * b, both over the space, by np.matmul if it can.

        Loops along which a and b both vary are batch dims, loops along which only one
        varies its free (M or N) dims, and the reduction loops K. A reduction loop that
        one of them does not vary along leaves the sum to numpy over the whole space.
        """
        g, n_loops = self.g, len(self.ranges)
        a, b = (np.reshape(x, (1,) * (g + n_loops - np.ndim(x)) + np.shape(x)) for x in (a, b))
        if any(x.shape[g + d] != self.ranges[d] for x in (a, b) for d in self.reductions):
            return self.reduce(a * b, np.add)
        a_dims, b_dims = ([d for d in range(n_loops) if x.shape[g + d] != 1 or d in self.reductions]
                          for x in (a, b))
        batch = [d for d in a_dims if d in b_dims and d not in self.reductions]
        m = [d for d in a_dims if d not in b_dims]
        n = [d for d in b_dims if d not in a_dims]
        k = list(self.reductions)

        def as_matrix(x, dims, rows, cols):
            x = x.squeeze(tuple(g + d for d in range(n_loops) if d not in dims))
            x = x.transpose(*range(g), *(g + dims.index(d) for d in batch + rows + cols))
            return x.reshape(x.shape[:g] + tuple(self.ranges[d] for d in batch)
                             + (math.prod(self.ranges[d] for d in rows), math.prod(self.ranges[d] for d in cols)))

        product = np.matmul(as_matrix(a, a_dims, m, k), as_matrix(b, b_dims, k, n))
        order = batch + m + n
        product = product.reshape(product.shape[:g] + tuple(self.ranges[d] for d in order))
        product = product.transpose(*range(g), *(g + order.index(d) for d in sorted(order)))
        return np.expand_dims(product, tuple(g + d for d in range(n_loops) if d not in order))


def _inits(op: ir.Operation) -> list[ir.Value]:
    """The init/out operands of a structured op: the last ones, counted by its segment sizes."""
    n_inits = list(op.attributes["operandSegmentSizes"])[1] if "operandSegmentSizes" in op.attributes else 1
    return list(op.operands)[len(op.operands) - n_inits:]


def _structured_parts(op: ir.Operation, operands: list[np.ndarray]):
    """(inputs, inits, init shapes, init dtypes) of a structured op."""
    inits = _inits(op)
    n_in = len(operands) - len(inits)
    shapes = [_static_shape(op, v.type) for v in inits]
    return operands[:n_in], operands[n_in:], shapes, [numpy_dtype(op, v.type) for v in inits]


def _eval_generic(op, operands, g, lookup) -> list[np.ndarray]:
    """linalg.generic: the body once over the whole space; reductions by their combiner.
    An input read through affine expressions (an im2col gather's, a depthwise
    convolution's windows) enters the space by one fancy index per input dim."""
    affine_maps = indexing_maps(op)
    ins, inits, shapes, dtypes = _structured_parts(op, operands)
    for affine_map in affine_maps[len(ins):]:
        if not is_projected_map(affine_map):
            raise _fail(op, f"output indexing map {affine_map} is not a projected permutation")
    projected = [i for i, m in enumerate(affine_maps) if is_projected_map(m)]
    maps = {i: tuple(map_dims(affine_maps[i])) for i in projected}
    reductions = reduction_dims(op)
    space = _Space.of(op, [operands[i] for i in projected], list(maps.values()), g, reductions)
    space = replace(space, grid=_grid(operands, g))

    def enter(i: int) -> np.ndarray:
        if i in maps:
            return space.enter(operands[i], maps[i])
        # The op's verifier has checked that every index lies inside the input.
        return operands[i][(slice(None),) * g + tuple(_index_array(op, e, space) for e in affine_maps[i].results)]

    block = op.regions[0].blocks[0]
    in_args, out_args = list(block.arguments)[: len(ins)], list(block.arguments)[len(ins):]
    bound = {arg: enter(i) for i, arg in enumerate(in_args)}
    out_maps = [maps[i] for i in range(len(ins), len(operands))]

    def loop_index(dim: int) -> np.ndarray:
        shape = [1] * (g + len(space.ranges))
        shape[g + dim] = space.ranges[dim]
        return np.arange(space.ranges[dim], dtype=np.int64).reshape(shape)

    if not reductions:
        bound |= {arg: enter(len(ins) + i) for i, arg in enumerate(out_args)}
        yielded = _run_block(op, block, bound, lookup, loop_index)
        return [space.leave(y, m, s, t) for y, m, s, t in zip(yielded, out_maps, shapes, dtypes)]

    outputs = [_reduction(block, out_args, i) for i in range(len(out_args))]
    entered = [space.enter(init, m) for init, m in zip(inits, out_maps)]
    if None in outputs:
        reduced = _reduce_in_order(op, block, bound, dict(zip(out_args, entered)), space, lookup, loop_index)
        return [space.leave(v, m, s, t) for v, m, s, t in zip(reduced, out_maps, shapes, dtypes)]
    product = _product(outputs)
    if product is not None:  # a contraction: sum(a * b) through matmul
        skipped = outputs[0].skipped | {product.result: None}
        a, b = _run_block(op, block, bound, lookup, loop_index, skipped, wanted=list(product.operands))
        reduced = [space.contract(a, b)]
    else:
        skipped = {k: v for r in outputs for k, v in r.skipped.items()}
        yielded = _run_block(op, block, bound, lookup, loop_index, skipped)
        reduced = [
            space.reduce(y, r.ufunc) if r.partner is None
            else space.arg_reduce(yielded[r.partner], entered[r.partner], y, entered[i], r.ufunc, r.first)
            for i, (r, y) in enumerate(zip(outputs, yielded))
        ]
    return [
        space.leave(value if r.partner is not None else r.ufunc(init, value), m, shape, dtype)
        for r, value, init, m, shape, dtype in zip(outputs, reduced, entered, out_maps, shapes, dtypes)
    ]


# The binary affine expressions, as numpy ufuncs on index arrays (mod and floordiv round down).
_AFFINE_OPS = {
    ir.AffineAddExpr: np.add, ir.AffineMulExpr: np.multiply, ir.AffineModExpr: np.mod,
    ir.AffineFloorDivExpr: np.floor_divide, ir.AffineCeilDivExpr: lambda a, b: -np.floor_divide(-a, b),
}


def _index_array(op: ir.Operation, expr: ir.AffineExpr, space: _Space) -> np.ndarray:
    """An affine expression of the loop indices, as an int array over the loops (size 1
    on loops it does not read): d1 * 2 + d4 becomes arange(OH)[:, None] * 2 + arange(KH)."""
    n_loops = len(space.ranges)
    if isinstance(expr, ir.AffineDimExpr):
        shape = [1] * n_loops
        shape[expr.position] = space.ranges[expr.position]
        return np.arange(space.ranges[expr.position], dtype=np.int64).reshape(shape)
    if isinstance(expr, ir.AffineConstantExpr):
        return np.full((1,) * n_loops, expr.value, dtype=np.int64)
    if type(expr) in _AFFINE_OPS:
        lhs, rhs = (_index_array(op, side, space) for side in (expr.lhs, expr.rhs))
        return _AFFINE_OPS[type(expr)](lhs, rhs)
    raise _fail(op, f"affine expression {expr} is not supported")


@dataclass
class _Reduction:
    """How a reduction generic computes one output.

    A combined output yields `ufunc(init, expr)`. An arg-reduction output (the index
    of an arg-max) yields `select(cmp(x, partner's init), payload, init)`, where the
    partner output reduces x by `ufunc`: the payload at the first (or last) extreme.
    `skipped` maps the body ops this replaces to the value to yield instead.
    """

    ufunc: np.ufunc
    expr: ir.Value | None
    skipped: dict[ir.Value, ir.Value | None]
    partner: int | None = None
    first: bool = True


# "x <relation> running value" of a compare op, by (op name, predicate): (greater?, strict?).
_ARG_RELATIONS = {
    ("arith.cmpf", 2): (True, True), ("arith.cmpf", 9): (True, True),  # ogt, ugt
    ("arith.cmpf", 3): (True, False), ("arith.cmpf", 10): (True, False),  # oge, uge
    ("arith.cmpf", 4): (False, True), ("arith.cmpf", 11): (False, True),  # olt, ult
    ("arith.cmpf", 5): (False, False), ("arith.cmpf", 12): (False, False),  # ole, ule
    ("arith.cmpi", 4): (True, True), ("arith.cmpi", 5): (True, False),  # sgt, sge
    ("arith.cmpi", 2): (False, True), ("arith.cmpi", 3): (False, False),  # slt, sle
}
_MAXIMA, _MINIMA = (np.maximum, np.fmax), (np.minimum, np.fmin)


def _op(value: ir.Value) -> ir.Operation | None:
    owner = value.owner
    return owner.operation if isinstance(owner, (ir.Operation, ir.OpView)) else None


def _combined(block: ir.Block, out_args: list[ir.Value], i: int) -> _Reduction | None:
    """Output i as `combine(init, expr)`, if it is."""
    producer = _op(list(block.operations)[-1].operands[i])
    if producer is None or producer.name not in _COMBINERS:
        return None
    lhs, rhs = producer.operands
    expr = rhs if lhs == out_args[i] else lhs if rhs == out_args[i] else None
    if expr is None or expr == out_args[i]:
        return None
    return _Reduction(_COMBINERS[producer.name], expr, {producer.result: expr})


def _reduce_in_order(op, block: ir.Block, bound: dict, accumulators: dict, space: _Space, lookup: Lookup,
                     loop_index: Callable[[int], np.ndarray]) -> list[np.ndarray]:
    """The outputs of a reduction none of whose combiners `_reduction` knows
    (max pooling's index of the first maximum in its window): the body runs
    once per point of the reduction loops, in loop order, on all parallel
    points at once, each output's accumulator carried to the next point.
    `loop_index` gives a parallel loop's indices over the whole space."""
    g = space.g
    for point in itertools.product(*(range(space.ranges[d]) for d in space.reductions)):
        at = dict(zip(space.reductions, point))

        def pick(array: np.ndarray) -> np.ndarray:
            return array[tuple(slice(at[d], at[d] + 1) if d in at and array.shape[g + d] > 1 else slice(None)
                               for d in range(-g, len(space.ranges)))]

        def index_at(dim: int) -> np.ndarray:
            if dim in at:
                return np.full([1] * (g + len(space.ranges)), at[dim], dtype=np.int64)
            return loop_index(dim)

        now = {arg: pick(x) for arg, x in bound.items()} | accumulators
        yielded = _run_block(op, block, now, lookup, index_at)
        accumulators = {arg: np.broadcast_to(y, acc.shape).astype(acc.dtype)
                        for (arg, acc), y in zip(accumulators.items(), yielded)}
    return list(accumulators.values())


def _reduction(block: ir.Block, out_args: list[ir.Value], i: int) -> _Reduction | None:
    """Recognize how output i of a reduction generic is reduced; None if by none of
    the known combiners or an arg-max/min of another output."""
    combined = _combined(block, out_args, i)
    if combined is not None:
        return combined
    select = _op(list(block.operations)[-1].operands[i])
    compare = _op(select.operands[0]) if select is not None and select.name == "arith.select" else None
    if compare is not None and select.operands[2] == out_args[i] and compare.name in ("arith.cmpf", "arith.cmpi"):
        greater, strict = _ARG_RELATIONS.get((compare.name, ir.IntegerAttr(compare.attributes["predicate"]).value),
                                             (None, None))
        operands = tuple(compare.operands)
        for k in range(len(out_args)):
            partner = _combined(block, out_args, k) if k != i and greater is not None else None
            if partner is None or out_args[k] not in operands or partner.expr not in operands:
                continue
            x_greater = greater if operands == (partner.expr, out_args[k]) else not greater
            if partner.ufunc in (_MAXIMA if x_greater else _MINIMA):
                skipped = {select.result: select.operands[1], compare.result: None}
                return _Reduction(partner.ufunc, None, skipped, partner=k, first=strict)
    return None


def _product(outputs: list[_Reduction]) -> ir.Operation | None:
    """The multiply of a one-output body `init + a * b`, if it is one."""
    if len(outputs) != 1 or outputs[0].ufunc is not np.add or outputs[0].expr is None:
        return None
    product = _op(outputs[0].expr)
    return product if product is not None and product.name in ("arith.mulf", "arith.muli") else None


def _eval_contraction_op(op, operands, g, lookup) -> list[np.ndarray]:
    """linalg.matmul / batch_matmul, with their (possibly transposing) indexing maps."""
    if unsigned_cast(op):
        raise _fail(op, "unsigned casts are not supported")
    (a, b), (init,), (shape,), (dtype,) = _structured_parts(op, operands)
    maps = _maps(op)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    reductions = [d for d in maps[0] if d is not None and d not in maps[2]]
    space = _Space.of(op, [a, b, init], maps, g, reductions)
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


def _eval_conv(op, operands, g, lookup) -> list[np.ndarray]:
    """linalg.conv_2d_nchw_fchw as a matmul over im2col windows."""
    (x, w), (init,), (shape,), (dtype,) = _structured_parts(op, operands)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    windows = _windows(op, x, g, w.shape[-2:], shape[2:])
    # Loops: n, f, oh, ow, c, kh, kw.
    maps = [(0, 4, 2, 3, 5, 6), (1, 4, 5, 6), (0, 1, 2, 3)]
    space = _Space.of(op, [windows, w, init], maps, g, (4, 5, 6))
    product = space.contract(space.enter(windows, maps[0]), space.enter(w, maps[1]))
    return [space.leave(space.enter(init, maps[2]) + product, maps[2], shape, dtype)]


def _eval_pooling(ufunc: np.ufunc):
    def evaluate_pooling(op, operands, g, lookup) -> list[np.ndarray]:
        """linalg.pooling_nchw_*: reduce each window, then combine with the init."""
        (x, _), (init,), (shape,), (dtype,) = _structured_parts(op, operands)
        kernel = _static_shape(op, op.operands[1].type)
        windows = _windows(op, x.astype(dtype, copy=False), g, kernel, shape[2:])
        pooled = ufunc.reduce(windows, axis=(-2, -1), dtype=dtype)
        return [_fresh(ufunc(init, pooled), _grid([pooled, init], g) + shape, dtype)]

    return evaluate_pooling


def _eval_fill(op, operands, g, lookup) -> list[np.ndarray]:
    (value,), (init,), (shape,), (dtype,) = _structured_parts(op, operands)
    value = value.reshape(value.shape + (1,) * len(shape))
    return [_fresh(value, _grid([value, init], g) + shape, dtype)]


def _eval_transpose(op, operands, g, lookup) -> list[np.ndarray]:
    (x,), (init,), (shape,), (dtype,) = _structured_parts(op, operands)
    permutation = list(op.attributes["permutation"])
    return [_fresh(x.transpose(*range(g), *(g + p for p in permutation)), _grid([x, init], g) + shape, dtype)]


def _eval_broadcast(op, operands, g, lookup) -> list[np.ndarray]:
    (x,), (init,), (shape,), (dtype,) = _structured_parts(op, operands)
    added = tuple(g + d for d in op.attributes["dimensions"])
    return [_fresh(np.expand_dims(x, added), _grid([x, init], g) + shape, dtype)]


def _eval_generalized(op, operands, g, lookup) -> list[np.ndarray]:
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
            raise _fail(op, "unsupported op (it cannot be generalized)") from None
    generic = list(entry.operations)[0]
    if generic.name != "linalg.generic":
        raise _fail(op, "unsupported op")
    return _eval_generic(generic, operands, g, lookup)


# ---------------------------------------------------------------------------------------
# Tensor ops


def _static_list(op, name: str) -> list[int]:
    values = list(op.attributes[name])
    if ir.ShapedType.get_dynamic_size() in values:  # also the dynamic stride/offset marker
        raise _fail(op, f"dynamic {name.removeprefix('static_')} are not supported")
    return values


def _slices(op, g: int) -> tuple[slice, ...]:
    offsets, sizes, strides = (_static_list(op, f"static_{n}") for n in ("offsets", "sizes", "strides"))
    return (slice(None),) * g + tuple(slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offsets, sizes, strides))


def _assert(op, condition: np.ndarray) -> list[np.ndarray]:
    """A check, in a body or between regions (adaptive pooling's window sizes): a
    run-time error if it fails."""
    if not np.all(condition):
        raise _fail(op, f"assertion failed: {ir.StringAttr(op.attributes['msg']).value}")
    return []


def _eval_empty(op, operands, g, lookup) -> list[np.ndarray]:
    return [np.zeros((1,) * g + _static_shape(op, op.result.type), _result_dtype(op))]


def _eval_reshape(op, operands, g, lookup) -> list[np.ndarray]:
    """tensor.expand_shape / collapse_shape: a row-major reshape below the grid dims."""
    x = operands[0]
    return [x.reshape(x.shape[:g] + _static_shape(op, op.result.type))]


def _eval_pad(op, operands, g, lookup) -> list[np.ndarray]:
    """tensor.pad with static amounts and a pad value that does not depend on the index."""
    x = operands[0]
    low, high = _static_list(op, "static_low"), _static_list(op, "static_high")
    (value,) = _run_block(op, op.regions[0].blocks[0], {}, lookup)
    padded = np.empty(x.shape[:g] + _static_shape(op, op.result.type), x.dtype)
    padded[...] = np.asarray(value).reshape(np.shape(value) + (1,) * (padded.ndim - np.ndim(value)))
    interior = tuple(slice(lo, size - hi) for lo, hi, size in zip(low, high, padded.shape[g:]))
    padded[(slice(None),) * g + interior] = x
    return [padded]


def _eval_extract_slice(op, operands, g, lookup) -> list[np.ndarray]:
    x = operands[0]
    return [x[_slices(op, g)].reshape(x.shape[:g] + _static_shape(op, op.result.type))]


def _eval_insert_slice(op, operands, g, lookup) -> list[np.ndarray]:
    source, dest = operands[:2]
    out = np.array(np.broadcast_to(dest, _grid([source, dest], g) + dest.shape[g:]))  # a copy
    region = out[_slices(op, g)]
    region[...] = source.reshape(source.shape[:g] + region.shape[g:])
    return [out]


def _eval_concat(op, operands, g, lookup) -> list[np.ndarray]:
    grid = _grid(operands, g)
    dim = ir.IntegerAttr(op.attributes["dim"]).value
    return [np.concatenate([np.broadcast_to(x, grid + x.shape[g:]) for x in operands], axis=g + dim)]


_OPS: dict[str, Callable[..., list[np.ndarray]]] = {
    "arith.constant": lambda op, operands, g, lookup: [(c := _constant(op)).reshape((1,) * g + c.shape)],
    "tensor.empty": _eval_empty,
    "tensor.expand_shape": _eval_reshape,
    "tensor.collapse_shape": _eval_reshape,
    "tensor.pad": _eval_pad,
    "tensor.extract_slice": _eval_extract_slice,
    "tensor.insert_slice": _eval_insert_slice,
    "tensor.concat": _eval_concat,
    "tensor.cast": lambda op, operands, g, lookup: [operands[0]],
    "cf.assert": lambda op, operands, g, lookup: _assert(op, operands[0]),
    "linalg.generic": _eval_generic,
    "linalg.fill": _eval_fill,
    "linalg.matmul": _eval_contraction_op,
    "linalg.batch_matmul": _eval_contraction_op,
    "linalg.transpose": _eval_transpose,
    "linalg.broadcast": _eval_broadcast,
    "linalg.conv_2d_nchw_fchw": _eval_conv,
    "linalg.pooling_nchw_max": _eval_pooling(np.maximum),
    "linalg.pooling_nchw_sum": _eval_pooling(np.add),
}

# The host ops of tm_tensor (scans, sorts, scatters) need the helpers above.
from .tm_tensor_ops import TM_TENSOR_OPS  # noqa: E402

_OPS.update(TM_TENSOR_OPS)
