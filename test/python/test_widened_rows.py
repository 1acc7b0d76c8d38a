"""Convolutions whose output rows wafer-im2col widens to whole groups of 8
pixels (passes/im2col_rows.py) against PyTorch: the extra pixels are
computed from zero padding and sliced off, after the epilogue where it reads
only the convolution, before it where it reads another tensor along the rows."""

import pytest
import torch
from torch_reference import compile_checked


def widened(compiled) -> list[str]:
    return [s for s in compiled.compile_report.strategies if "widened" in s]


class Stem(torch.nn.Module):
    """SqueezeNet's stem, smaller: 3x3 at stride 2 with no padding (63 -> 31
    columns, widened to 32), bias, ReLU and the overlapping max pool reading
    the sliced result."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, stride=2)
        self.pool = torch.nn.MaxPool2d(3, 2, ceil_mode=True)

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x)))


class PaddedResidual(torch.nn.Module):
    """A padded 3x3 convolution on 31x31 (its own padding widened) whose result
    meets a residual add, then a ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x) + x)


@pytest.mark.parametrize("batch,threads,machine", [(1, 1, "avx512"), (2, 2, "avx512"), (2, 1, "avx2")])
def test_stem_rows_widened(batch, threads, machine):
    torch.manual_seed(0)
    compiled = compile_checked(Stem().eval(), (torch.randn(batch, 3, 63, 63),),
                               direct_conv=False, threads=threads, machine=machine)
    assert widened(compiled) == ["im2col conv_2d_nchw_fchw K=27, rows of 31 widened to 32"]


@pytest.mark.parametrize("batch", [1, 3])
def test_padded_residual_rows_widened(batch):
    torch.manual_seed(0)
    compiled = compile_checked(PaddedResidual().eval(), (torch.randn(batch, 8, 31, 31),), threads=1,
                               conv_algorithm="im2col")
    assert widened(compiled) == ["im2col conv_2d_nchw_fchw K=72, rows of 31 widened to 32"]


@pytest.mark.parametrize("activation,epilogue", [
    (torch.nn.ReLU6, "addf, cmpf, select, cmpf, select, cmpf, select"),
    (torch.nn.SiLU, "addf, negf, math.exp, addf, divf, mulf")])
@pytest.mark.parametrize("threads", [1, 2])
def test_activation_of_several_ops_joins_widened_tiles(activation, epilogue, threads):
    """MobileNet-v2's and EfficientNet's stem at 299x299: 150-pixel rows widened
    to 152, the batch norm folded. ReLU6 reads the result three times (a max,
    a min and a NaN check), SiLU twice; all of it applies to the widened tiles,
    instead of as a pass of its own over the sliced result."""
    torch.manual_seed(0)
    norm = torch.nn.BatchNorm2d(32)
    norm.running_mean.uniform_(-1, 1)
    norm.running_var.uniform_(0.5, 2)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, 2, 1, bias=False), norm, activation()).eval()
    compiled = compile_checked(model, (torch.randn(1, 3, 299, 299),), threads=threads, machine="avx512")
    assert widened(compiled) == ["im2col conv_2d_nchw_fchw K=27, rows of 150 widened to 152"]
    assert f"epilogue {epilogue} per 1x32x2x152 tile" in compiled.compile_report.strategies


def test_short_rows_stay():
    """27 pixels would widen by 5, more than a sixteenth: the rows stay."""
    torch.manual_seed(0)
    compiled = compile_checked(Stem().eval(), (torch.randn(1, 3, 55, 55),), direct_conv=False, threads=1)
    assert not widened(compiled) and any(s.startswith("im2col") for s in compiled.compile_report.strategies)
