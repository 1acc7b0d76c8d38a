"""wse-verify-support: reject, up front, values the wse target cannot hold."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import PassFailure, WaferPass


def _complex_type(value: ir.Value) -> ir.Type | None:
    element = value.type.element_type if isinstance(value.type, ir.ShapedType) else value.type
    return value.type if isinstance(element, ir.ComplexType) else None


@dataclass(frozen=True)
class WseVerifySupport(WaferPass):
    """Fail at the first op that computes on complex numbers.

    A PE's datapaths are real (fp32, fp16): the wse passes and the cost model
    know no complex arithmetic, and a complex op reached a verifier deep in
    the pipeline ("'math.absf' op operand #0 must be floating-point-like").
    Here the error names the op at the user's line; the cpu target runs it.
    """

    name = "wse-verify-support"
    summary = "Check that no op computes on complex numbers, which the wse target does not run"

    def apply(self, module: ir.Operation) -> None:
        found: list[tuple[ir.Operation, ir.Type]] = []

        def find(op: ir.Operation) -> ir.WalkResult:
            for value in [*op.operands, *op.results]:
                if (kind := _complex_type(value)) is not None:
                    found.append((op, kind))
                    return ir.WalkResult.INTERRUPT
            return ir.WalkResult.ADVANCE

        module.walk(find)
        if found:
            op, kind = found[0]
            raise PassFailure(op.location, f"'{op.name}' computes on {kind}: the wse target runs real numbers only "
                                           "(the cpu target runs complex ones)")
