"""wafer-fold-zero-trip: a linalg op whose loop nest runs zero times yields its inits."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass, find_ops


def _has_empty_input(op: ir.Operation) -> bool:
    """Whether an input of a destination-style linalg op has a static extent of 0.

    Every loop of a structured op ranges over an operand's extent, and an
    operand's dim is read by the loop it names: an empty input bounds a loop
    (K of `mm` with K = 0, a zero-channel conv) to zero trips.
    """
    n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
    return any(isinstance(value.type, ir.RankedTensorType) and 0 in value.type.shape
               for value in list(op.operands)[:n_inputs])


@dataclass(frozen=True)
class FoldZeroTrip(WaferPass):
    """Replace each linalg op that reads an empty tensor by its init operands.

    Its body never runs, so its results are its inits: zeros (or the bias)
    for a contraction with K = 0. Later passes then never meet a loop of
    extent 0 (wafer-pack-matmul picks panels by dividing K).
    """

    name = "wafer-fold-zero-trip"
    summary = "Replace linalg ops whose loops run zero times by their init operands"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name.startswith("linalg.") and op.name != "linalg.fill"
                           and "operandSegmentSizes" in op.attributes and _has_empty_input(op)):
            n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
            inits = list(op.operands)[n_inputs:]
            if len(inits) != len(op.results) or any(i.type != r.type for i, r in zip(inits, op.results)):
                continue  # a memref op, or results typed unlike their inits
            for result, init in zip(op.results, inits):
                result.replace_all_uses_with(init)
            op.erase()
