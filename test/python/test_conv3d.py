"""3-D convolutions (video models) as 2-D ones over depth slices (wafer-conv3d-as-conv2d), against PyTorch."""

import pytest
import torch
from torch import nn

from torch_reference import compile_checked


@pytest.mark.parametrize("machine", ["host", "avx2"])
@pytest.mark.parametrize("conv,shape", [
    (dict(kernel_size=3, padding=1), (2, 4, 6, 10, 9)),  # R3D's blocks
    (dict(kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3)), (1, 3, 4, 20, 20)),  # R3D's stem
    (dict(kernel_size=(1, 3, 3), padding=(0, 1, 1)), (1, 6, 5, 8, 8)),  # R(2+1)D's spatial half
    (dict(kernel_size=(3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)), (1, 6, 5, 8, 8)),  # ... its temporal half
    (dict(kernel_size=1), (2, 8, 3, 5, 7)),  # a pointwise one reads its input as the columns
    (dict(kernel_size=2, dilation=2), (1, 3, 6, 7, 7)),
])
def test_conv3d_runs_as_a_2d_strategy_and_matches_pytorch(conv, shape, machine):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(shape[1], 8, **conv), nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(*shape),), threads=2, machine=machine)
    strategies = compiled.compile_report.strategies
    assert any("conv" in s for s in strategies) and not any("conv_3d" in s for s in strategies), strategies


@pytest.mark.parametrize("conv,shape", [
    (dict(kernel_size=3, stride=(1, 2, 2), padding=1), (1, 8, 4, 14, 14)),  # MViT-v2's pooling attention
    (dict(kernel_size=(3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)), (2, 6, 7, 5, 5)),  # a temporal one
    (dict(kernel_size=2, dilation=(2, 1, 1), bias=False), (1, 4, 6, 7, 7)),
])
def test_depthwise_conv3d_runs_as_depthwise_2d_convolutions_and_matches_pytorch(conv, shape):
    """torch-mlir does not lower a 3-D convolution with one channel per group: the import failed."""
    torch.manual_seed(0)
    model = nn.Conv3d(shape[1], shape[1], groups=shape[1], **conv).eval()
    compiled = compile_checked(model, (torch.randn(*shape),), threads=2)
    strategies = compiled.compile_report.strategies
    assert strategies and all("depthwise" in s for s in strategies), strategies


def test_depthwise_transposed_conv3d_matches_pytorch():
    """Its decomposition (transposed_convolution.py) is a depthwise 3-D convolution, decomposed in turn."""
    torch.manual_seed(0)
    model = nn.ConvTranspose3d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=4).eval()
    compile_checked(model, (torch.randn(1, 4, 3, 5, 5),), threads=1)
