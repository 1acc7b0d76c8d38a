"""Loop nests become functions, one per set of identical nests, called from glue that skips -O2
(wafer-outline-kernels)."""

import re

import pytest
import torch
from torch_reference import Lambda, compile_checked


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
    in each layer (twice where a layer runs one loop nest twice); the head's
    own nests are functions called once."""
    text = _lowered(tmp_path, 3, threads)
    calls = re.findall(r"llvm\.call @(wafer_kernel\d+)\(", text)
    shared = [name for name in calls if calls.count(name) > 1]
    assert shared, "no kernel was shared"
    assert all(calls.count(name) % 3 == 0 for name in shared)
    assert len(set(calls)) > len(set(shared))


def test_more_layers_add_calls_not_kernels(tmp_path):
    """The first and the last layer may differ from the ones between (wafer-fuse-rows
    takes the input's reshape into the first layer's row group): from three layers on,
    a layer more is a call more."""
    functions = [len(re.findall(r"llvm\.func @wafer_kernel\d+\(", _lowered(tmp_path / str(depth), depth, 1)))
                 for depth in (3, 6)]
    assert functions[0] == functions[1] > 0


def _function(text: str, name: str) -> str:
    """The lowered `llvm.func @name`: its signature line and body."""
    start = text.index(f"llvm.func @{name}(")
    return text[start:text.index("\n  }\n", start)]


@pytest.mark.parametrize("threads", [1, 2])
def test_the_model_function_is_glue_that_skips_the_optimizer(tmp_path, threads):
    """Every loop nest, shared or not, left @forward: it branches nowhere and
    computes nothing, only allocates, makes views and calls, and LLVM compiles
    it without -O2."""
    forward = _function(_lowered(tmp_path, 2, threads), "forward")
    assert re.search(r"attributes \{[^=]*\bno_inline, optimize_none\b", forward.splitlines()[0])
    assert "llvm.br" not in forward and "llvm.cond_br" not in forward
    assert "llvm.fadd" not in forward and "llvm.intr.fmuladd" not in forward


def test_a_mask_hoisted_out_of_a_reduction_crosses_into_its_kernel_as_bytes(tmp_path):
    """The in-range mask of a histogram's elements is loop-invariant in the loop
    over bins, so it is computed before the loop's kernel and passed to it, a
    vector<9x1xi1>: LLVM's x86 back end aborted the process on that argument
    ("Cannot emit physreg copy instruction"). It crosses the call as i8."""
    bins = torch.arange(5)
    model = Lambda(lambda v: ((((v + 1) * 2.5).to(torch.int64)[:, None] == bins)
                              & ((v >= -1) & (v <= 1))[:, None]).float().sum(0))
    compile_checked(model, (torch.tensor([-2.0, -1.0, -0.6, 0.0, 0.2, 0.3999, 0.4, 1.0, 1.5]),), threads=1,
                    dump_ir=str(tmp_path))
    lowered = (tmp_path / "07-lower.mlir").read_text()
    assert re.search(r"llvm\.call @wafer_kernel\d+\([^\n]*!llvm\.array<9 x vector<1xi8>>", lowered)


class DenseBlock(torch.nn.Module):
    """DenseNet's block: each layer reads every earlier layer's channels, and adds `growth` of its own."""

    def __init__(self, layers: int, channels: int, growth: int):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Sequential(
            torch.nn.BatchNorm2d(channels + i * growth), torch.nn.ReLU(),
            torch.nn.Conv2d(channels + i * growth, 4 * growth, 1, bias=False),
            torch.nn.BatchNorm2d(4 * growth), torch.nn.ReLU(),
            torch.nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)) for i in range(layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def test_layers_writing_at_other_places_of_one_buffer_share_a_kernel(tmp_path):
    """Each 3x3 convolution of a dense block writes its channels at another
    offset of the concatenated features; passed at run time, the offset no
    longer tells the layers' kernels apart. Every layer calls two kernels that
    do not depend on how many channels it reads: the one that zero-fills the padded
    bottleneck for the 3x3 convolution (shared before), and that convolution,
    each call writing its own channels (compile_checked compares with PyTorch)."""
    layers = 4
    torch.manual_seed(0)
    block = DenseBlock(layers, 16, 8).eval()
    compile_checked(block, (torch.randn(1, 16, 12, 12),), threads=1, dump_ir=str(tmp_path))
    calls = re.findall(r"llvm\.call @(wafer_kernel\d+)\(", (tmp_path / "07-lower.mlir").read_text())
    assert sum(calls.count(name) == layers for name in set(calls)) == 2
