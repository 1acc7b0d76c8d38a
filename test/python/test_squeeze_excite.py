"""Squeeze-excite and other convolutions with one output pixel, against PyTorch.

wafer-im2col computes a conv with a 1x1 output as images-by-filters (the
images are the matmul's rows); wafer-hoist-broadcast-compute computes the
sigmoid of the channel scales once per channel, not per pixel.
"""

import pytest
import torch
from torch_reference import compile_checked


class SqueezeExcite(torch.nn.Module):
    """torchvision's SqueezeExcitation, written out (no torchvision import in tests)."""

    def __init__(self, channels: int, squeezed: int):
        super().__init__()
        self.fc1 = torch.nn.Conv2d(channels, squeezed, 1)
        self.fc2 = torch.nn.Conv2d(squeezed, channels, 1)

    def forward(self, x):
        scale = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        scale = torch.sigmoid(self.fc2(torch.nn.functional.silu(self.fc1(scale))))
        return scale * x


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_squeeze_excite(batch, threads):
    torch.manual_seed(0)
    exe = compile_checked(SqueezeExcite(40, 10).eval(), (torch.randn(batch, 40, 13, 11),), threads=threads)
    assert any(s.startswith(f"packed matmul {batch}x40x10:") for s in exe.compile_report.strategies), \
        exe.compile_report.strategies
    # fc2's bias and the sigmoid, once per image and channel rather than per pixel
    assert any(s.endswith(f"once per {batch}x40 of a {batch}x40x13x11 generic")
               and {"arith.addf", "math.exp", "arith.divf"} <= set(s.split(" once per")[0].split(", "))
               for s in exe.compile_report.strategies), exe.compile_report.strategies


class Classifier(torch.nn.Module):
    """A 3x3 conv to a 1x1 map, then a bias and a tanh: the images-by-filters form."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(6, 24, 3)

    def forward(self, x):
        return torch.tanh(self.conv(x))


@pytest.mark.parametrize("batch", [1, 5])
def test_conv_to_one_pixel(batch):
    """With direct convolution off: on AVX-512 its 24 one-pixel rows fit the registers."""
    torch.manual_seed(0)
    exe = compile_checked(Classifier().eval(), (torch.randn(batch, 6, 3, 3),), direct_conv=False)
    assert any(s.startswith(f"packed matmul {batch}x24x54:") for s in exe.compile_report.strategies), \
        exe.compile_report.strategies


class GatedProjection(torch.nn.Module):
    """EfficientNet's block end: squeeze-excite gates the image, a 1x1
    convolution (with bias) projects it, and a residual add may follow."""

    def __init__(self, channels: int, out: int, residual: bool):
        super().__init__()
        self.gate = SqueezeExcite(channels, 4)
        self.project = torch.nn.Conv2d(channels, out, 1)
        self.residual = residual

    def forward(self, x, skip):
        y = self.project(self.gate(x))
        return y + skip if self.residual else y


@pytest.mark.parametrize("batch,threads,machine", [(1, 1, "host"), (3, 1, "avx2"), (2, 2, "host")])
@pytest.mark.parametrize("residual", [False, True])
def test_gates_fold_into_the_projection(batch, threads, machine, residual):
    """The gates scale the projection's filters per image (wafer-fold-channel-scale),
    not the 24x28x28 image."""
    torch.manual_seed(0)
    inputs = (torch.randn(batch, 24, 28, 28), torch.randn(batch, 16, 28, 28))
    exe = compile_checked(GatedProjection(24, 16, residual).eval(), inputs, threads=threads, machine=machine)
    assert "channel scale folded into the filters of 1x1 conv 24->16" in exe.compile_report.strategies


def test_gates_scale_the_image_under_many_filters():
    """Over a 7x7 image, 64 filters scaled on every call would cost more than
    scaling the image: the gated image is computed, and the projection keeps
    its constant filters."""
    torch.manual_seed(0)
    inputs = (torch.randn(2, 32, 7, 7), torch.randn(2, 64, 7, 7))
    exe = compile_checked(GatedProjection(32, 64, residual=True).eval(), inputs)
    assert not any(s.startswith("channel scale folded") for s in exe.compile_report.strategies)
