"""wafer-depthwise-conv against PyTorch: strides 1 and 2, zero padding read
through, rows of whole vectors, overlapping and ragged pieces, odd sizes,
5x5 filters, dilation, bias, batches, threads, and the convolutions it leaves
alone. Strategies are checked for a named machine (AVX2's 8 lanes, AVX-512's
16, SSE's 4), so they hold on any host."""

import numpy as np
import pytest
import torch
from torch_reference import compile_checked

import wafer


def strategies(compiled) -> list[str]:
    return compiled.compile_report.strategies


@pytest.mark.parametrize("batch,channels,size,stride,kernel,padding,dilation,bias,machine,threads", [
    (1, 32, 16, 1, 3, 1, 1, False, "avx2", 1),    # MobileNet's block: rows of 2 whole vectors
    (2, 8, 13, 2, 3, 1, 1, True, "avx512", 1),    # odd size, stride 2: a row of 7 as 4 + overlapping 4
    (1, 6, 7, 1, 3, 1, 1, True, "avx2", 2),       # rows of 7, narrower than a vector
    (3, 4, 30, 2, 5, 2, 1, False, "avx512", 2),   # 5x5 stride 2, batch 3
    (1, 5, 21, 1, 5, 2, 1, True, "avx2", 1),      # 5x5: rows of 21 = 2 vectors + one overlapping
    (2, 3, 17, 1, 3, 2, 2, True, "avx2", 1),      # dilation 2
    (1, 4, 9, 2, 3, 0, 1, True, "sse", 1),        # no padding, stride 2, SSE's 4 lanes
    (1, 3, 10, 2, 3, 3, 1, False, "avx2", 1),     # padding 3: the first row reads only zeros
    (1, 2, 6, 1, 3, 1, 1, True, "avx2", 1),       # rows of 6: two overlapping vector<4>
    (1, 3, 82, 1, 3, 1, 1, True, "avx2", 1),      # rows of 82: a loop over blocks of 4 vectors
    (1, 2, 70, 1, 3, 0, 1, False, "avx2", 1),     # rows of 68: the loop covers 8 vectors, then one overlapping
])
def test_depthwise_convolution_matches_pytorch(batch, channels, size, stride, kernel, padding, dilation, bias,
                                               machine, threads):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(channels, channels, kernel, stride, padding, dilation, groups=channels, bias=bias)
    x = torch.randn(batch, channels, size, size + 1)  # W = H + 1: rows and columns differ
    compiled = compile_checked(conv, (x,), threads=threads, machine=machine)
    assert any(s.startswith(f"depthwise conv {kernel}x{kernel}/{stride}") for s in strategies(compiled))


def test_mobilenet_block_fuses_batch_norm_and_relu6_into_the_planes():
    """Depthwise 3x3, batch norm and ReLU6, as in MobileNet-v2, at 2 threads: the
    elementwise tail runs on each channel plane inside the parallel loop."""
    torch.manual_seed(0)
    block = torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3, 1, 1, groups=32, bias=False),
                                torch.nn.BatchNorm2d(32), torch.nn.ReLU6()).eval()
    block[1].running_mean.uniform_(-1, 1)
    block[1].running_var.uniform_(0.5, 2)
    x = torch.randn(4, 32, 56, 56)
    compiled = compile_checked(block, (x,), threads=2, machine="avx2", wake_instructions=0)
    assert "depthwise conv 3x3/1: rows of 56 in 7 x vector<8>" in strategies(compiled)
    assert any(s.startswith("epilogue") and s.endswith("per 1x1x56x56 tile") for s in strategies(compiled))
    assert compiled.compile_report.stages[-1].ops_after["omp.parallel"] > 0


def test_ragged_rows_read_their_init():
    """An init that is an argument (not a fill or a bias) is read, and a row of 13 is
    a ragged vector<13>: overlapping pieces would add their shared columns' taps twice."""
    module = """
    func.func @forward(%x: tensor<2x3x15x15xf32>, %w: tensor<3x3x3xf32>, %init: tensor<2x3x13x13xf32>) -> tensor<2x3x13x13xf32> {
      %r = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
          ins(%x, %w : tensor<2x3x15x15xf32>, tensor<3x3x3xf32>) outs(%init : tensor<2x3x13x13xf32>) -> tensor<2x3x13x13xf32>
      return %r : tensor<2x3x13x13xf32>
    }"""
    rng = np.random.default_rng(0)
    x, w, init = (rng.standard_normal(shape, dtype=np.float32) for shape in ((2, 3, 15, 15), (3, 3, 3), (2, 3, 13, 13)))
    exe = wafer.compile_mlir(module, machine="avx512", threads=1)
    assert "depthwise conv 3x3/1: rows of 13 in a vector<13> remainder, serial" in exe.compile_report.strategies
    expected = init + sum(x[:, :, i:i + 13, j:j + 13] * w[None, :, i, j, None, None] for i in range(3) for j in range(3))
    np.testing.assert_allclose(exe.forward(x, w, init), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch,serial", [(1, True), (8, False)])
def test_planes_go_parallel_when_they_pay(batch, serial):
    """64 channels of 28x28 at 2 threads: 0.9 MFLOP per image stays one serial loop,
    8 images are an OpenMP loop over (image, channel) planes."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(64, 64, 3, 1, 1, groups=64)
    x = torch.randn(batch, 64, 28, 28)
    compiled = compile_checked(conv, (x,), threads=2, machine="avx2", wake_instructions=0)
    assert any(s.endswith(", serial") for s in strategies(compiled)) == serial
    assert (compiled.compile_report.stages[-1].ops_after["omp.parallel"] > 0) == (not serial)


@pytest.mark.parametrize("conv", [
    torch.nn.Conv2d(4, 4, 3, stride=3, padding=1, groups=4),   # column stride 3
    torch.nn.Conv2d(4, 8, 3, padding=1, groups=4),             # two filters per channel: a grouped conv
])
def test_other_convolutions_are_left_alone(conv):
    torch.manual_seed(0)
    x = torch.randn(1, 4, 11, 11)
    compiled = compile_checked(conv, (x,), threads=1, machine="avx2")
    assert not any(s.startswith("depthwise conv") for s in strategies(compiled))


def test_reflection_padding_is_read_as_an_input():
    """A pad that is not zeros is not read through: the conv reads the padded copy."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 5, 3, padding=1, groups=5, padding_mode="reflect")
    x = torch.randn(1, 5, 12, 12)
    compiled = compile_checked(conv, (x,), threads=1, machine="avx2")
    assert "depthwise conv 3x3/1: rows of 12 in 2 x vector<8>, the last overlapping by 4, serial" in strategies(compiled)
