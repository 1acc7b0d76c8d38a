"""wafer-polynomial-exp: f32 `math.exp` as a polynomial in plain arithmetic, so it vectorizes."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir, rewrite
from torch_mlir.dialects import arith, math

from .linalg_builders import splat
from .pass_base import WaferPass

# Cephes expf: exp(x) = 2^n * exp(r), x = n ln2 + r, |r| <= ln2/2, with ln2 split in
# two (Cody-Waite) so r stays exact, and exp(r) = 1 + r + r^2 P(r). Relative error ~1 ulp.
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4
_LOG2E = 1.44269504088896341
# 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer, kept in the
# low mantissa bits.
_ROUNDING = 12582912.0
_P = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)
# Below the log of the smallest normal float the result is flushed to 0; from the top
# (the float nearest log(FLT_MAX), above it) up, exp overflows to +inf.
_LOW, _HIGH = -87.33654475, 88.72283905


def _like(type_: ir.Type, element: ir.Type) -> ir.Type:
    return ir.VectorType.get(type_.shape, element) if isinstance(type_, ir.VectorType) else element


def expand_exp(op, rewriter):
    """exp(x) -> 2^n exp(r) with n = round(x log2 e), r = x - n ln2, exp(r) a polynomial."""
    x = op.operands[0]
    type_ = x.type
    element = ir.VectorType(type_).element_type if isinstance(type_, ir.VectorType) else type_
    if not isinstance(element, ir.F32Type):
        return True
    i32 = _like(type_, ir.IntegerType.get_signless(32))
    with rewriter.ip, op.location:
        # n = round(x log2 e) in the low bits of a float whose units are its last mantissa bit.
        rounded = math.fma(x, splat(_LOG2E, type_), splat(_ROUNDING, type_))
        n = arith.subf(rounded, splat(_ROUNDING, type_))
        r = math.fma(n, splat(-_LN2_HI, type_), x)
        r = math.fma(n, splat(-_LN2_LO, type_), r)
        poly = splat(_P[0], type_)
        for coefficient in _P[1:]:
            poly = math.fma(poly, r, splat(coefficient, type_))
        exp_r = math.fma(poly, arith.mulf(r, r), arith.addf(r, splat(1.0, type_)))
        # 2^n exp(r): n added to exp(r)'s exponent bits (the rounding constant's bits shift
        # out), a normal float between the bounds: n = -126 only where r >= 0 (exp(r) >= 1),
        # n = 128 only where r < 0 (exp(r) < 1).
        power = arith.shli(arith.bitcast(i32, rounded), splat(23, i32))
        result = arith.bitcast(type_, arith.addi(arith.bitcast(i32, exp_r), power))
        # Outside them, the selects: from the top up exp overflows to inf (NaN stays NaN:
        # x + inf is both); below the bottom, 0.
        overflow_or_nan = arith.cmpf(arith.CmpFPredicate.UGE, x, splat(_HIGH, type_))
        result = arith.select(overflow_or_nan, arith.addf(x, splat(float("inf"), type_)), result)
        underflow = arith.cmpf(arith.CmpFPredicate.OLT, x, splat(_LOW, type_))
        result = arith.select(underflow, splat(0.0, type_), result)
    rewriter.replace_op(op, [result])
    return False


@dataclass(frozen=True)
class PolynomialExp(WaferPass):
    """Rewrite each f32 `math.exp`, scalar or vector, as a degree-6 polynomial.

    LLVM has no vector exp: a `math.exp` on a vector (softmax after
    wafer-vectorize) becomes one libm `expf` call per lane, and a scalar
    loop holding a call does not vectorize. The polynomial is FMAs, a
    floor and integer ops on the exponent bits, all of which vectorize.
    Results within ~1 ulp; results below the smallest normal float are 0.
    """

    name = "wafer-polynomial-exp"
    summary = "Rewrite f32 math.exp as a vectorizable polynomial (Cephes expf)"

    def apply(self, module: ir.Operation) -> None:
        patterns = rewrite.RewritePatternSet()
        patterns.add("math.exp", expand_exp)
        rewrite.apply_patterns_and_fold_greedily(module, patterns.freeze())
