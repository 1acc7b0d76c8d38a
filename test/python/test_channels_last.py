"""wafer-channels-last, wafer-depthwise-nhwc and the NHWC global pool against
PyTorch: MobileNet- and EfficientNet-style blocks run channels-last with their
transposes cancelled, depthwise strides, paddings, dilations and filter sizes
read through, ragged channel counts, batches and threads; what stays NCHW.
Strategies are checked for a named machine, so they hold on any host."""

import pytest
import torch
from torch_reference import compile_checked


def strategies(compiled) -> list[str]:
    return compiled.compile_report.strategies


def stage_ops(compiled, stage: str, name: str) -> int:
    (report,) = [s for s in compiled.compile_report.stages if s.name == stage]
    return report.ops_after[name]


def inverted_residual(channels: int, expanded: int, out: int, kernel: int, stride: int,
                      dilation: int = 1) -> torch.nn.Module:
    """MobileNet-v2's block: expand 1x1, depthwise, project 1x1, batch norms folded."""
    padding = dilation * (kernel // 2)
    layers = torch.nn.Sequential(
        torch.nn.Conv2d(channels, expanded, 1, bias=False), torch.nn.BatchNorm2d(expanded), torch.nn.ReLU6(),
        torch.nn.Conv2d(expanded, expanded, kernel, stride, padding, dilation, groups=expanded, bias=False),
        torch.nn.BatchNorm2d(expanded), torch.nn.ReLU6(),
        torch.nn.Conv2d(expanded, out, 1, bias=False), torch.nn.BatchNorm2d(out))
    for norm in layers[1::3]:
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    return layers.eval()


class Residual(torch.nn.Module):
    def __init__(self, body: torch.nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


@pytest.mark.parametrize("batch,channels,expanded,size,kernel,stride,dilation,machine,threads", [
    (1, 16, 96, 14, 3, 1, 1, "avx512", 1),   # MobileNet's 14x14 block: 7 pixels x 2 vectors
    (2, 24, 144, 15, 3, 2, 1, "avx2", 2),    # odd size, stride 2, batch 2, threads
    (1, 8, 40, 9, 5, 1, 1, "avx512", 1),     # 5x5, 40 channels: no whole vector pair
    (1, 8, 24, 12, 3, 1, 2, "sse", 1),       # dilation 2 on SSE's 4 lanes
    (1, 16, 64, 7, 3, 2, 1, "avx2", 1),      # 7x7 stride 2: the last row's taps fall in the padding
])
def test_inverted_residual_runs_channels_last(batch, channels, expanded, size, kernel, stride, dilation, machine,
                                              threads):
    torch.manual_seed(0)
    block = inverted_residual(channels, expanded, channels, kernel, stride, dilation)
    model = Residual(block) if stride == 1 else block
    x = torch.randn(batch, channels, size, size + 1)  # W = H + 1: rows and columns differ
    compiled = compile_checked(model, (x,), threads=threads, machine=machine)
    assert strategies(compiled).count("channels-last 1x1 conv") == 2
    assert any(s.startswith(f"depthwise nhwc {kernel}x{kernel}/{stride}") for s in strategies(compiled))
    # One transpose in, one out: the ones around each convolution cancelled.
    assert stage_ops(compiled, "pack", "linalg.transpose") == 2


def test_chained_blocks_keep_channels_last_between_them():
    """Two blocks one after the other (residual adds included) still transpose once in and once out."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(Residual(inverted_residual(16, 64, 16, 3, 1)),
                                Residual(inverted_residual(16, 64, 16, 3, 1))).eval()
    x = torch.randn(1, 16, 10, 10)
    compiled = compile_checked(model, (x,), threads=1, machine="avx512")
    assert strategies(compiled).count("channels-last depthwise conv") == 2
    assert stage_ops(compiled, "pack", "linalg.transpose") == 2


class SqueezeExcite(torch.nn.Module):
    """EfficientNet's block: depthwise, SiLU, squeeze-excite (a global average pool), project."""

    def __init__(self, channels: int):
        super().__init__()
        self.depthwise = torch.nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)
        self.squeeze = torch.nn.Conv2d(channels, 4, 1)
        self.excite = torch.nn.Conv2d(4, channels, 1)
        self.project = torch.nn.Conv2d(channels, 8, 1)

    def forward(self, x):
        x = torch.nn.functional.silu(self.depthwise(x))
        scale = torch.sigmoid(self.excite(torch.nn.functional.silu(self.squeeze(x.mean((2, 3), keepdim=True)))))
        return self.project(x * scale)


def test_squeeze_excite_pools_the_channels_last_image():
    torch.manual_seed(0)
    model = SqueezeExcite(48).eval()
    x = torch.randn(2, 48, 12, 12)
    compiled = compile_checked(model, (x,), threads=1, machine="avx512")
    assert "channels-last 1x1 conv" in strategies(compiled)
    # Only the input's transpose and the output's remain: the pool sums NHWC pixels.
    assert stage_ops(compiled, "pack", "linalg.transpose") == 2


@pytest.mark.parametrize("model", [
    torch.nn.Conv2d(8, 8, 3, padding=1, groups=8),               # a lone depthwise conv
    torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, padding=1)),
])
def test_convolutions_without_a_depthwise_chain_stay_nchw(model):
    """A lone depthwise convolution, or 1x1 convolutions with no depthwise one to
    chain to, would pay transposes in and out for nothing."""
    torch.manual_seed(0)
    x = torch.randn(1, 8, 9, 9)
    compiled = compile_checked(model.eval(), (x,), threads=1, machine="avx512")
    assert not any(s.startswith("channels-last") for s in strategies(compiled))


