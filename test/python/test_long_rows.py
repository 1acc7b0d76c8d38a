"""Row reductions longer than wafer-vectorize's whole rows, reduced in chunks, against PyTorch."""

import pytest
import torch
from torch import nn

import wafer
from torch_reference import compile_checked


class RmsNorm(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(width) + 0.5)

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


class RowMax(nn.Module):
    def forward(self, x):
        return x.amax(-1)


@pytest.mark.parametrize("machine", ["host", "avx2"])
@pytest.mark.parametrize("model,shape", [
    (lambda: nn.GroupNorm(8, 64), (2, 64, 14, 14)),  # rows of 8 x 196 over two reduction loops
    (lambda: nn.LayerNorm(4096), (1, 16, 4096)),
    (lambda: RmsNorm(4096), (1, 16, 4096)),
    (lambda: nn.Softmax(-1), (1, 2, 16, 2048)),
    (lambda: nn.LayerNorm([32, 10, 10]), (2, 32, 10, 10)),  # 3200: a chunk of 32 x 10 x 10 cut along 32
])
def test_long_rows_match_pytorch(model, shape, machine):
    torch.manual_seed(0)
    compile_checked(model().eval(), (torch.randn(*shape) * 3 + 1,), threads=1, machine=machine)


def test_a_nan_in_any_chunk_reaches_the_row_maximum():
    """Each chunk's maximum joins the row's: a NaN in the last chunk of a row
    must survive, as in PyTorch's amax."""
    x = torch.randn(3, 6272)
    x[1, -1] = float("nan")
    x[2, 5] = float("nan")
    compiled = wafer.compile(RowMax(), (x,), threads=1)
    torch.testing.assert_close(compiled(x), x.amax(-1), equal_nan=True)
