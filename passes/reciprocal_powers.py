"""wafer-reciprocal-powers: x**-n as 1 / x**n, before upstream expands math.fpowi."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, math

from .linalg_builders import splat
from .linalg_queries import constant_int
from .pass_base import WaferPass, rewrite_ops


def _reciprocal_of_power(op, rewriter) -> bool:
    exponent = constant_int(op.operands[1])
    if exponent is None or exponent >= 0:
        return True
    x = op.operands[0]
    with rewriter.ip, op.location:
        power = math.fpowi(x, splat(-exponent, op.operands[1].type))
        result = arith.divf(splat(1.0, x.type), power)
    rewriter.replace_op(op, [result])
    return False


@dataclass(frozen=True)
class ReciprocalPowers(WaferPass):
    """Rewrite each `math.fpowi` whose exponent is a negative constant as 1 / fpowi(x, -n).

    `math-expand-ops` expands a negative power as 1 / x**n, then selects +inf
    where x**n equals +0 and -inf where it equals -0; +0 and -0 compare equal,
    so every zero power (x**-2 at 0, or at 1e-30 where x**2 underflows) became
    -inf. An IEEE division gives the infinity of the zero's sign, as torch's pow.
    """

    name = "wafer-reciprocal-powers"
    summary = "Rewrite math.fpowi with a negative constant exponent as 1 / fpowi"

    def apply(self, module: ir.Operation) -> None:
        rewrite_ops(module, {"math.fpowi": _reciprocal_of_power})
