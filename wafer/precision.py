"""Compiling a model at 16-bit precision behind an edge that keeps its dtypes.

`wafer.compile(..., precision="fp16")` casts a copy of the model's floating
weights and buffers and its floating example inputs to 16 bits before export,
so every op is imported, placed and costed at that width. The compiled model
still takes and returns the dtype the caller's model uses: `Boundary` casts
at the edge, as the host does before it sends data to a wafer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import ml_dtypes
import numpy as np
import torch

from .diagnostics import WaferError

PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}

# How close a result must come to PyTorch's at the same precision, as a fraction
# of the largest magnitude among the expected values: about ten units in the
# last place of fp16's 10 and bf16's 7 mantissa bits (sums accumulated in 16
# bits round once per term).
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 4e-2}


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    if dtype == torch.bfloat16:  # numpy has no bf16 of its own
        return np.dtype(ml_dtypes.bfloat16)
    return torch.empty((), dtype=dtype).numpy().dtype


@dataclass(frozen=True)
class Boundary:
    """Inputs of dtype `wide` are cast to `narrow` on the way in, results of
    dtype `narrow` back to `wide` on the way out."""

    wide: torch.dtype
    narrow: torch.dtype

    def input(self, x):
        """`x` (a tensor or an array) as the compiled model takes it."""
        if isinstance(x, torch.Tensor):
            return x.to(self.narrow) if x.dtype == self.wide else x
        if isinstance(x, np.ndarray) and x.dtype == numpy_dtype(self.wide):
            return x.astype(numpy_dtype(self.narrow))
        return x

    def output(self, result: np.ndarray) -> np.ndarray:
        return result.astype(numpy_dtype(self.wide)) if result.dtype == numpy_dtype(self.narrow) else result

    def output_dtype(self, dtype):
        return self.wide if dtype == self.narrow else dtype


def wse_defaults(boundary: Boundary | None) -> dict:
    """The wse pipeline options a precision implies: fp16 sums accumulate in
    fp16, at `@fmach`'s full SIMD width (the caller may still ask for fp32)."""
    return {"accumulate": "fp16"} if boundary is not None and boundary.narrow == torch.float16 else {}


def at_precision(model: torch.nn.Module, example_inputs: tuple, precision: str):
    """(model, example inputs, Boundary or None) to export for `precision`; the
    caller's model is left as it was."""
    if precision not in PRECISIONS:
        raise WaferError(f"error: unknown precision '{precision}' (known: {', '.join(PRECISIONS)})")
    narrow = PRECISIONS[precision]
    if narrow is None:
        return model, example_inputs, None
    floating = [x.dtype for x in example_inputs if isinstance(x, torch.Tensor) and x.is_floating_point()]
    floating += [p.dtype for p in model.parameters() if p.is_floating_point()]
    wide = floating[0] if floating else torch.float32
    boundary = Boundary(wide, narrow)
    return copy.deepcopy(model).to(narrow), tuple(boundary.input(x) for x in example_inputs), boundary
