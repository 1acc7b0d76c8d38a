"""Special functions torch-mlir does not lower, from ops it does, in float64.

torch-mlir has no lowering of `erfc`, `lgamma`, `digamma` or `i0` (a
probabilistic model's log-likelihoods, a Kaiser window, a Gaussian tail), so a
model using one was refused. Each is computed in float64 from the elementary
functions torch-mlir lowers, and rounded to the input's type:
- erfc: 1 - erf(x) below 2.5, where that loses at most three digits of
  float64; above, exp(-x^2) / sqrt(pi) over the continued fraction
  x + (1/2) / (x + 1 / (x + (3/2) / ...)), 40 terms deep (converged to an ulp
  of float64 from 2.5 on), which keeps the tail that 1 - erf(x) rounds to 0.
- lgamma: Lanczos' form (g = 7, 9 terms) from 1/2 up, the reflection
  formula below; +inf at the poles (0 and the negative integers) and at +-inf,
  0 at 1 and 2.
- digamma: the recurrence psi(x) = psi(x + 6) - sum 1/(x + k), then the
  asymptotic series to x^-10, from 1/2 up; the reflection formula below. At +0
  -inf, at -0 +inf, at the negative integers NaN, as torch.
- i0: its power series (x^2/4)^k / k!^2, 50 terms, up to |x| = 20; the
  asymptotic series e^|x| / sqrt(2 pi |x|) sum ((2k-1)!!)^2 / (k! (8|x|)^k),
  9 terms, beyond.
The periodic factors of the reflections (sin(pi x), tan(pi x)) are taken of
x - floor(x), exact in float64 for a float32 x, so a large negative x keeps
its digits.
"""

from __future__ import annotations

import math

import torch

aten = torch.ops.aten
ERFC, LGAMMA, DIGAMMA = aten.erfc.default, aten.lgamma.default, aten.digamma.default
I0, SPECIAL_I0 = aten.i0.default, aten.special_i0.default  # torch.i0, torch.special.i0

_ERFC_SPLIT = 2.5
_ERFC_TERMS = 40
# Lanczos' coefficients for g = 7, n = 9 (Numerical Recipes' and Boost's choice: about 1e-15 relative).
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
_DIGAMMA_SHIFT = 6
# B_2k / (2k) for k = 1..5: psi(y) ~ log y - 1/(2y) - sum of these / y^2k
_DIGAMMA_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132)
_I0_SPLIT = 20.0
_I0_SERIES_TERMS = 50
_I0_ASYMPTOTIC_TERMS = 9


def _in_float64(function):
    """`function` on x in float64, rounded back to x's type; an integer x as torch
    promotes it (to the default float type)."""
    def computed(x):
        result_type = x.dtype if x.dtype.is_floating_point else torch.get_default_dtype()
        return function(x.to(torch.float64)).to(result_type)
    return computed


def _erfc(x):
    tail_x = torch.clamp(x, min=_ERFC_SPLIT)  # the fraction is only taken where it converges
    fraction = tail_x
    for k in range(_ERFC_TERMS, 0, -1):
        fraction = tail_x + (k / 2) / fraction
    tail = torch.exp(-tail_x * tail_x) / (math.sqrt(math.pi) * fraction)
    return torch.where(x < _ERFC_SPLIT, 1 - torch.erf(x), tail)


def _sin_pi(x):
    """|sin(pi x)|, of x's fraction: sin(pi x) has period 2, its magnitude period 1."""
    return torch.sin(math.pi * (x - torch.floor(x)))


def _is_pole(x):
    return (x <= 0) & (x == torch.floor(x))


def _lgamma(x):
    reflected = x < 0.5
    z = torch.where(reflected, 1 - x, x) - 1
    series = torch.full_like(z, _LANCZOS[0])
    for i, coefficient in enumerate(_LANCZOS[1:], start=1):
        series = series + coefficient / (z + i)
    t = z + _LANCZOS_G + 0.5
    upper = 0.5 * math.log(2 * math.pi) + (z + 0.5) * torch.log(t) - t + torch.log(series)
    result = torch.where(reflected, math.log(math.pi) - torch.log(_sin_pi(x)) - upper, upper)
    result = torch.where((x == 1) | (x == 2), 0.0, result)  # exact zeros, which the series misses by an ulp
    return torch.where(_is_pole(x) | (x == math.inf), math.inf, result)


def _digamma(x):
    reflected = x < 0.5
    z = torch.where(reflected, 1 - x, x)
    shifted = torch.zeros_like(z)
    for k in range(_DIGAMMA_SHIFT):
        shifted = shifted + 1 / (z + k)
    y = z + _DIGAMMA_SHIFT
    inverse_square = 1 / (y * y)
    series = torch.zeros_like(y)
    for coefficient in reversed(_DIGAMMA_SERIES):
        series = (series + coefficient) * inverse_square
    upper = torch.log(y) - 0.5 / y - series - shifted
    # psi(1 - x) - psi(x) = pi / tan(pi x), of x's fraction (tan has period 1)
    result = torch.where(reflected, upper - math.pi / torch.tan(math.pi * (x - torch.floor(x))), upper)
    result = torch.where(_is_pole(x), math.nan, result)
    # -inf at +0 and +inf at -0 (-1/x), as torch
    return torch.where(x == 0, -1 / x, torch.where(x == math.inf, math.inf, result))


def _i0(x):
    magnitude = x.abs()
    near = torch.clamp(magnitude, max=_I0_SPLIT)
    quarter_square = near * near / 4
    term, series = torch.ones_like(near), torch.ones_like(near)
    for k in range(1, _I0_SERIES_TERMS):
        term = term * quarter_square / (k * k)
        series = series + term
    far = torch.clamp(magnitude, min=_I0_SPLIT)
    term, asymptotic = torch.ones_like(far), torch.ones_like(far)
    for k in range(1, _I0_ASYMPTOTIC_TERMS):
        term = term * (2 * k - 1) ** 2 / (k * 8 * far)
        asymptotic = asymptotic + term
    asymptotic = asymptotic * torch.exp(far) / torch.sqrt(2 * math.pi * far)
    return torch.where(magnitude <= _I0_SPLIT, series, asymptotic)  # NaN at +-inf, as torch


erfc, lgamma, digamma, i0 = (_in_float64(function) for function in (_erfc, _lgamma, _digamma, _i0))

DECOMPOSITIONS = {ERFC: erfc, LGAMMA: lgamma, DIGAMMA: digamma, I0: i0, SPECIAL_I0: i0}
