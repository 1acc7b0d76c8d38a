"""Softmax as exponentials times one reciprocal a row (wafer-softmax-reciprocal) against PyTorch."""

import pytest
import torch

from torch_reference import Lambda, compile_checked


@pytest.mark.parametrize("dim,shape", [(-1, (3, 5, 300)), (1, (2, 37, 5, 3)), (0, (40, 24))])
def test_softmax_over_any_dim(dim, shape):
    """Rows along the last dim, and sums across a middle and the first dim, which
    the reciprocal is broadcast back over; logits far apart, so most terms underflow."""
    torch.manual_seed(0)
    compile_checked(Lambda(lambda x: torch.softmax(x, dim)), (torch.randn(*shape) * 30,))


def test_softmax_with_masked_scores():
    """-inf scores (a causal mask) add nothing to a row's sum: every row keeps its maximum's 1."""
    torch.manual_seed(0)
    causal = torch.ones(64, 64, dtype=torch.bool).triu(1)
    compile_checked(Lambda(lambda x: torch.softmax(x.masked_fill(causal, float("-inf")), -1)),
                    (torch.randn(2, 4, 64, 64),))


@pytest.mark.parametrize("threads", [1, 2])
def test_softmax_fused_with_its_scores(threads):
    """Scores from a matmul, scaled, softmaxed and applied to values: attention as
    written out by hand (T5's, Swin's), the softmax fused between the contractions."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 96, 32) for _ in range(3))
    compile_checked(Lambda(lambda q, k, v: torch.softmax(q @ k.transpose(-1, -2) / 8, -1) @ v), (q, k, v),
                    threads=threads)
