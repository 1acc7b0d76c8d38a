"""The transformer's own kernels against PyTorch: a broadcast projection
(wafer-fold-broadcast) and the attention around its batched matmuls.

Sizes leave remainders for every tile (odd batches, rows and columns).
"""

import pytest
import torch

import wafer


def compiled(model, inputs, **options):
    model.eval()
    exe = wafer.compile(model, inputs, target="cpu", **options)
    with torch.no_grad():
        torch.testing.assert_close(exe(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)
    return exe


class Projection(torch.nn.Module):
    """x @ W for a 3-D x: torch-mlir broadcasts W to a batch_matmul."""

    def __init__(self, k: int, n: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(k, n))

    def forward(self, x):
        return x.transpose(0, 1) @ self.w


@pytest.mark.parametrize("shape,n", [((3, 17, 65), 33), ((1, 5, 8), 1000)])
def test_broadcast_projection_reads_the_weight_once(shape, n):
    torch.manual_seed(0)
    b, m, k = shape
    exe = compiled(Projection(k, n), (torch.randn(b, m, k),))
    assert any(f"packed matmul {m * b}x{n}x{k}" in s for s in exe.compile_report.strategies), \
        exe.compile_report.strategies


@pytest.mark.parametrize("batch,threads", [(3, 1), (3, 2)])
def test_multihead_attention(batch, threads):
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(24, 3, batch_first=True)

    class SelfAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]

    compiled(SelfAttention(), (torch.randn(batch, 19, 24),), threads=threads)
