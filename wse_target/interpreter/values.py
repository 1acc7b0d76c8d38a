"""What the interpreter's ops share: its error, numpy dtypes and shapes of IR
types, the grid dims every array carries, and constants (the fx importer's
dense_resource weights among them)."""

from __future__ import annotations

import math
import weakref
from typing import Callable

import ml_dtypes
import numpy as np
from torch_mlir import ir

from wafer.diagnostics import WaferError, format_location
from wafer.passes.resource_blobs import cast_attr, printed_blobs, resource_name

# How an op's regions read a value defined above them.
Lookup = Callable[[ir.Value], np.ndarray]


class InterpreterError(WaferError):
    """An op the interpreter cannot evaluate, or a failed runtime check in one."""

    def __init__(self, location: str, message: str):
        self.location, self.message = location, message
        super().__init__(f"{location}: error: {message}" if location else f"error: {message}")


def fail(op: ir.Operation, message: str) -> InterpreterError:
    return InterpreterError(format_location(op.location), f"'{op.name}': {message}")


_DTYPES = {
    "f16": np.float16, "bf16": ml_dtypes.bfloat16, "f32": np.float32, "f64": np.float64, "i1": np.bool_, "i8": np.int8,
    "i16": np.int16, "i32": np.int32, "i64": np.int64, "index": np.int64,
}
UNSIGNED = {np.dtype(np.int8): np.uint8, np.dtype(np.int16): np.uint16,
             np.dtype(np.int32): np.uint32, np.dtype(np.int64): np.uint64}


def numpy_dtype(op: ir.Operation, type_: ir.Type) -> np.dtype:
    """The numpy dtype of a scalar, tensor or memref type's elements."""
    element = ir.ShapedType(type_).element_type if isinstance(type_, ir.ShapedType) else type_
    if str(element) not in _DTYPES:
        raise fail(op, f"element type {element} is not supported")
    return np.dtype(_DTYPES[str(element)])


def shape_of(type_: ir.Type) -> tuple[int, ...]:
    """Static dims of a shaped type, -1 where dynamic; () for a scalar."""
    if not isinstance(type_, ir.ShapedType):
        return ()
    shaped = ir.ShapedType(type_)
    return tuple(-1 if shaped.is_dynamic_dim(i) else shaped.get_dim_size(i) for i in range(shaped.rank))


def static_shape(op: ir.Operation, type_: ir.Type) -> tuple[int, ...]:
    shape = shape_of(type_)
    if -1 in shape:
        raise fail(op, f"dynamic shape {type_} is not supported")
    return shape


def result_dtype(op: ir.Operation) -> np.dtype:
    return numpy_dtype(op, op.results[0].type)


def grid_shape(arrays: list[np.ndarray], g: int) -> tuple[int, ...]:
    """The grid shape that the operands' grid dims broadcast to."""
    return np.broadcast_shapes(*(a.shape[:g] for a in arrays)) if arrays else (1,) * g


def fresh(value: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """`value` broadcast to `shape` as a contiguous array of `dtype` (a copy unless it is one)."""
    return np.asarray(np.broadcast_to(value, shape), dtype=dtype, order="C")  # ascontiguousarray makes 0-d 1-d


# Per context, resource name -> raw bytes. Resource names are unique in a context.
_RESOURCE_BLOBS: weakref.WeakKeyDictionary[ir.Context, dict[str, bytes]] = weakref.WeakKeyDictionary()


def constant_value(op: ir.Operation) -> np.ndarray:
    """The value of an arith.constant, without grid dims."""
    attr = op.attributes["value"]
    dtype = result_dtype(op)
    shape = static_shape(op, op.result.type)
    if isinstance(attr, ir.DenseElementsAttr):
        return np.array(attr).astype(dtype, copy=False).reshape(shape)
    if isinstance(attr, (ir.FloatAttr, ir.IntegerAttr, ir.BoolAttr)):
        return np.array(attr.value).astype(dtype)
    resource = cast_attr(ir.DenseResourceElementsAttr, attr)  # the bindings do not downcast these
    if resource is not None:
        blob = _resource_blob(op, resource)
        if len(blob) != math.prod(shape) * dtype.itemsize:
            raise fail(op, f"resource holds {len(blob)} bytes, not the {op.result.type} it names")
        return np.frombuffer(blob, dtype=dtype).reshape(shape)
    raise fail(op, f"constant {attr} is not supported")


def _resource_blob(op: ir.Operation, attr: ir.DenseResourceElementsAttr) -> bytes:
    """The bytes of a `dense_resource<name>` attribute, from the module's printed
    resource section (see `printed_blobs`), kept per context."""
    name = resource_name(attr)
    blobs = _RESOURCE_BLOBS.setdefault(op.context, {})
    if name not in blobs:
        blobs.update(printed_blobs(op))
    if name not in blobs:
        raise fail(op, f"the module holds no data for resource {name}")
    return blobs[name]
