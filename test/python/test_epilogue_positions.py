"""Elementwise ops that read their own positions (a gather at `linalg.index`)
keep the whole result's positions when they move into a kernel's tiles."""

import pytest
import torch
import wafer
from torch_reference import compile_checked


class PositionsAfterLinear(torch.nn.Module):
    """MobileBERT's embeddings: a linear layer, then learned position embeddings
    gathered at the positions 0..T-1 (a buffer, so the gather's indices fold)."""

    def __init__(self, tokens: int):
        super().__init__()
        self.linear = torch.nn.Linear(384, 512)
        self.positions = torch.nn.Embedding(512, 512)
        self.register_buffer("position_ids", torch.arange(512).expand(1, -1), persistent=False)
        self.tokens = tokens

    def forward(self, x):
        return self.linear(x) + self.positions(self.position_ids[:, :self.tokens])


@pytest.mark.parametrize("threads", [1, 2])
def test_gathered_positions_in_a_linear_layers_epilogue(threads):
    """The gather joins the packed matmul's epilogue, one cache tile at a time:
    each tile reads the embedding rows and columns of its own place."""
    torch.manual_seed(0)
    model = PositionsAfterLinear(64).eval()
    compiled = compile_checked(model, (torch.randn(1, 64, 384),), threads=threads)
    assert any(s.startswith("epilogue linalg.index") for s in compiled.compile_report.strategies)


class RampAfterTransposedConv(torch.nn.Module):
    """A transposed convolution plus a ramp along its rows (`x + arange(W)`, a
    tie-breaker before argmax): the epilogue adds its own innermost position
    to the tile it overwrites."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(31, 1, 3, 3) * 0.5, requires_grad=False)

    def forward(self, x):
        y = torch.nn.functional.conv_transpose2d(torch.nn.functional.pad(x, (1, 1, 2, 2)), self.weight,
                                                 padding=1, dilation=2)
        return torch.argmax(y + torch.arange(9, dtype=torch.float32) * 1e-3, -1)


@pytest.mark.parametrize("threads", [1, 2])
def test_ramp_along_rows_in_an_epilogue(threads):
    """Upstream's vectorizer built an invalid vector.multi_reduction for an
    epilogue that adds its innermost position to its init (fuzz seed 8415:
    the compile failed in the vectorize stage); such a tile stays scalar."""
    torch.manual_seed(0)
    model, x = RampAfterTransposedConv().eval(), torch.randn(5, 31, 3, 5)
    compiled = wafer.compile(model, (x,), threads=threads)
    assert torch.equal(torch.as_tensor(compiled(x)), model(x))
    assert any(s.startswith("epilogue linalg.index") for s in compiled.compile_report.strategies)
