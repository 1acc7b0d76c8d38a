"""wafer-rational-math: f32 `math.tanh` and `math.erf` as rational functions, so they vectorize."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, math

from .linalg_builders import splat
from .pass_base import WaferPass, rewrite_ops


@dataclass(frozen=True)
class _OddRational:
    """f(x) = x P(x^2) / Q(x^2) on [-clamp, clamp]: Eigen's fitted
    `generic_fast_tanh_float` and `generic_fast_erf_float`. Beyond, f(x) = +-1,
    which both functions round to within a few ulp there (Eigen clamps x, and
    its forms stop a few ulp short of 1: a tanh GELU of -100 was -1.2e-5, not 0).
    Below `tiny`, f(x) = x (tanh only)."""

    numerator: tuple[float, ...]  # P's coefficients, x^0 upwards
    denominator: tuple[float, ...]
    clamp: float
    tiny: float | None = None


_TANH = _OddRational(
    numerator=(4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08,
               -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16),
    denominator=(4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06),
    clamp=7.90531110763549805, tiny=0.0004)
_ERF = _OddRational(
    numerator=(-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04, -5.69250639462346e-05,
               -2.10102402082508e-06, 2.77068142495902e-08, -2.72614225801306e-10),
    denominator=(-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03, -2.13374055278905e-04,
                 -1.45660718464996e-05),
    clamp=4.0)


def _horner(coefficients: tuple[float, ...], x: ir.Value) -> ir.Value:
    result = splat(coefficients[-1], x.type)
    for coefficient in reversed(coefficients[:-1]):
        result = math.fma(result, x, splat(coefficient, x.type))
    return result


def _expander(rational: _OddRational):
    def expand(op, rewriter):
        x = op.operands[0]
        element = ir.VectorType(x.type).element_type if isinstance(x.type, ir.VectorType) else x.type
        if not isinstance(element, ir.F32Type):
            return True
        with rewriter.ip, op.location:
            square = arith.mulf(x, x)
            numerator = arith.mulf(x, _horner(rational.numerator, square))
            result = arith.divf(numerator, _horner(rational.denominator, square))
            # Beyond the clamp (+-inf too) the selected +-1 replaces what overflowed; NaN compares false.
            magnitude = math.absf(x)
            beyond = arith.cmpf(arith.CmpFPredicate.OGT, magnitude, splat(rational.clamp, x.type))
            result = arith.select(beyond, math.copysign(splat(1.0, x.type), x), result)
            if rational.tiny is not None:
                tiny = arith.cmpf(arith.CmpFPredicate.OLT, magnitude, splat(rational.tiny, x.type))
                result = arith.select(tiny, x, result)
        rewriter.replace_op(op, [result])
        return False

    return expand


@dataclass(frozen=True)
class RationalMath(WaferPass):
    """Rewrite each f32 `math.tanh` and `math.erf`, scalar or vector, as x P(x^2) / Q(x^2).

    LLVM has neither as a vector op: on a vector (a GELU after
    wafer-vectorize) each becomes one libm call per lane. The rational
    forms are FMAs and one division, which vectorize; both stay within 8 ulp
    of the float64 functions (test/python/test_rational_math.py checks).
    """

    name = "wafer-rational-math"
    summary = "Rewrite f32 math.tanh and math.erf as vectorizable rational functions"

    def apply(self, module: ir.Operation) -> None:
        rewrite_ops(module, {"math.tanh": _expander(_TANH), "math.erf": _expander(_ERF)})
