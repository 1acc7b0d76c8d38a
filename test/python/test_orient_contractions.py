"""wafer-orient-contractions against PyTorch: late, small-image convolutions and
skinny matmuls computed with A and B swapped, at several batches and threads.
Strategies are checked for a named machine (AVX-512's 8x32 block), so they hold
on any host."""

import pytest
import torch
from torch_reference import compile_checked


def oriented(compiled) -> list[str]:
    return [s for s in compiled.compile_report.strategies if s.startswith("oriented")]


class ConvResidual(torch.nn.Module):
    """A ResNet stage-4 shape: the swapped C feeds the bias, a residual add and a ReLU."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 3, stride=stride, padding=1)

    def forward(self, x, skip):
        return torch.relu(self.conv(x) + skip)


@pytest.mark.parametrize("batch,threads", [(1, 1), (3, 1), (2, 2)])
@pytest.mark.parametrize("channels,size,stride", [(96, 7, 1), (64, 13, 2)])
def test_swapped_convolution_matches_pytorch(batch, threads, channels, size, stride):
    """7x7 and (stride 2) 7x7 outputs: 49 pixels would pad to 64 as the vector dim."""
    torch.manual_seed(0)
    model = ConvResidual(channels, stride).eval()
    out = (size - 1) // stride + 1
    inputs = (torch.randn(batch, channels, size, size), torch.randn(batch, channels, out, out))
    compiled = compile_checked(model, inputs, direct_conv=False, threads=threads, machine="avx512")
    assert oriented(compiled) == [f"oriented {out * out}x{channels}x{channels * 9}: A and B swapped, "
                                  f"{out * out} rows of {channels} columns"]


class SkinnyMatmul(torch.nn.Module):
    """W[256, 640] @ x[640, 7]: 7 columns pad to a vector of 16 as N; as M they are one 7-row block."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(256, 640))

    def forward(self, x):
        return torch.tanh(self.w @ x)


def test_swapped_matmul_matches_pytorch():
    torch.manual_seed(0)
    compiled = compile_checked(SkinnyMatmul().eval(), (torch.randn(640, 7),), threads=1, machine="avx512")
    assert oriented(compiled)


@pytest.mark.parametrize("options", [{"orient": False}, {"machine": "avx2"}])
def test_orientation_is_a_choice(options):
    """Off, nothing is swapped; AVX2's 4x16 block pads 49 pixels to 64 as N and to
    52 as M, which saves too little for K = 9 x 16 to pay for the transposes."""
    torch.manual_seed(0)
    model = ConvResidual(16, 1).eval()
    inputs = (torch.randn(1, 16, 7, 7), torch.randn(1, 16, 7, 7))
    compiled = compile_checked(model, inputs, threads=1, **options)
    assert not oriented(compiled)


@pytest.mark.parametrize("batch,machine", [(2, "avx512"), (1, "avx2")])
def test_swapped_c_leaves_in_vector_blocks(batch, machine):
    """A 1x1 convolution to 1024 filters on a 13x13 map, swapped: C's rows lie
    4 KB apart, one L1 set, so it goes back to NCHW in blocks of one vector of
    filters by a 13-pixel row (wafer-vectorize-transposes)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(64, 1024, 1), torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(batch, 64, 13, 13),), threads=1, machine=machine,
                               conv_algorithm="im2col-swapped")
    lanes = 16 if machine == "avx512" else 8
    assert oriented(compiled) and f"transpose in 13x{lanes} blocks" in compiled.compile_report.strategies


@pytest.mark.parametrize("channels,filters,size,batch,threads,machine", [
    (128, 16, 55, 1, 1, "avx512"), (128, 16, 55, 2, 2, "avx512"),
    (256, 32, 27, 2, 1, "avx2")])  # two 16-filter blocks of B: a loop between the row blocks and K
def test_a_squeeze_reads_its_image_in_place_with_rows_prefetched(channels, filters, size, batch, threads, machine):
    """SqueezeNet's squeezes: 16 filters over a 128-channel 55x55 image, 32
    over a 256-channel 27x27 one. Swapped, the image (1.5 MB, 0.75 MB per
    image) is A, read in place with its rows prefetched (wafer-prefetch-rows)
    instead of copied into B panels on every call."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(channels, filters, 1), torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(batch, channels, size, size),), threads=threads, machine=machine)
    pixels = size * size
    assert oriented(compiled) == [f"oriented {pixels}x{filters}x{channels}: A and B swapped, "
                                  f"{pixels} rows of {filters} columns"]
    assert any(s.startswith("prefetch 8 image rows") for s in compiled.compile_report.strategies)


@pytest.mark.parametrize("machine,swap", [("avx2", False), ("avx512", True)])
def test_a_squeeze_whose_pixels_pad_the_register_blocks_is_swapped_only_where_they_do_not(machine, swap):
    """SqueezeNet's 384->48 squeeze at 13x13: swapped, its 169 pixels are A's
    rows. AVX2's 4-row blocks pad them, so the image is copied into panels
    either way and swapping saves no copy (bench/orientation.py: 1.2-1.3x
    slower swapped at batch 8); AVX-512's 13-row blocks read it in place.
    (wafer-direct-conv, off here, would run it along its filters with AVX-512.)"""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(384, 48, 1), torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(8, 384, 13, 13),), threads=1, machine=machine,
                               direct_conv=False)
    assert bool(oriented(compiled)) == swap


@pytest.mark.parametrize("channels,filters,size,stride,swap", [
    (48, 192, 13, 1, True),  # SqueezeNet's expand: 176 of 169 columns in 16-wide panels, slower to issue
    (64, 128, 56, 2, False)])  # ResNet-18's first downsampling: 784 columns in whole 16-wide panels
def test_swapped_where_bench_orientation_measured_it_faster(channels, filters, size, stride, swap):
    """The two 3x3 convolutions nearest the break-even (`transpose-cost`) that
    bench/orientation.py measured: swapped 0.90-0.92x the time of unswapped,
    and 1.05-1.2x."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(channels, filters, 3, stride, padding=1), torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(1, channels, size, size),),
                               direct_conv=False, threads=1, machine="avx512")
    assert bool(oriented(compiled)) == swap


@pytest.mark.parametrize("channels,filters,size,stride", [(1024, 1024, 14, 1), (512, 1024, 28, 2)])
def test_a_result_of_1024_filters_at_14x14_swaps(channels, filters, size, stride):
    """ResNeXt-50's 1024-filter 1x1 convolution at 14x14 and ResNet-50's
    strided one into 1024 filters: swapped, C's rows lie 4 KB apart and its
    transpose out reads 28 of them a block, more than an L1d has ways. A rule
    kept them unswapped for that; bench/orientation.py measured them 0.86x
    the time swapped (Zen 5, AVX-512, batch 1), and padding 196 pixels to 208
    columns costs more than the set conflicts."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(channels, filters, 1, stride), torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(1, channels, size, size),), threads=1, machine="avx512",
                               direct_conv=False)
    assert oriented(compiled)
