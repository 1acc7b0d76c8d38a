"""Inverted residual blocks that wafer-fuse-inverted-residual computes a block of
output rows at a time, against PyTorch: the rows each block expands again, the
depthwise padding rows set to zero, the residual read at the block's rows."""

import pytest
import torch
from torch_reference import compile_checked


class InvertedResidual(torch.nn.Module):
    """MobileNet-v2's block: 1x1 expansion, depthwise KxK at `stride`, 1x1 projection,
    each with a batch norm (random statistics), ReLU6 after the first two, and the
    residual add where the shapes allow it."""

    def __init__(self, channels: int, expanded: int, out: int, kernel: int, stride: int):
        super().__init__()
        self.block = torch.nn.Sequential(
            torch.nn.Conv2d(channels, expanded, 1, bias=False), _norm(expanded), torch.nn.ReLU6(),
            torch.nn.Conv2d(expanded, expanded, kernel, stride, kernel // 2, groups=expanded, bias=False),
            _norm(expanded), torch.nn.ReLU6(),
            torch.nn.Conv2d(expanded, out, 1, bias=False), _norm(out))
        self.residual = stride == 1 and channels == out

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


def _norm(channels: int) -> torch.nn.BatchNorm2d:
    norm = torch.nn.BatchNorm2d(channels)
    norm.running_mean.uniform_(-0.5, 0.5)
    norm.running_var.uniform_(0.5, 2.0)
    norm.weight.data.uniform_(0.5, 1.5)
    norm.bias.data.uniform_(-0.5, 0.5)
    return norm


def fused(compiled) -> list[str]:
    return [s for s in compiled.compile_report.strategies if s.startswith("inverted residual")]


# Each block's images (expansion + depthwise result) exceed 3/8 of the preset's L3
# (avx512: 27.5 MB, avx2: 32 MB).
@pytest.mark.parametrize("batch,threads,machine", [(2, 1, "avx512"), (2, 2, "avx512"), (3, 1, "avx2")])
def test_stride_2_block(batch, threads, machine):
    """MobileNet-v2's second block, 16 -> 96 -> 24 at 112x112, stride 2: each block
    of output rows expands twice its rows and one more, the first one a padding row."""
    torch.manual_seed(0)
    model = InvertedResidual(16, 96, 24, 3, 2).eval()
    compiled = compile_checked(model, (torch.randn(batch, 16, 112, 112),), threads=threads, machine=machine)
    [strategy] = fused(compiled)
    assert strategy.startswith("inverted residual 16->96->24 112x112/2: blocks of ")


@pytest.mark.parametrize("threads", [1, 2])
def test_stride_1_residual_block(threads):
    """24 -> 144 -> 24 at 56x56 with the residual add: blocks of rows share two
    expanded rows with their neighbours."""
    torch.manual_seed(0)
    model = InvertedResidual(24, 144, 24, 3, 1).eval()
    compiled = compile_checked(model, (torch.randn(4, 24, 56, 56),), threads=threads, machine="avx512")
    [strategy] = fused(compiled)
    assert strategy.startswith("inverted residual 24->144->24 56x56/1: blocks of ")


def test_5x5_window_on_odd_rows():
    """A 5x5 window on 57 rows (whose only divisors are 3 and 19): blocks of 3 rows
    each expand 7, two of them padding rows at the top and at the bottom."""
    torch.manual_seed(0)
    model = InvertedResidual(16, 128, 16, 5, 1).eval()
    compiled = compile_checked(model, (torch.randn(4, 16, 57, 57),), threads=1, machine="avx512")
    assert fused(compiled) == ["inverted residual 16->128->16 57x57/1: blocks of 3 rows from 7 expanded"]


def test_small_blocks_stay():
    """At batch 1 the stride-2 block's images (6 MB) stay in L3: no fusion."""
    torch.manual_seed(0)
    model = InvertedResidual(16, 96, 24, 3, 2).eval()
    compiled = compile_checked(model, (torch.randn(1, 16, 112, 112),), threads=1, machine="avx512")
    assert not fused(compiled)
