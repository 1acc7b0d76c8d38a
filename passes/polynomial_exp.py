"""wafer-polynomial-exp: f32 `math.exp` as a polynomial in plain arithmetic, so it vectorizes."""

from __future__ import annotations

import math as pymath
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, math, vector, x86

from .linalg_builders import splat
from .pass_base import WaferPass, rewrite_ops

# Cephes expf's reduction: exp(x) = 2^n * exp(r), x = n ln2 + r, |r| <= ln2/2, with ln2
# split in two (Cody-Waite) so r stays exact.
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4
_LOG2E = 1.44269504088896341
# 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer, kept in the
# low mantissa bits.
_ROUNDING = 12582912.0
# exp(r) = 1 + r(1 + r q(r)), q of degree 4 by Horner: six FMAs, where Cephes' degree-7
# form 1 + r + r^2 P(r) takes a multiply and an add more. q's coefficients (r^0 first) are
# a least-squares fit of (exp(r) - 1 - r) / r^2 on |r| <= ln2/2, reweighted toward the
# smallest worst relative error of exp(r), rounded to f32: bench/exp_polynomial.py fits
# them again and prints their error beside Cephes'. The test checks exp within 2 ulp.
_Q = (0.4999999403953552, 0.1666652113199234, 0.04166838899254799, 0.00836870912462473, 0.001381455222144723)
# Below the log of the smallest normal float the result is flushed to 0; from the top
# (the float nearest log(FLT_MAX), above it) up, exp overflows to +inf.
_LOW, _HIGH = -87.33654475, 88.72283905
# What AVX-512's scaling clamps x to: below the bottom exp(x) rounds to 0 (log of half the
# smallest subnormal float), from the top up 2^n exp(r) overflows to inf (n = 128, exp(r) > 1).
_SCALEF_LOW, _SCALEF_HIGH = -104.0, 89.0
_SCALEF_LANES = 16  # vscalefps takes a zmm of f32
_CURRENT_ROUNDING = 4  # _MM_FROUND_CUR_DIRECTION


def _like(type_: ir.Type, element: ir.Type) -> ir.Type:
    return ir.VectorType.get(type_.shape, element) if isinstance(type_, ir.VectorType) else element


