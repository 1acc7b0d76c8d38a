"""Constant arrays bound to the JIT as external symbols instead of compiled into code.

LLVM compiles an initialized global's data into the object code, element by
element: the JIT took about 18 ms per MB of weights. A large constant global
becomes an external declaration instead, and the JIT resolves its symbol to
an aligned numpy array holding the data, read in place at run time.
"""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from .passes.resource_blobs import ALIGNMENT, aligned_empty, aligned_size, elements_array, owned_array

# Smaller constants stay in the code, where LLVM can still fold them; a weight is far larger.
MIN_BYTES = 4096


def externalize_constants(module: ir.Module) -> dict[str, np.ndarray]:
    """Turn each large constant `llvm.mlir.global` whose data Wafer can read into an
    external declaration; return the arrays that must back their symbols.

    An array a pass made (packed weights) is bound as it is, when aligned.
    The others are copied, so the code reads a snapshot (the importer's
    weights are views of the model's own tensors), into one allocation
    rather than one per weight.
    """
    arrays, copied = {}, []
    for op in module.body.operations:  # globals are symbols of the module itself
        op = op.operation
        if op.name != "llvm.mlir.global" or "value" not in op.attributes or "constant" not in op.attributes:
            continue
        try:
            value = op.attributes["value"]
        except TypeError:  # the bindings cannot downcast some dense kinds (complex): they stay in the code
            continue
        owned = owned_array(value)
        data = owned if owned is not None else elements_array(value)
        if data is None or data.nbytes < MIN_BYTES:
            continue
        name = ir.StringAttr(op.attributes["sym_name"]).value
        if owned is not None and owned.ctypes.data % ALIGNMENT == 0 and owned.flags.c_contiguous:
            arrays[name] = owned
        else:
            copied.append((name, data))
        del op.attributes["value"]
        op.attributes["linkage"] = ir.Attribute.parse("#llvm.linkage<external>", op.context)
    offsets = np.cumsum([0] + [aligned_size(data.nbytes) for _, data in copied])
    arena = aligned_empty((int(offsets[-1]),), np.uint8)
    for (name, data), offset in zip(copied, offsets):
        arrays[name] = arena[offset:offset + data.nbytes].view(data.dtype).reshape(data.shape)
        np.copyto(arrays[name], data)
    return arrays
