"""wafer-fold-channel-affine end to end: batch norms folded into the filters of
the convolutions before them match PyTorch, and what must stay does."""

import pytest
import torch

import wafer

FOLDED = "folded into the filters"


def _batch_norm(channels: int) -> torch.nn.BatchNorm2d:
    norm = torch.nn.BatchNorm2d(channels)
    with torch.no_grad():  # running statistics far from the identity, so a lost term shows
        norm.running_mean.uniform_(-2, 2)
        norm.running_var.uniform_(0.1, 4)
        norm.weight.uniform_(-2, 2)
        norm.bias.uniform_(-1, 1)
    return norm


class Residual(torch.nn.Module):
    """The convolution's output is read twice: by the batch norm and the sum."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False), _batch_norm(8)

    def forward(self, x):
        y = self.conv(x)
        return self.norm(y) + y


CASES = {
    "conv, batch norm, relu": (lambda: torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1, bias=False), _batch_norm(16), torch.nn.ReLU()), True),
    "biased conv, batch norm": (lambda: torch.nn.Sequential(
        torch.nn.Conv2d(8, 12, 1), _batch_norm(12)), True),
    "depthwise, batch norm, relu6": (lambda: torch.nn.Sequential(
        torch.nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16, bias=False), _batch_norm(16),
        torch.nn.ReLU6()), True),
    "strided conv, batch norm, silu": (lambda: torch.nn.Sequential(
        torch.nn.Conv2d(8, 24, 3, stride=2, padding=1, bias=False), _batch_norm(24), torch.nn.SiLU()), True),
    "the conv's output read twice": (Residual, False),
}


@pytest.mark.parametrize("name", CASES)
def test_batch_norm_after_a_conv_matches_pytorch(name):
    build, folds = CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(2, model[0].in_channels if isinstance(model, torch.nn.Sequential) else 8, 15, 15)
    compiled = wafer.compile(model, (x,), threads=1)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(compiled(x), expected, rtol=1e-4, atol=1e-4)
    assert any(FOLDED in s for s in compiled.compile_report.strategies) == folds, compiled.compile_report.strategies


@pytest.mark.parametrize("accumulate", ["fp16", "fp32"])
@pytest.mark.parametrize("name", [name for name, (_, folds) in CASES.items() if folds])
def test_a_16_bit_batch_norm_folds_into_its_convolution(name, accumulate):
    """At fp16 PyTorch's batch norm runs in f32 between conversions, after a
    convolution that accumulates in fp16 (or f32): the chain folds through
    the conversions, or its four per-channel terms run on every output
    element of a 16-bit model. Matched at fp16's stated tolerance (1% of the
    largest magnitude, as test_wse_precision)."""
    build, _ = CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(1, model[0].in_channels, 15, 15)
    compiled = wafer.compile(model, (x,), target="wse", machine="small", precision="fp16", accumulate=accumulate)
    with torch.no_grad():
        expected = model.half()(x.half()).float()
    torch.testing.assert_close(compiled(x), expected, rtol=0.01, atol=0.01 * float(expected.abs().max()))
    assert any(FOLDED in s for s in compiled.compile_report.strategies), compiled.compile_report.strategies
