"""Constant arrays bound to the JIT as external symbols instead of compiled into code.

LLVM compiles an initialized global's data into the object code, element by
element: the JIT took about 18 ms per MB of weights. A large constant global
becomes an external declaration instead, and the JIT resolves its symbol to
an aligned numpy array holding the data, read in place at run time.
"""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from .passes.pass_base import find_ops
from .passes.resource_blobs import elements_array

# Smaller constants stay in the code, where LLVM can still fold them; a weight is far larger.
MIN_BYTES = 4096
_ALIGNMENT = 64  # memref globals' alignment, which vector loads may assume


def externalize_constants(module: ir.Module) -> dict[str, np.ndarray]:
    """Turn each large constant `llvm.mlir.global` whose data Wafer can read into an
    external declaration; return the arrays that must back their symbols."""
    arrays = {}
    for op in find_ops(module.operation, lambda op: op.name == "llvm.mlir.global"):
        data = _data(op)
        if data is None or data.nbytes < MIN_BYTES:
            continue
        name = ir.StringAttr(op.attributes["sym_name"]).value
        arrays[name] = _aligned_copy(data)
        del op.attributes["value"]
        op.attributes["linkage"] = ir.Attribute.parse("#llvm.linkage<external>", op.context)
    return arrays


def _data(op: ir.Operation) -> np.ndarray | None:
    if "value" not in op.attributes or "constant" not in op.attributes:
        return None
    try:
        value = op.attributes["value"]
    except TypeError:  # the bindings cannot downcast some dense kinds (complex): they stay in the code
        return None
    return elements_array(value)


def _aligned_copy(data: np.ndarray) -> np.ndarray:
    """`data`'s bytes in a buffer that starts on an `_ALIGNMENT` boundary."""
    raw = np.empty(data.nbytes + _ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGNMENT
    aligned = raw[start:start + data.nbytes]
    aligned[:] = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return aligned
