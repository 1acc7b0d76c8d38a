"""The real part of a real tensor's Fourier transform (wafer/real_fourier.py) against PyTorch."""

import pytest
import torch

import wafer
from torch_reference import Lambda, compile_checked


@pytest.mark.parametrize("transform", [
    lambda x: torch.fft.fftn(x, dim=(1, 2)).real,  # FNet's token mixing
    lambda x: torch.fft.fftn(x).real,  # every dim
    lambda x: torch.fft.fft(x, norm="forward").real,
    lambda x: torch.fft.fft(x, dim=1, norm="ortho").real,
    lambda x: torch.fft.fft2(x).real * 0.5 + 1,
    lambda x: torch.fft.fftn(x[:, :1, :5], dim=(1, 2)).real,  # an odd longest dim, a unit one
    lambda x: torch.fft.fftn(x[:, :2, :2], dim=(1, 2)).real,  # no frequency to mirror
], ids=["fftn-tokens-features", "fftn-all", "fft-forward", "fft-ortho-middle", "fft2", "odd-and-unit", "two"])
def test_real_part_of_transforms(transform):
    torch.manual_seed(0)
    compile_checked(Lambda(transform), (torch.randn(2, 37, 48),))


class FourierMixing(torch.nn.Module):
    """FNet's layer: Fourier token mixing, then a feed-forward block, each with a residual and a layer norm."""

    def __init__(self, features: int):
        super().__init__()
        self.mixing_norm = torch.nn.LayerNorm(features)
        self.feed_forward = torch.nn.Sequential(torch.nn.Linear(features, 4 * features), torch.nn.GELU(),
                                                torch.nn.Linear(4 * features, features))
        self.output_norm = torch.nn.LayerNorm(features)

    def forward(self, x):
        x = self.mixing_norm(x + torch.fft.fftn(x, dim=(1, 2)).real)
        return self.output_norm(x + self.feed_forward(x))


def test_transform_of_integers():
    """torch.fft computes an integer tensor's transform in the default float type."""
    compile_checked(Lambda(lambda x: torch.fft.fftn(x, dim=(1, 2)).real), (torch.randint(-9, 9, (2, 12, 10)),))


@pytest.mark.parametrize("threads", [1, 2])
def test_fnet_layer(threads):
    torch.manual_seed(0)
    compile_checked(FourierMixing(64).eval(), (torch.randn(2, 128, 64),), threads=threads)


class PaddedTransform(torch.nn.Module):
    def forward(self, x):
        return torch.fft.fftn(x, s=(40, 48)).real  # to another length: pads or crops its input


class Magnitudes(torch.nn.Module):
    def forward(self, x):
        return torch.fft.fft(x).abs()  # a complex tensor read other than by `real`


@pytest.mark.parametrize("model", [PaddedTransform(), Magnitudes()], ids=["padded", "magnitudes"])
def test_other_transforms_are_refused_at_the_users_line(model):
    """Before, the magnitudes failed in torch-mlir's lowering ("failed to legalize
    operation 'torch.constant.int'"), naming neither the op nor the line."""
    with pytest.raises(wafer.WaferError, match=r"test_real_fourier\.py:\d+: error: .*torch\.aten\.fft_fftn?"
                                               r"\.default works on complex tensors"):
        wafer.compile(model, (torch.randn(2, 37, 48),))