def _exp_parts(x: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(rounded, n, exp(r)) with n = round(x log2 e) and r = x - n ln2: n in the low bits
    of `rounded`, a float whose units are its last mantissa bit."""
    type_ = x.type
    rounded = math.fma(x, splat(_LOG2E, type_), splat(_ROUNDING, type_))
    n = arith.subf(rounded, splat(_ROUNDING, type_))
    r = math.fma(n, splat(-_LN2_HI, type_), x)
    r = math.fma(n, splat(-_LN2_LO, type_), r)
    poly = splat(_Q[-1], type_)
    for coefficient in (*reversed(_Q[:-1]), 1.0, 1.0):
        poly = math.fma(poly, r, splat(coefficient, type_))
    return rounded, n, poly


def _exp_by_exponent_bits(x: ir.Value) -> ir.Value:
    """2^n exp(r) by adding n to exp(r)'s exponent bits (the rounding constant's bits
    shift out): a normal float between the bounds, where n = -126 only if r >= 0
    (exp(r) >= 1) and n = 128 only if r < 0. Outside them, selects: from the top up
    exp overflows to inf (NaN stays NaN: x + inf is both); below the bottom, 0."""
    type_ = x.type
    i32 = _like(type_, ir.IntegerType.get_signless(32))
    rounded, _, exp_r = _exp_parts(x)
    power = arith.shli(arith.bitcast(i32, rounded), splat(23, i32))
    result = arith.bitcast(type_, arith.addi(arith.bitcast(i32, exp_r), power))
    overflow_or_nan = arith.cmpf(arith.CmpFPredicate.UGE, x, splat(_HIGH, type_))
    result = arith.select(overflow_or_nan, arith.addf(x, splat(float("inf"), type_)), result)
    underflow = arith.cmpf(arith.CmpFPredicate.OLT, x, splat(_LOW, type_))
    return arith.select(underflow, splat(0.0, type_), result)


def _exp_by_scalef(x: ir.Value) -> ir.Value:
    """2^n exp(r) by AVX-512's vscalefps, which rounds to inf, a subnormal or 0 by
    itself: x is clamped first (a NaN passes both clamps), and no select is left,
    nor integer op (bench/activations.py and bench/norms.py's softmax time it)."""
    type_ = ir.VectorType(x.type)
    low = arith.select(arith.cmpf(arith.CmpFPredicate.OLT, x, splat(_SCALEF_LOW, type_)),
                       splat(_SCALEF_LOW, type_), x)
    clamped = arith.select(arith.cmpf(arith.CmpFPredicate.OGT, low, splat(_SCALEF_HIGH, type_)),
                           splat(_SCALEF_HIGH, type_), low)
    _, n, exp_r = _exp_parts(clamped)
    lanes = pymath.prod(type_.shape)
    flat = ir.VectorType.get([lanes], type_.element_type)
    chunk = ir.VectorType.get([_SCALEF_LANES], type_.element_type)
    all_lanes = arith.constant(ir.IntegerType.get_signless(_SCALEF_LANES), -1)
    rounding = arith.constant(ir.IntegerType.get_signless(32), _CURRENT_ROUNDING)
    flat_exp_r, flat_n = vector.shape_cast(flat, exp_r), vector.shape_cast(flat, n)
    result = flat_exp_r
    for start in range(0, lanes, _SCALEF_LANES):
        part_exp_r, part_n = (vector.extract_strided_slice(chunk, value, [start], [_SCALEF_LANES], [1])
                              for value in (flat_exp_r, flat_n))
        # The op hands its operands to llvm.x86.avx512.mask.scalef.ps.512 in order, which
        # reads them as (a, b, passthrough, mask, rounding): a * 2^floor(b).
        scaled = x86.avx512_mask_scalef(part_exp_r, part_n, part_exp_r, all_lanes, rounding)
        result = vector.insert_strided_slice(scaled, result, [start], [1])
    return vector.shape_cast(type_, result)


def _takes_scalef(type_: ir.Type) -> bool:
    """An f32 vector of whole zmm registers."""
    return (isinstance(type_, ir.VectorType) and not type_.scalable
            and pymath.prod(type_.shape) % _SCALEF_LANES == 0)


def expand_exp(op, rewriter, scalef: bool) -> bool:
    """exp(x) -> 2^n exp(r) with n = round(x log2 e), r = x - n ln2, exp(r) a polynomial."""
    x = op.operands[0]
    type_ = x.type
    element = ir.VectorType(type_).element_type if isinstance(type_, ir.VectorType) else type_
    if not isinstance(element, ir.F32Type):
        return True
    with rewriter.ip, op.location:
        result = _exp_by_scalef(x) if scalef and _takes_scalef(type_) else _exp_by_exponent_bits(x)
    rewriter.replace_op(op, [result])
    return False


@dataclass(frozen=True)
class PolynomialExp(WaferPass):
    """Rewrite each f32 `math.exp`, scalar or vector, as a degree-6 polynomial.

    LLVM has no vector exp: a `math.exp` on a vector (softmax after
    wafer-vectorize) becomes one libm `expf` call per lane, and a scalar
    loop holding a call does not vectorize. The polynomial is FMAs, a
    rounding and integer ops on the exponent bits, all of which vectorize.
    Results within ~1 ulp; results below the smallest normal float are 0
    (subnormal where vscalefps scales them, as PyTorch's are).

    Options:
      scalef: scale whole zmm vectors by 2^n with AVX-512's vscalefps, which
        also saturates (to inf, subnormals, 0): for code that runs on a CPU
        with AVX-512F. The pipeline sets it from the JIT's target, the host,
        not from the strategies' `machine`.
    """

    name = "wafer-polynomial-exp"
    summary = "Rewrite f32 math.exp as a vectorizable polynomial"

    scalef: bool = False

    def apply(self, module: ir.Operation) -> None:
        rewrite_ops(module, {"math.exp": lambda op, rewriter: expand_exp(op, rewriter, self.scalef)})
