"""Convolution taps that read only zero padding (wafer-drop-padding-taps) against PyTorch."""

import pytest
import torch
import torch.nn.functional as F

from torch_reference import compile_checked
from wafer.passes.drop_padding_taps import bands


@pytest.mark.parametrize("size,pad,outputs,stride,dilation,taps,expected", [
    (14, 24, 14, 1, 24, 3, [(0, 14, range(1, 2))]),  # ASPP rate 24 at 14x14: the centre alone
    (14, 12, 14, 1, 12, 3, [(0, 2, range(1, 3)), (2, 12, range(1, 2)), (12, 14, range(0, 2))]),
    (6, 8, 3, 2, 4, 5, [(0, 1, range(2, 4)), (1, 2, range(2, 3)), (2, 3, range(1, 3))]),
    (7, 1, 7, 1, 1, 3, [(0, 1, range(1, 3)), (1, 6, range(0, 3)), (6, 7, range(0, 2))]),  # an ordinary padded 3x3
])
def test_bands(size, pad, outputs, stride, dilation, taps, expected):
    assert bands(size, pad, outputs, stride, dilation, taps) == expected


@pytest.mark.parametrize("conv,shape,strategy", [
    (dict(kernel_size=3, padding=24, dilation=24), (2, 16, 14, 14), "conv 3x3 with dilation 24x24: 1x1 taps, 11%"),
    (dict(kernel_size=3, padding=36, dilation=36), (1, 16, 14, 14), "conv 3x3 with dilation 36x36: 1x1 taps, 11%"),
    # Regions of outputs that read different taps, each computed with its own.
    (dict(kernel_size=3, padding=12, dilation=12), (1, 16, 14, 14), "conv 3x3 with dilation 12x12: 9 regions"),
    (dict(kernel_size=5, padding=8, dilation=4), (1, 8, 6, 7), "conv 5x5 with dilation 4x4: 9 regions"),
    (dict(kernel_size=5, padding=8, dilation=4, stride=2), (1, 8, 6, 7), "conv 5x5 with dilation 4x4: 6 regions"),
    (dict(kernel_size=(3, 5), padding=(1, 8), dilation=(1, 4)), (1, 8, 7, 8), "conv 3x5 with dilation 1x4: 6 regions"),
])
def test_dead_taps_are_dropped_and_the_result_matches_pytorch(conv, shape, strategy):
    """Inputs with negative values and a bias, so a dropped live tap or a
    misplaced region shows in the result."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(shape[1], 12, **conv), torch.nn.ReLU()).eval()
    x = torch.randn(*shape)
    compiled = compile_checked(model, (x,), threads=1)
    assert any(s.startswith(strategy) for s in compiled.compile_report.strategies), compiled.compile_report.strategies


def test_filters_that_are_an_input_are_sliced():
    class Atrous(torch.nn.Module):
        def forward(self, x, w):
            return F.conv2d(x, w, padding=12, dilation=12)

    torch.manual_seed(0)
    compiled = compile_checked(Atrous(), (torch.randn(1, 8, 10, 10), torch.randn(4, 8, 3, 3)), threads=1)
    assert "conv 3x3 with dilation 12x12: 1x1 taps, 11% of the products" in compiled.compile_report.strategies


def test_aspp_block_matches_pytorch():
    """DeepLabv3's atrous spatial pyramid on a 14x14 map: rates 12 (nine
    regions), 24 and 36 (the centre alone), and a 1x1 branch."""
    torch.manual_seed(0)

    class Aspp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            atrous = [torch.nn.Conv2d(32, 16, 3, padding=r, dilation=r) for r in (12, 24, 36)]
            self.branches = torch.nn.ModuleList([torch.nn.Conv2d(32, 16, 1), *atrous])
            self.project = torch.nn.Conv2d(64, 16, 1)

        def forward(self, x):
            return self.project(torch.cat([torch.relu(b(x)) for b in self.branches], 1))

    compiled = compile_checked(Aspp().eval(), (torch.randn(1, 32, 14, 14),), threads=2)
    dropped = [s for s in compiled.compile_report.strategies if s.startswith("conv 3x3 with dilation")]
    assert len(dropped) == 3, compiled.compile_report.strategies
