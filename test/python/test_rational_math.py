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


@pytest.mark.parametrize("size", [4099, 7])
def test_where_the_functions_round_to_one_they_are_exactly_one(size):
    """A tanh GELU multiplies 1 + tanh by x: tanh a few ulp short of -1 at -100 made it -1.2e-5, not 0.
    In float32 tanh rounds to +-1 from about 9.01, erf from about 3.92."""
    for fn, start in ((torch.tanh, 9.1), (torch.erf, 4.0)):
        x = torch.cat([torch.linspace(start, 100.0, size), torch.tensor([1e30])])
        x = torch.cat([x, -x])
        assert torch.equal(wafer.compile(Lambda(fn), (x,))(x), fn(x))
    gelu = torch.nn.GELU(approximate="tanh")
    x = torch.cat([-torch.linspace(20.0, 100.0, size), torch.linspace(20.0, 100.0, size)])
    assert torch.equal(wafer.compile(gelu, (x,))(x), gelu(x))
