"""Unbatched 2-D and 3-D convolutions (wafer/unbatched_convolutions.py) against PyTorch."""

import pytest
import torch
from torch import nn

from torch_reference import compile_checked


@pytest.mark.parametrize("conv,shape", [
    (nn.Conv2d(4, 8, 3), (4, 9, 9)),
    (nn.Conv2d(4, 8, 3, padding="same", bias=False), (4, 9, 7)),  # aten.conv2d.padding
    (nn.Conv3d(4, 4, 3, padding=1, groups=4), (4, 4, 6, 6)),  # its depth is its channels
    (nn.Conv3d(3, 6, (1, 3, 3), stride=(1, 2, 2)), (3, 5, 8, 8)),
])
def test_an_unbatched_convolution_matches_pytorch(conv, shape):
    """torch-mlir's lowering of one image crashed the process (a segmentation fault)."""
    torch.manual_seed(0)
    compile_checked(nn.Sequential(conv, nn.ReLU()).eval(), (torch.randn(*shape),), threads=1)
