"""1-D convolutions and pools (wafer-one-row-images) against PyTorch, through the 2-D strategies."""

import pytest
import torch
from torch import nn

from torch_reference import compile_checked


@pytest.mark.parametrize("layer,shape,strategy", [
    # Zero padding of the length, made again on the one-row image the direct conv reads through.
    (lambda: nn.Conv1d(12, 32, 7, padding=3), (2, 12, 50), "direct conv along filters: 32 filters x 1x"),
    (lambda: nn.Conv1d(12, 32, 3, stride=2, dilation=2, padding=2), (1, 12, 41), "direct conv along filters"),
    (lambda: nn.Conv1d(64, 96, 1), (2, 64, 400), "packed matmul"),
    # Grouped and depthwise: torch-mlir's 2-D form, one column wide, laid along W.
    (lambda: nn.Conv1d(16, 32, 5, groups=4, padding=2), (2, 16, 50), "direct conv along filters: 8 filters x 1x"),
    (lambda: nn.Conv1d(16, 16, 5, groups=16, padding=2), (2, 16, 50), "depthwise conv 1x5/1: rows of 50"),
    (lambda: nn.ConvTranspose1d(16, 8, 4, stride=2, padding=1), (2, 16, 30), "direct conv"),
    # Too shallow for im2col (3 and 6 products per output), whose outputs outgrow L2:
    # left to no strategy, they ran as scalar loops.
    (lambda: nn.Conv1d(1, 128, 3, stride=3), (2, 1, 6561), "direct conv along filters"),
    (lambda: nn.Conv1d(2, 64, 3), (1, 2, 8002), "direct conv along filters"),
    # Rows whose output outgrows L2, along filters too: 1-D, unlike a 2-D stem's.
    (lambda: nn.Conv1d(64, 64, 3, padding=1), (1, 64, 4000), "direct conv along filters"),
    # A max pool's -inf padding, read through by the stencil.
    (lambda: nn.MaxPool1d(3, 2, padding=1), (2, 5, 41), "max pool 1x3/2: rows of 21"),
    (lambda: nn.AvgPool1d(3, 1, padding=1), (1, 4, 30), "sum pool 1x3/1: rows of 30"),
])
def test_one_dim_layers_run_a_2d_strategy_and_match_pytorch(layer, shape, strategy):
    """Negative inputs and a bias, so padding read as the wrong value or a
    misplaced tap shows in the result."""
    torch.manual_seed(0)
    model = nn.Sequential(layer(), nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(*shape),), threads=1)
    assert any(s.startswith(strategy) for s in compiled.compile_report.strategies), compiled.compile_report.strategies


@pytest.mark.parametrize("machine", ["host", "avx2"])
def test_conv_batch_norm_pool_net_matches_pytorch(machine):
    """An M5-style audio net: the batch norm still folds into each 1-D
    convolution's filters, and the pools and the mean over time follow."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 16, 20, stride=4), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(4),
                          nn.Conv1d(16, 32, 3), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(4)).eval()
    for norm in (model[1], model[5]):
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    compiled = compile_checked(model, (torch.randn(3, 1, 800),), threads=2, machine=machine)
    folded = [s for s in compiled.compile_report.strategies if s.endswith("folded into the filters")]
    assert len(folded) == 2, compiled.compile_report.strategies
