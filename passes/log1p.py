"""wafer-log1p: math.log1p to full precision, before upstream lowers it as log(1 + x)."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, math

from .linalg_builders import splat
from .pass_base import WaferPass, rewrite_ops


def _log1p(op, rewriter) -> bool:
    x = op.operands[0]
    with rewriter.ip, op.location:
        u = arith.addf(splat(1.0, x.type), x)
        # log(u) is exact for the u that 1 + x rounded to; x / (u - 1) corrects for the rounding.
        scaled = arith.mulf(math.log(u), arith.divf(x, arith.subf(u, splat(1.0, x.type))))
        exact = arith.cmpf(arith.CmpFPredicate.OEQ, u, splat(1.0, x.type))  # x below half an ulp of 1
        infinite = arith.cmpf(arith.CmpFPredicate.OEQ, u, splat(float("inf"), x.type))
        result = arith.select(exact, x, arith.select(infinite, u, scaled))
    rewriter.replace_op(op, [result])
    return False


@dataclass(frozen=True)
class Log1p(WaferPass):
    """Rewrite each `math.log1p` as log(u) * x / (u - 1), u = 1 + x (Goldberg,
    "What every computer scientist should know about floating-point
    arithmetic", theorem 4), x itself where u rounds to 1 and inf where u is.

    convert-math-to-llvm lowers log1p as log(1 + x), which loses the digits of
    a small x that 1 + x rounds away: log1p(1e-6) came out 4.6% low, and a
    softplus or log-sigmoid built on it lost its tail. The form stays
    elementwise, so it vectorizes as log does.
    """

    name = "wafer-log1p"
    summary = "Rewrite math.log1p to full precision as log(1 + x) * x / ((1 + x) - 1)"

    def apply(self, module: ir.Operation) -> None:
        rewrite_ops(module, {"math.log1p": _log1p})
