"""Programs the differential fuzzer (`wafer fuzz`) found crashing the WSE target.

Each is the smallest model that reached the crash; all now match PyTorch.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import wafer
from wafer.compiler import run_stages
from wafer.frontend import import_model
from wafer.passes.wse_trim_windows import WseTrimWindows
from wafer.wse_target.interpreter import run_function

from wse_checks import Lambda, compile_and_check


def test_ops_on_one_element_match_pytorch():
    """A one-element tensor folds to 0-d generics: a region with no loop to split
    over PEs (wse-place, wse-distribute), no innermost loop to cost (the
    simulator), and a 0-d result to gather (a numpy scalar, not an array)."""
    compile_and_check(lambda x: torch.log_softmax(torch.tanh(x), -1) * 2, torch.randn(1))


class GatherAfterContraction(torch.nn.Module):
    """Nearest interpolation of a transposed convolution's output, added to a
    convolution of it: the gather was the second convolution's epilogue, whose
    region read the table another region computed, and the call failed."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(3, 4, 2, 2)
        self.conv = torch.nn.Conv2d(7, 4, 3, 1, 1)

    def forward(self, x):
        u = self.up(x)
        return self.conv(torch.cat([u, F.interpolate(x, scale_factor=2.0)], 1)) + F.interpolate(u, scale_factor=1.0)


@pytest.mark.parametrize("mode", ["pipelined", "whole-wafer"])
def test_a_gather_after_a_contraction_runs_on_the_host(mode):
    torch.manual_seed(0)
    model, x = GatherAfterContraction().eval(), torch.randn(1, 3, 4, 4)
    with torch.no_grad():
        expected = model(x)
    got = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_log1p_expm1_floor_and_ceil_match_pytorch():
    """softplus decomposes to log1p(exp(x)); nearest interpolation's index is a floor."""
    compile_and_check(lambda x: torch.log1p(x.abs()) + torch.expm1(x) + F.softplus(x)
                      + torch.floor(x * 3) - torch.ceil(x * 2), torch.randn(3, 5))


def test_causal_attention_with_equal_length_and_head_dim_matches_pytorch():
    """Its softmax sum has P @ V's loop ranges, so the rowwise run of the sum took
    the division that also reads P @ V, and the SUMMA epilogue took it again:
    one op in two regions."""
    compile_and_check(lambda x: F.scaled_dot_product_attention(x, x * 0.5, x, is_causal=True),
                      torch.randn(1, 2, 3, 3))


POOLS = [
    (lambda x: F.max_pool2d(x, 1, 1, 0, ceil_mode=True), (2, 3, 4, 5)),  # a 1x1 window on a padded input
    (lambda x: F.max_pool2d(x, 2, 1, 0, ceil_mode=True), (1, 4, 2, 24)),  # one output row: oh + kh is kh
    (lambda x: F.conv2d(x, torch.ones(2, 1, 2, 2), stride=3, padding=1, groups=2), (1, 2, 8, 1)),
]
POOL_IDS = ["max-1x1-ceil", "max-2x2-one-row", "conv-stride-past-the-end"]


@pytest.mark.parametrize("fn, shape", POOLS, ids=POOL_IDS)
def test_trimmed_windows_survive_unit_dim_folding(fn, shape):
    """A window that reads a prefix of its input, once its unit loops fold away,
    reads it through a plain dim, which must span the whole input; trimmed first,
    it does, and the folded, unfolded program still matches PyTorch."""
    x = torch.randn(*shape)
    module = import_model(Lambda(fn), (x,))
    run_stages(module, [("generalize", "func.func(linalg-generalize-named-ops)")])
    WseTrimWindows().apply(module.operation)
    run_stages(module, [("fold", "func.func(linalg-fold-unit-extent-dims,canonicalize),wse-unfold-windows")])
    forward = next(op.operation for op in module.body.operations if op.operation.name == "func.func")
    (got,) = run_function(forward, [x.numpy()])
    np.testing.assert_allclose(got, fn(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, shape", POOLS, ids=POOL_IDS)
def test_windows_reading_a_prefix_match_pytorch(fn, shape):
    compile_and_check(fn, torch.randn(*shape))


def test_a_product_read_only_by_a_check_matches_pytorch():
    """Seed 60488: an attention whose result is dead leaves its checks behind,
    and a check (a generic with no result) was taken for the product's
    elementwise epilogue: wse-partition indexed its missing result."""
    weight = torch.randn(1, 2, 5, 5)

    def model(x):
        attended = F.scaled_dot_product_attention(x, x * 0.5, x, is_causal=True)
        unused = 1.0 / (torch.abs(attended) + 1.0)  # noqa: F841 (dead, as the fuzzer made it)
        tail = x[:, :, :, 14::1]
        return x, tail, F.relu(F.conv_transpose2d(tail, weight))

    x = torch.randn(8, 1, 17, 17)
    got = wafer.compile(Lambda(model), (x,), target="wse", machine="small")(x)
    for value, expected in zip(got, model(x)):
        torch.testing.assert_close(torch.as_tensor(value), expected)
