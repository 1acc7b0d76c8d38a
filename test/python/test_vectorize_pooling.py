"""Max and average pooling (wafer-vectorize-pooling) against PyTorch."""

import pytest
import torch

import wafer
from torch_reference import compile_checked


@pytest.mark.parametrize("window,shape,strategy", [
    # 2x2 windows, disjoint: the stencil, in whole vectors whatever the row's width.
    (2, (3, 5, 28, 22), "max pool 2x2/2: rows of 11 in 2 x vector<8>"),
    (2, (1, 7, 6, 34), "max pool 2x2/2: rows of 17 in 3 x vector<8>"),
    # Column stride 3, past the stencil's: row maxima.
    (3, (2, 3, 9, 15), "vectorized max pool 3x3"),
    # ... over rows and columns past the last window, which no window reads (the NaN in the last column).
    (3, (2, 3, 10, 17), "vectorized max pool 3x3"),
])
def test_disjoint_max_pool_matches_pytorch(window, shape, strategy):
    """Odd channel counts and rows not a multiple of the lanes, with NaNs, which
    the maximum keeps as PyTorch's pool does."""
    torch.manual_seed(0)
    model = torch.nn.MaxPool2d(window).eval()
    x = torch.randn(*shape)
    x[0, 0, 1, 2] = x[-1, -1, -1, -1] = float("nan")
    compiled = wafer.compile(model, (x,), threads=1, machine="avx2")
    assert any(s.startswith(strategy) for s in compiled.compile_report.strategies), compiled.compile_report.strategies
    torch.testing.assert_close(compiled(x), model(x), equal_nan=True)


@pytest.mark.parametrize("pool,shape,strategy", [
    # SqueezeNet's: ceil mode pads with -inf past the last row and column.
    (dict(kernel_size=3, stride=2, ceil_mode=True), (1, 5, 37, 37), "max pool 3x3/2: rows of 18"),
    # ResNet's: -inf padding on every side, so the first row and column read padding.
    (dict(kernel_size=3, stride=2, padding=1), (2, 3, 20, 36), "max pool 3x3/2: rows of 18"),
    (dict(kernel_size=3, stride=1, padding=1), (1, 4, 9, 21), "max pool 3x3/1: rows of 21"),
    (dict(kernel_size=2, stride=1), (1, 3, 7, 40), "max pool 2x2/1: rows of 39"),
    (dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True), (1, 2, 17, 30), "max pool 3x3/2: rows of 14"),
])
def test_overlapping_max_pool_is_a_stencil_and_matches_pytorch(pool, shape, strategy):
    """Windows that overlap are computed by the depthwise stencil with a maximum,
    on inputs with negative values, so reading -inf padding as zero would show."""
    torch.manual_seed(0)
    model = torch.nn.MaxPool2d(**pool).eval()
    x = torch.randn(*shape)
    compiled = compile_checked(model, (x,), threads=1)
    assert any(s.startswith(strategy) for s in compiled.compile_report.strategies), compiled.compile_report.strategies


@pytest.mark.parametrize("pool,shape,strategy", [
    # Inception-v3's branch pool: zero padding counted in the divisor.
    (dict(kernel_size=3, stride=1, padding=1), (1, 5, 17, 17), "sum pool 3x3/1: rows of 17"),
    # ... and not counted: the divisor varies at the edges.
    (dict(kernel_size=3, stride=1, padding=1, count_include_pad=False), (2, 3, 12, 40), "sum pool 3x3/1: rows of 40"),
    # DenseNet's transition: disjoint 2x2 windows, a stride-2 run split by deinterleave.
    (dict(kernel_size=2, stride=2), (1, 4, 14, 30), "sum pool 2x2/2: rows of 15"),
    (dict(kernel_size=3, stride=2, ceil_mode=True, count_include_pad=False), (1, 5, 17, 17),
     "sum pool 3x3/2: rows of 8"),
    (dict(kernel_size=5, stride=1, padding=2), (1, 2, 9, 23), "sum pool 5x5/1: rows of 23"),
    (dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)), (1, 3, 11, 19), "sum pool 3x2/1: rows of 18"),
])
def test_average_pool_is_a_sum_stencil_and_matches_pytorch(pool, shape, strategy):
    """The sum runs on the stencil with zero padding read through; the division
    follows as an elementwise op, so a wrong count or a padding read as
    anything but zero shows in the result."""
    torch.manual_seed(0)
    model = torch.nn.AvgPool2d(**pool).eval()
    x = torch.randn(*shape)
    compiled = compile_checked(model, (x,), threads=1)
    assert any(s.startswith(strategy) for s in compiled.compile_report.strategies), compiled.compile_report.strategies


def test_squeezenet_fire_and_ceil_mode_pool_match_pytorch():
    """A conv + ReLU, ceil-mode pool and Fire module's concat, at batch 2."""
    torch.manual_seed(0)

    class Fire(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, stride=2), torch.nn.ReLU(),
                                            torch.nn.MaxPool2d(3, 2, ceil_mode=True))
            self.squeeze = torch.nn.Sequential(torch.nn.Conv2d(16, 8, 1), torch.nn.ReLU())
            self.e1 = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1), torch.nn.ReLU())
            self.e3 = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU())
            self.pool = torch.nn.MaxPool2d(3, 2, ceil_mode=True)

        def forward(self, x):
            s = self.squeeze(self.stem(x))
            return self.pool(torch.cat([self.e1(s), self.e3(s)], 1))

    model = Fire().eval()
    x = torch.randn(2, 3, 63, 63)
    compiled = compile_checked(model, (x,), threads=2)
    assert sum(s.startswith("max pool 3x3/2") for s in compiled.compile_report.strategies) == 2


def test_disjoint_1d_max_pool_over_a_ragged_signal_matches_pytorch():
    """M5's 4-wide pools over 1981 samples: the last sample is in no window."""
    torch.manual_seed(0)
    model = torch.nn.MaxPool1d(4).eval()
    x = torch.randn(2, 8, 1981)
    compiled = compile_checked(model, (x,), threads=1)
    assert "vectorized max pool 1x4" in compiled.compile_report.strategies, compiled.compile_report.strategies
