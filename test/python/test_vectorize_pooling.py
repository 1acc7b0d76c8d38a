"""Max pooling over disjoint windows (wafer-vectorize-pooling) against PyTorch."""

import pytest
import torch

import wafer


@pytest.mark.parametrize("window,shape", [(2, (3, 5, 28, 22)), (3, (2, 3, 9, 15)), (2, (1, 7, 6, 34))])
def test_disjoint_max_pool_matches_pytorch(window, shape):
    """Odd channel counts and rows not a multiple of 16 lanes, after a ReLU, with NaN-free random data."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.MaxPool2d(window)).eval()
    x = torch.randn(*shape)
    compiled = wafer.compile(model, (x,), threads=1)
    assert f"vectorized max pool {window}x{window}" in compiled.compile_report.strategies
    torch.testing.assert_close(compiled(x), model(x))
