"""Layer and group norms normalize their input shifted by one of its elements
(wafer/shifted_moments.py): checked against a float64 run, where a float32
mean of N equal values summed one by one used to be off by a few ulps."""

import pytest
import torch
from torch_reference import Lambda

import wafer
from wafer.frontend import import_model

F = torch.nn.functional


class Norms(torch.nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.group = torch.nn.GroupNorm(1, channels)
        self.layer = torch.nn.LayerNorm(17)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.uniform_(-1, 1)

    def forward(self, x):
        return self.group(x), self.layer(x), F.layer_norm(x, x.shape[-2:])


def float64_run(model, x):
    with torch.no_grad():
        return [r.float() for r in model.double()(x.double())]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_constant_plane_normalizes_to_the_bias(threads):
    """The fuzzer's seed 60488: group_norm of a constant 17x17 plane came back up to
    2.4e-4 off its bias (the mean 20 ulps off the constant, over sqrt(eps))."""
    torch.manual_seed(0)
    model = Norms(1).eval()
    x = torch.full((8, 1, 17, 17), -2.8332133293151855)
    got = wafer.compile(model, (x,), threads=threads)(x)
    for result, exact in zip(got, float64_run(model, x)):
        torch.testing.assert_close(result, exact, rtol=0, atol=1e-6)


@pytest.mark.parametrize("target", ["cpu", "wse"])
def test_values_far_from_zero_normalize_as_in_float64(target):
    """Unit variance around 1000: the differences from the shift are small, so the
    moments keep their digits."""
    torch.manual_seed(0)
    model = Norms(3).eval()
    x = torch.randn(2, 3, 5, 17) + 1000
    options = {"machine": "small"} if target == "wse" else {}
    got = wafer.compile(model, (x,), target=target, **options)(x)
    for result, exact in zip(got, float64_run(model, x)):
        torch.testing.assert_close(result, exact, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("groups", [1, 4])
def test_float32_group_norm_takes_its_moments_in_float32(groups):
    """torch-mlir took the variance in float64: a cast of every element and
    reductions at half the lanes. Shifted, float32 keeps the digits (as eager's
    kernel sums them), with and without the affine."""
    torch.manual_seed(0)
    model = torch.nn.GroupNorm(groups, 8, affine=groups == 4).eval()
    x = torch.randn(2, 8, 6, 6) * 5 + 300
    assert "xf64>" not in str(import_model(model, (x,)))  # no float64 tensor (eps stays a scalar)
    got = wafer.compile(model, (x,), threads=1)(x)
    with torch.no_grad():
        exact = model.double()(x.double()).float()
    torch.testing.assert_close(got, exact, rtol=1e-4, atol=1e-4)


def test_group_norm_of_a_permuted_input():
    """The fuzzer's seed 7282: the groups were a `view` of the input, which a
    permuted one cannot be ("Cannot view a tensor with shape [17, 1, 5, 4] and strides ...")."""
    torch.manual_seed(0)
    model = Lambda(lambda x: F.group_norm(x.permute(2, 0, 1, 3), 1))
    x = torch.randn(1, 5, 17, 4)
    torch.testing.assert_close(wafer.compile(model, (x,), threads=1)(x), model(x), rtol=1e-4, atol=1e-4)
