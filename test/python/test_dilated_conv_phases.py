"""Dilated convolutions as undilated Winograd ones over their input's phases (wafer-dilated-conv-phases),
against PyTorch."""

import pytest
import torch
from torch import nn

from torch_reference import compile_checked


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("conv,shape,phases", [
    (nn.Conv2d(16, 16, 3, padding=2, dilation=2), (1, 16, 57, 55), 4),  # phases of unequal size
    (nn.Conv2d(16, 32, 3, padding=4, dilation=4, bias=False), (2, 16, 120, 128), 16),
    (nn.Conv2d(16, 16, 3, padding=(3, 2), dilation=(3, 2)), (1, 16, 90, 60), 6),
])
def test_a_dilated_convolution_runs_as_winograd_on_its_phases_and_matches_pytorch(conv, shape, phases, threads):
    """With its dilation, only im2col took it."""
    torch.manual_seed(0)
    model = nn.Sequential(conv, nn.ReLU()).eval()
    strategies = compile_checked(model, (torch.randn(*shape),), threads=threads).compile_report.strategies
    assert any(s.endswith(f": {phases} phases as images") for s in strategies), strategies
    assert any(s.startswith("winograd") for s in strategies), strategies


@pytest.mark.parametrize("conv,shape", [
    (nn.Conv2d(16, 16, 3, padding=12, dilation=12), (1, 16, 40, 40)),  # DeepLab's ASPP: 4x4 phases
    (nn.Conv1d(16, 16, 3, padding=4, dilation=4), (2, 16, 50)),  # a TCN's: no Winograd for 1x3
    (nn.Conv2d(16, 16, 3, padding=1, dilation=2, stride=2), (1, 16, 60, 60)),
    (nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=2), (1, 16, 60, 60)),
])
def test_other_dilated_convolutions_keep_their_dilation_and_match_pytorch(conv, shape):
    torch.manual_seed(0)
    model = nn.Sequential(conv, nn.ReLU()).eval()
    strategies = compile_checked(model, (torch.randn(*shape),), threads=1).compile_report.strategies
    assert not any("phases as images" in s for s in strategies), strategies


def test_a_named_algorithm_keeps_the_dilation():
    """conv-algorithm=im2col asks im2col for every convolution: no phases for Winograd."""
    torch.manual_seed(0)
    model = nn.Conv2d(16, 16, 3, padding=2, dilation=2).eval()
    compiled = compile_checked(model, (torch.randn(1, 16, 60, 60),), threads=1, conv_algorithm="im2col")
    assert not any("phases" in s for s in compiled.compile_report.strategies), compiled.compile_report.strategies
