"""Identical layers share one compiled kernel function each (wafer-share-kernels)."""

import re

import pytest
import torch
from torch_reference import compile_checked


class Blocks(torch.nn.Module):
    """`depth` layers of one shape, each with its own weights, then a layer of another shape."""

    def __init__(self, depth: int):
        super().__init__()
        self.blocks = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.LayerNorm(64), torch.nn.GELU()) for _ in range(depth))
        self.head = torch.nn.Linear(64, 10)

    def forward(self, x):
        for block in self.blocks:
            x = block(x) + x
        return self.head(x)


def _lowered(tmp_path, depth: int, threads: int) -> str:
    torch.manual_seed(depth)
    compile_checked(Blocks(depth).eval(), (torch.randn(32, 64),), threads=threads, dump_ir=str(tmp_path))
    return (tmp_path / "07-lower.mlir").read_text()


@pytest.mark.parametrize("threads", [1, 2])
def test_each_layer_calls_the_shared_kernels_with_its_own_weights(tmp_path, threads):
    """compile_checked compares with PyTorch: a layer that read another's weights
    would not match. Each shared function is called the same number of times
    in each layer (twice where a layer runs one loop nest twice)."""
    text = _lowered(tmp_path, 3, threads)
    calls = re.findall(r"llvm\.call @(wafer_kernel\d+)\(", text)
    assert calls, "no kernel was shared"
    assert all(calls.count(name) % 3 == 0 for name in calls)


def test_more_layers_add_calls_not_kernels(tmp_path):
    functions = [len(re.findall(r"llvm\.func @wafer_kernel\d+\(", _lowered(tmp_path / str(depth), depth, 1)))
                 for depth in (2, 5)]
    assert functions[0] == functions[1] > 0
