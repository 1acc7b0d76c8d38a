"""Row reductions computed with their readers a tile of rows at a time (wafer-fuse-rows) against PyTorch."""

import pytest
import torch
import torch.nn.functional as F

import wafer
from torch_reference import Lambda


class WindowAttentionScores(torch.nn.Module):
    """Swin's: scores plus a relative position bias (per head) and a shift mask
    (per window), then softmax over 49 keys."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.randn(3, 49, 49))
        self.register_buffer("mask", torch.randn(4, 49, 49))

    def forward(self, scores):
        scores = scores + self.bias
        scores = scores.view(2, 4, 3, 49, 49) + self.mask.unsqueeze(1).unsqueeze(0)
        return torch.softmax(scores.view(-1, 3, 49, 49), -1)


class RmsNorm(torch.nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(features))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


CASES = {
    # rows of whole vectors, of a ragged 197 (ViT's tokens) and 49 (a 7x7 window)
    "softmax over 256": (lambda: Lambda(lambda x: torch.softmax(x, -1)), (2, 4, 16, 256)),
    "softmax over 197": (lambda: Lambda(lambda x: torch.softmax(x, -1)), (1, 3, 197, 197)),
    "window attention": (WindowAttentionScores, (8, 3, 49, 49)),
    "log softmax": (lambda: Lambda(lambda x: F.log_softmax(x, -1)), (64, 1000)),
    "layer norm": (lambda: torch.nn.LayerNorm(768), (2, 50, 768)),
    "RMS norm": (lambda: RmsNorm(512), (3, 40, 512)),
    "group norm": (lambda: torch.nn.GroupNorm(4, 32), (2, 32, 14, 14)),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", CASES)
def test_row_groups_match_pytorch(name, threads):
    make, shape = CASES[name]
    torch.manual_seed(0)
    model, x = make().eval(), torch.randn(*shape) * 3
    compiled = wafer.compile(model, (x,), threads=threads)
    assert any(s.startswith("rows fused") for s in compiled.compile_report.strategies), \
        compiled.compile_report.strategies
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=2e-5, atol=2e-5)


def test_a_norm_whose_output_the_next_layer_reads_first_stops_before_its_residual():
    """The layer norm's output feeds the linear layer before the residual add reads
    it: the add is no member (the loop that replaces the group comes before the
    linear layer), and the result still matches."""
    torch.manual_seed(0)
    norm, linear = torch.nn.LayerNorm(64), torch.nn.Linear(64, 64)
    model = Lambda(lambda x: (lambda h: linear(h) + h)(norm(x))).eval()
    x = torch.randn(16, 64)
    compiled = wafer.compile(model, (x,), threads=1)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=2e-5, atol=2e-5)
