"""erfc, lgamma, digamma and i0 (wafer/special_functions.py), which torch-mlir does
not lower: against torch's float64 results, in float32 ulps, and at the edges."""

import math

import pytest
import torch
from torch_reference import Lambda

import wafer

FUNCTIONS = {"erfc": torch.erfc, "lgamma": torch.lgamma, "digamma": torch.digamma, "i0": torch.i0,
             "special.i0": torch.special.i0}
EDGES = [0.0, -0.0, 1.0, 2.0, -1.0, -2.0, -3.5, -100.0, 1e30, -1e30, math.inf, -math.inf, math.nan]


def _ulps(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest error in float32 spacings at the exact value; 0 where both overflow float32."""
    spacing = torch.maximum(want.abs().float(), torch.tensor(torch.finfo(torch.float32).tiny))
    spacing = (torch.nextafter(spacing, torch.tensor(math.inf)) - spacing).double()
    error = ((got.double() - want) / spacing).abs()
    return torch.where((want.abs() > torch.finfo(torch.float32).max) & got.isinf(), 0, error).max().item()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_within_an_ulp_of_float64_torch(name):
    """Computed in float64: within an ulp of the float64 function, rounded (torch's own
    float32 digamma is hundreds of ulps off near its zero at 1.46)."""
    fn = FUNCTIONS[name]
    x = torch.cat([torch.linspace(-30, 30, 6001), torch.logspace(-8, 3, 500), -torch.logspace(-8, 3, 500)])
    x = x[~((x <= 0) & (x == x.floor()))]  # the poles, checked below
    assert _ulps(wafer.compile(Lambda(fn), (x,))(x), fn(x.double())) <= 1


@pytest.mark.parametrize("name", FUNCTIONS)
def test_edges_and_poles_as_torch(name):
    """Infinities, NaN, signed zeros, poles, and lgamma's exact zeros at 1 and 2."""
    fn, x = FUNCTIONS[name], torch.tensor(EDGES)
    torch.testing.assert_close(wafer.compile(Lambda(fn), (x,))(x), fn(x), equal_nan=True, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["erfc", "lgamma", "digamma"])
def test_float64_and_integer_inputs(name):
    fn = FUNCTIONS[name]
    x = torch.linspace(-9.75, 40.25, 201, dtype=torch.float64)
    torch.testing.assert_close(wafer.compile(Lambda(fn), (x,))(x), fn(x), rtol=1e-10, atol=1e-12, equal_nan=True)
    n = torch.arange(1, 50)
    torch.testing.assert_close(wafer.compile(Lambda(fn), (n,))(n), fn(n), rtol=1e-6, atol=1e-7)
