"""wafer-concat-chains against PyTorch: dense blocks, whose layers each concatenate
every feature before them, build one buffer that every concatenation is a slice of."""

import pytest
import torch
from torch_reference import compile_checked


class DenseBlock(torch.nn.Module):
    """DenseNet's block: layer k reads the concatenation of the input and layers 1..k-1."""

    def __init__(self, channels: int, growth: int, layers: int):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.BatchNorm2d(channels + i * growth), torch.nn.ReLU(),
                                torch.nn.Conv2d(channels + i * growth, growth, 3, padding=1, bias=False))
            for i in range(layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def _stage_ops(compiled, stage: str) -> dict:
    return next(s.ops_after for s in compiled.compile_report.stages if s.name == stage)


@pytest.mark.parametrize("batch,threads", [(1, 1), (2, 2)])
def test_dense_block_matches_pytorch_without_concatenations(batch, threads):
    torch.manual_seed(0)
    block = DenseBlock(8, 4, 4).eval()
    for module in block.modules():  # non-trivial batch norms
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    compiled = compile_checked(block, (torch.randn(batch, 8, 12, 12),), threads=threads)
    assert _stage_ops(compiled, "simplify").get("tensor.concat", 0) == 0


class ReadBack(torch.nn.Module):
    """A shorter concatenation read after the longer one was filled: bufferization must
    keep its value (by a copy), not read the buffer the later feature went into."""

    def forward(self, x, y):
        first = torch.cat([x, y], 0)
        second = torch.cat([x, y, first.sin()], 0)
        return second.sum(0) * first.sum(0) + first


def test_a_shorter_concatenation_read_after_the_longer_keeps_its_value():
    torch.manual_seed(0)
    compile_checked(ReadBack(), (torch.randn(3, 5), torch.randn(2, 5)))


class Fire(torch.nn.Module):
    """SqueezeNet's fire module: a 1x1 squeeze, then 1x1 and 3x3 expands concatenated."""

    def __init__(self, channels: int, squeeze: int, expand: int):
        super().__init__()
        self.squeeze = torch.nn.Conv2d(channels, squeeze, 1)
        self.expand1x1 = torch.nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = torch.nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x):
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)


@pytest.mark.parametrize("batch", [1, 3])
def test_fire_module_copies_shared_by_threads_match_pytorch(batch):
    """At 55x55 a fire module's padded and ragged parts are copied on the way
    (wafer-vectorize-copies); at two threads the big copies are split between
    them along their first dim of two planes or more (3 images: 2 and 1;
    test/Passes/wafer-vectorize-copies.mlir checks the loops)."""
    torch.manual_seed(0)
    compile_checked(Fire(64, 16, 64).eval(), (torch.randn(batch, 64, 55, 55),), threads=2)
