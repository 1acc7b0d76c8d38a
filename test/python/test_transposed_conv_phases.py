"""Transposed convolutions as phase convolutions (wafer-transposed-conv-phases) against PyTorch."""

import pytest
import torch
from torch import nn

from torch_reference import compile_checked


@pytest.mark.parametrize("machine", ["host", "avx2"])
@pytest.mark.parametrize("layer,shape,phases", [
    (dict(kernel_size=4, stride=2, padding=1), (2, 16, 9, 11), 4),  # DCGAN's
    (dict(kernel_size=2, stride=2), (1, 16, 8, 8), 4),  # U-Net's up-convolution: four 1x1s
    (dict(kernel_size=3, stride=2, padding=1, output_padding=1), (2, 8, 10, 10), 4),
    (dict(kernel_size=3, stride=2), (1, 8, 9, 11), 4),  # unpadded: windows past the input's edges
    (dict(kernel_size=5, stride=3, padding=2), (1, 8, 7, 7), 9),
    (dict(kernel_size=1, stride=2), (1, 8, 6, 6), 1),  # three phases read no input: the bias alone
    (dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)), (1, 8, 7, 9), 2),
])
def test_transposed_conv_runs_as_phase_convs_and_matches_pytorch(layer, shape, phases, machine):
    torch.manual_seed(0)
    model = nn.Sequential(nn.ConvTranspose2d(shape[1], 12, **layer), nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(*shape),), threads=2, machine=machine)
    assert any(s.startswith("transposed conv") and s.endswith(f"{phases} phase convs")
               for s in compiled.compile_report.strategies), compiled.compile_report.strategies
