"""wse-fold-constant-generics: compute at compile time the generics that read only literal constants."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from ..wse_target.interpreter import evaluate, numpy_dtype
from .linalg_builders import is_bool
from .pass_base import WaferPass, find_ops
from .wse_split_gathers import body_extracts


def _literal(value: ir.Value) -> np.ndarray | None:
    """The array of an `arith.constant` written out in the IR (not a weight
    held as a resource), else None."""
    owner = value.owner
    if not (isinstance(owner, ir.OpView) and owner.name == "arith.constant"):
        return None
    if not isinstance(owner.attributes["value"], ir.DenseElementsAttr):
        return None
    return evaluate(owner, [])[0]


def _foldable(op: ir.Operation) -> list[np.ndarray] | None:
    """The input arrays of a generic that reads only literal constants and
    yields no more elements than its largest input holds; else None."""
    if len(op.results) != 1 or body_extracts(op):
        return None
    element = ir.RankedTensorType(op.results[0].type).element_type
    if is_bool(element):
        return None  # booleans: numpy stores a byte per element, the attribute a bit
    n_inputs = len(op.operands) - len(op.results)
    inputs = [_literal(value) for value in list(op.operands)[:n_inputs]]
    if not inputs or any(array is None for array in inputs):
        return None
    if math.prod(ir.RankedTensorType(op.results[0].type).shape) > max(array.size for array in inputs):
        return None
    return inputs


@dataclass(frozen=True)
class WseFoldConstantGenerics(WaferPass):
    """Replace each generic that reads only literal constants by its result.

    wse-materialize-indices turns loop indices into iota constants, and an
    upsampling computes its source pixels from them (`floor((i + 0.5) / 2)`)
    in generics of their own. Folded, those index vectors are constants, so
    the gathers that read them are known to move data in a fixed pattern
    (wse-partition's static gathers) instead of reading a region's output.
    A generic is folded only when its result is no larger than its largest
    input: folding never grows the module's constants, and weights (held as
    resources) are left to the program.
    """

    name = "wse-fold-constant-generics"
    summary = "Fold linalg.generics whose inputs are all literal constants into constants"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            inputs = _foldable(op)
            if inputs is None:
                continue
            if any(True for _ in op.regions[0].blocks[0].arguments[len(inputs)].uses):
                continue  # it reads its init: leave it to the program
            result_type = ir.RankedTensorType(op.results[0].type)
            shape = tuple(result_type.shape)
            (array,) = evaluate(op, inputs + [np.zeros(shape, dtype=numpy_dtype(op, result_type))])
            with ir.InsertionPoint(op), op.location:
                folded = arith.ConstantOp(result_type, ir.DenseElementsAttr.get(
                    np.ascontiguousarray(array), type=result_type.element_type)).result
            op.results[0].replace_all_uses_with(folded)
            op.erase()
