"""Grouped convolutions (1 < groups < channels: ResNeXt, RegNet) against PyTorch.

Where wafer-direct-conv does not take them (a column stride, more filters a
group than registers hold, or conv-algorithm=im2col, as here), wafer-im2col
computes them as a batch of one contraction per group, packed by
wafer-pack-matmul; before, they ran as linalg's scalar loops (RegNetY-400MF at
3.5x ONNX Runtime's time). Strides, padding, dilation, 1x1 windows, bias,
batches, threads and each machine's register block."""

import pytest
import torch
from torch_reference import compile_checked


@pytest.mark.parametrize("batch,channels,filters,groups,size,kernel,stride,padding,dilation,bias,machine,threads", [
    (1, 128, 128, 32, 14, 3, 1, 1, 1, False, "avx512", 1),  # ResNeXt's 3x3: 32 groups of 4
    (2, 48, 48, 6, 15, 3, 2, 1, 1, True, "avx2", 2),        # RegNet's stride-2 3x3, groups of 8, odd size
    (1, 32, 64, 4, 9, 1, 1, 0, 1, True, "avx512", 1),       # grouped 1x1: x read in place, 16 filters a group
    (3, 12, 6, 3, 10, 3, 1, 2, 2, False, "avx2", 1),        # dilation 2, fewer filters than channels
    (1, 8, 8, 2, 6, 5, 1, 2, 1, True, "sse", 2),            # 5x5, SSE's 4 lanes
])
def test_grouped_convolution_matches_pytorch(batch, channels, filters, groups, size, kernel, stride, padding,
                                             dilation, bias, machine, threads):
    torch.manual_seed(0)
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(channels, filters, kernel, stride, padding, dilation, groups=groups, bias=bias),
        torch.nn.ReLU())
    x = torch.randn(batch, channels, size, size + 1)  # W = H + 1: rows and columns differ
    compiled = compile_checked(conv, (x,), threads=threads, machine=machine, conv_algorithm="im2col")
    k = channels // groups * kernel * kernel
    assert (f"im2col conv_2d_ngchw_gfchw: {groups} groups of {filters // groups} filters, K={k}"
            in compiled.compile_report.strategies)
    assert any(s.startswith(f"packed matmul {groups}x{filters // groups}x") for s in compiled.compile_report.strategies)


def test_without_packing_a_grouped_convolution_still_matches():
    """pack=false keeps linalg's loops: the rewrite is the packed path's, not a precondition."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=4)
    compiled = compile_checked(conv, (torch.randn(1, 16, 8, 8),), pack=False)
    assert not any("ngchw" in s for s in compiled.compile_report.strategies)
