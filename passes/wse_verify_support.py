"""wse-verify-support: reject, up front, values the wse target cannot hold."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..wse_target.interpreter import BODY_OPS
from .pass_base import PassFailure, WaferPass

_BODIED = ("linalg.", "tm_tensor.")  # dialects whose ops' bodies the simulator runs element by element


def _unsupported_body_op(op: ir.Operation) -> str | None:
    """Why a PE cannot run `op`, an op in a linalg or tm_tensor body, or None when it can."""
    parent = op.parent
    if parent is None or not parent.name.startswith(_BODIED) or op.name in BODY_OPS:
        return None
    return (f"in the body of '{parent.name}' has no PE kernel in the wse simulator "
            "(the cpu target runs it)")


def _unsupported(value: ir.Value) -> str | None:
    """Why the wse target cannot hold `value`, or None when it can."""
    shaped = isinstance(value.type, ir.ShapedType)
    element = value.type.element_type if shaped else value.type
    if isinstance(element, ir.ComplexType):
        return f"computes on {value.type}: the wse target runs real numbers only (the cpu target runs complex ones)"
    if shaped and not value.type.has_static_shape:
        return (f"makes a {value.type} of a size known only at run time: the wse target places "
                "static shapes only (the cpu target runs dynamic ones)")
    return None


@dataclass(frozen=True)
class WseVerifySupport(WaferPass):
    """Fail at the first op that computes on complex numbers or dynamic
    shapes, or that a linalg body holds and the simulator cannot run.

    A PE's datapaths are real (fp32, fp16), and placement sizes each region
    from its static loop ranges: a complex op reached a verifier deep in the
    pipeline ("'math.absf' op operand #0 must be floating-point-like") and a
    boolean-mask index_put (whose nonzero count is known only at run time)
    an internal error in wse-partition. A body op the interpreter lacks
    (`torch.atanh`'s, once) compiled and failed at call time. Here the error
    names the op at the user's line; the cpu target runs all three.
    """

    name = "wse-verify-support"
    summary = ("Check that no op computes on complex numbers or dynamic shapes, or sits in a linalg body "
               "the simulator cannot run: the wse target does not run them")

    def apply(self, module: ir.Operation) -> None:
        found: list[tuple[ir.Operation, str]] = []

        def find(op: ir.Operation) -> ir.WalkResult:
            if (reason := _unsupported_body_op(op)) is not None:
                found.append((op, reason))
                return ir.WalkResult.INTERRUPT
            for value in op.results:
                if (reason := _unsupported(value)) is not None:
                    found.append((op, reason))
                    return ir.WalkResult.INTERRUPT
            return ir.WalkResult.ADVANCE

        module.walk(find)
        if found:
            op, reason = found[0]
            raise PassFailure(op.location, f"'{op.name}' {reason}")
