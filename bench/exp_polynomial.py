"""Where wafer-polynomial-exp's polynomial comes from: the fit, and its error in f32.

    python bench/exp_polynomial.py

exp(r) = 1 + r(1 + r q(r)) on |r| <= ln2/2, q of degree 4. q is fitted by
least squares to (exp(r) - 1 - r) / r^2, reweighted toward the smallest
worst relative error of exp(r), and rounded to f32. The table gives the
worst relative error of exp(r) evaluated in f32 by FMAs (each FMA one
rounding: the product of two f32 is exact in f64) for the fit, for the
coefficients the pass uses, and for Cephes' degree-7 form 1 + r + r^2 P(r).
"""

from __future__ import annotations

import numpy as np

from wafer.passes.polynomial_exp import _Q

_CEPHES = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)
_R = np.linspace(-np.log(2) / 2, np.log(2) / 2, 20001)


def fit(rounds: int = 50) -> np.ndarray:
    """q's coefficients, r^0 first."""
    r = _R[np.abs(_R) > 1e-9]
    target, basis, weight = (np.exp(r) - 1 - r) / r**2, np.vander(r, 5, increasing=True), np.ones_like(r)
    for _ in range(rounds):
        scale = r**2 / np.exp(r) * weight  # an error in q, as a relative error of exp(r)
        q, *_ = np.linalg.lstsq(basis * scale[:, None], target * scale, rcond=None)
        error = np.abs((basis @ q - target) * r**2 / np.exp(r))
        weight *= 1 + 5 * error / error.max()
    return q


def fma(a, b, c):
    return (a.astype(np.float64) * b + c).astype(np.float32)


def horner_error(q) -> float:
    r, p = _R.astype(np.float32), np.full(_R.shape, np.float32(q[-1]))
    for c in (*reversed(q[:-1]), 1.0, 1.0):
        p = fma(p, r, np.float32(c))
    return float(np.max(np.abs(p - np.exp(r.astype(np.float64))) / np.exp(r.astype(np.float64))))


def cephes_error() -> float:
    r, p = _R.astype(np.float32), np.full(_R.shape, np.float32(_CEPHES[0]))
    for c in _CEPHES[1:]:
        p = fma(p, r, np.float32(c))
    result = fma(p, r * r, r + np.float32(1))
    return float(np.max(np.abs(result - np.exp(r.astype(np.float64))) / np.exp(r.astype(np.float64))))


def main() -> None:
    fitted = fit().astype(np.float32)
    print(f"{'polynomial':40} {'worst relative error':>20} {'ulp (2^-24)':>11}")
    for name, error in (("this fit, rounded to f32", horner_error(fitted)),
                        ("polynomial_exp._Q", horner_error(np.array(_Q, np.float32))),
                        ("Cephes 1 + r + r^2 P(r)", cephes_error())):
        print(f"{name:40} {error:20.3e} {error / 2**-24:11.2f}")
    print("fitted q:", ", ".join(repr(float(c)) for c in fitted))


if __name__ == "__main__":
    main()
