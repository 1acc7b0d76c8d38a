"""wafer-rational-math's tanh and erf against float64 PyTorch, vectorized and not."""

import pytest
import torch
from torch_reference import Lambda

import wafer


def _ulps(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest error in units of the float32 spacing at the exact value (at least the smallest normal's)."""
    spacing = torch.maximum(torch.abs(want.float()), torch.tensor(torch.finfo(torch.float32).tiny))
    spacing = torch.nextafter(spacing, torch.tensor(float("inf"))) - spacing
    return ((got.double() - want) / spacing.double()).abs().max().item()


@pytest.mark.parametrize("fn", [torch.tanh, torch.erf], ids=["tanh", "erf"])
@pytest.mark.parametrize("size", [4099, 7])  # big enough to vectorize, and not
def test_within_eight_ulp(fn, size):
    x = torch.cat([torch.linspace(-9.0, 9.0, size), torch.logspace(-9, 0, size), -torch.logspace(-9, 0, size)])
    got = wafer.compile(Lambda(fn), (x,))(x)
    assert _ulps(got, fn(x.double())) <= 8


@pytest.mark.parametrize("fn", [torch.tanh, torch.erf], ids=["tanh", "erf"])
def test_edges(fn):
    x = torch.tensor([float("inf"), -float("inf"), float("nan"), 0.0, -0.0, 1e30, -1e30, 1e-30])
    torch.testing.assert_close(wafer.compile(Lambda(fn), (x,))(x), fn(x), equal_nan=True)
