"""wafer-fold-narrowed-constants: a float constant truncated to 16 bits becomes a 16-bit constant."""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from .pass_base import WaferPass, find_ops


def _narrow_dtype(element: ir.Type) -> type | None:
    """The numpy type of a 16-bit float type; None for any other."""
    if isinstance(element, ir.BF16Type):
        return ml_dtypes.bfloat16
    return np.float16 if isinstance(element, ir.F16Type) else None


def round_to_nearest(value: float, narrow: type) -> float:
    """`value` (an f64) rounded once to the nearest `narrow` value, ties to even.

    Rounding to f32 and then to 16 bits would round twice. Rounding to f32
    toward zero with the last bit set where bits were lost ("round to odd")
    keeps every 16-bit tie a tie and every non-tie off it, because f32 keeps
    more than two bits past a 16-bit mantissa.
    """
    single = np.float32(value)
    if float(single) != value and np.isfinite(single):
        if abs(float(single)) > abs(value):
            single = np.nextafter(single, np.float32(0))
        single = (single.view(np.uint32) | np.uint32(1)).view(np.float32)
    return float(single.astype(narrow))


@dataclass(frozen=True)
class FoldNarrowedConstants(WaferPass):
    """Fold `arith.truncf` of a scalar float constant to bf16 or f16.

    A model compiled at 16-bit precision keeps torch's f64 scalars (a layer
    norm's eps) and truncates them in the body, on every call. MLIR folds only
    exact truncations, and where the CPU has no bf16 conversion LLVM goes
    through f32 (the JIT links only the f32 builtin): two roundings. The value
    is rounded here instead, once, at compile time.
    """

    name = "wafer-fold-narrowed-constants"
    summary = "Fold truncations of float constants to bf16 or f16 into constants"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "arith.truncf" and "roundingmode" not in op.attributes):
            source = op.operands[0].owner
            narrow = _narrow_dtype(op.results[0].type)
            if narrow is None or not isinstance(source, ir.OpView) or source.name != "arith.constant":
                continue
            value = source.attributes["value"]
            if not isinstance(value, ir.FloatAttr):
                continue
            with ir.InsertionPoint(op), op.location:
                folded = arith.ConstantOp(op.results[0].type, round_to_nearest(value.value, narrow))
            op.results[0].replace_all_uses_with(folded.result)
            op.erase()