def test_channels_last_off_keeps_nchw():
    torch.manual_seed(0)
    model = inverted_residual(8, 32, 8, 3, 1)
    x = torch.randn(1, 8, 10, 10)
    compiled = compile_checked(model, (x,), threads=1, machine="avx512", channels_last=False)
    assert not any(s.startswith("channels-last") for s in strategies(compiled))
    assert any(s.startswith("depthwise conv 3x3/1") for s in strategies(compiled))


class PooledHead(torch.nn.Module):
    """A classifier's head: 1x1 convolution, ReLU, global average pool (SqueezeNet's),
    the block's input added first where `residual` (a ResNet's last block)."""

    def __init__(self, channels: int, classes: int, residual: bool = False):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, classes, 1)
        self.residual = residual

    def forward(self, x, y):
        h = self.conv(x)
        if self.residual:
            h = h + y
        return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(torch.relu(h), 1), 1)


@pytest.mark.parametrize("batch,channels,classes,size,residual,machine,threads", [
    (1, 16, 40, 13, False, "avx512", 1),  # 40 classes: no whole number of register blocks
    (2, 24, 48, 7, True, "avx2", 2),      # the residual is transposed in too
])
def test_pooled_head_runs_channels_last(batch, channels, classes, size, residual, machine, threads):
    """The pool reads the NHWC result: only the inputs are transposed (the
    transpose the pool reads at the pack stage is gone after wafer-plane-sums)."""
    torch.manual_seed(0)
    x, y = torch.randn(batch, channels, size, size), torch.randn(batch, classes, size, size)
    compiled = compile_checked(PooledHead(channels, classes, residual).eval(), (x, y), threads=threads,
                               machine=machine)
    assert "channels-last 1x1 conv" in strategies(compiled)
    assert stage_ops(compiled, "pack", "linalg.transpose") == (3 if residual else 2)
    assert sum(s.startswith("transpose in") for s in strategies(compiled)) == (2 if residual else 1)


class TwoUses(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 16, 1)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return h.mean((2, 3)), h


@pytest.mark.parametrize("model,size", [
    (PooledHead(8, 160), 36),  # a 36x36 result of 160 channels outgrows avx2's 512 KB L2: streamed, it ran slower
    (TwoUses(), 9),            # the NCHW result is wanted as it is
])
def test_heads_that_are_not_only_pooled_or_outgrow_the_l2_stay_nchw(model, size):
    torch.manual_seed(0)
    x = torch.randn(1, 8, size, size)
    inputs = (x, torch.randn(1, 160, size, size)) if isinstance(model, PooledHead) else (x,)
    compiled = compile_checked(model.eval(), inputs, threads=1, machine="avx2")
    assert not any(s.startswith("channels-last") for s in strategies(compiled))
