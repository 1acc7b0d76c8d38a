"""Scaled-down zoo architectures on the small preset: the op kinds of MobileNet-v2
and ResNet-18 (depthwise and strided convolutions, batch norm, ReLU6, residual
adds, global average pooling, a classifier) match PyTorch in both modes, and
each op lands in the region kind that suits it."""

import functools

import pytest
import torch
from torch import nn

import wafer
from wafer.passes.linalg_queries import REDUCTION, iterator_types
from wafer.wse_target.machine import SMALL

from wse_checks import compile_and_check, ops_in, regions

MODES = ("pipelined", "whole-wafer")


class InvertedResidual(nn.Module):
    """MobileNet-v2's block: 1x1 expand, depthwise 3x3, 1x1 project, residual at stride 1."""

    def __init__(self, channels: int, expand: int, stride: int):
        super().__init__()
        hidden = channels * expand
        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.residual = stride == 1

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class TinyMobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.blocks = nn.Sequential(InvertedResidual(8, 4, 1), InvertedResidual(8, 4, 2))
        self.classifier = nn.Linear(8, 10)

    def forward(self, x):
        return self.classifier(self.blocks(self.stem(x)).mean((2, 3)))


class TinyResNet(nn.Module):
    """A basic block with a projected shortcut, then ResNet's pooled classifier:
    batch norm, the residual add, ReLU and the whole-plane average fuse into one sum."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(4, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8)
        self.shortcut = nn.Conv2d(4, 8, 1, bias=False)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))
        return self.fc(torch.flatten(self.pool(y), 1))


class GeluMlp(nn.Module):
    """GPT-2's feed-forward block: up-projection, tanh GELU, down-projection, residual."""

    def __init__(self):
        super().__init__()
        self.up, self.down = nn.Linear(16, 64), nn.Linear(64, 16)

    def forward(self, x):
        return x + self.down(nn.functional.gelu(self.up(x), approximate="tanh"))


class TinyGpt(nn.Module):
    """GPT-2's op kinds at toy size: token and position embeddings (positions by a
    cumsum, as Hugging Face computes them), pre-norm causal self-attention,
    the GELU MLP, residuals, a final layer norm."""

    def __init__(self, vocab: int = 40, width: int = 16, heads: int = 2):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, width), nn.Embedding(32, width)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj, self.heads = nn.Linear(width, 3 * width), nn.Linear(width, width), heads
        self.mlp = GeluMlp()

    def forward(self, ids):
        positions = torch.cumsum(torch.ones_like(ids), 1) - 1
        x = self.tokens(ids) + self.positions(positions)
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, 2)
        q, k, v = (t.reshape(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
        return self.norm3(self.mlp(self.norm2(x)))


BUILDERS = {"mobilenet": (TinyMobileNet, (1, 3, 16, 16)), "resnet": (TinyResNet, (1, 4, 8, 8)),
            "mlp": (GeluMlp, (1, 8, 16)), "gpt": (TinyGpt, (1, 8))}


@functools.cache
def compiled(name: str, mode: str):
    build, shape = BUILDERS[name]
    torch.manual_seed(0)
    model = build().eval()
    for module in model.modules():  # statistics that are not the identity, so batch norm shows
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    x = torch.randint(0, 40, shape) if name == "gpt" else torch.randn(shape)
    return model, x, wafer.compile(model, (x,), target="wse", machine="small", mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_scaled_down_zoo_model_matches_pytorch(name, mode):
    model, x, program = compiled(name, mode)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(torch.as_tensor(program(x)), expected, rtol=1e-4, atol=1e-5)
    assert 0 < program.report.sram_high_water_max <= SMALL.sram_bytes


@pytest.mark.parametrize("mode", MODES)
def test_only_dense_products_step_across_the_fabric(mode):
    """Dense convolutions and the classifier are SUMMA regions. A depthwise
    convolution has no output column of its filter's own to spread: it reduces
    its 3x3 windows on each PE, in a rowwise region."""
    model, _, program = compiled("mobilenet", mode)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    dense = sum(conv.groups == 1 for conv in convs) + 1  # and the classifier
    assert len(regions(program, "summa")) == dense
    windows = [region for region in regions(program, "rowwise")
               if any(op.name == "linalg.generic" and len(iterator_types(op)) == 5 for op in ops_in(region))]
    assert len(windows) == sum(conv.groups > 1 for conv in convs)


def test_a_residual_summed_over_the_plane_is_a_reduction_not_a_product():
    """bn2 + shortcut, ReLU and the global average fuse into one sum over the
    plane that reads two tensors along its reduced loops; it is not a matmul."""
    _, _, program = compiled("resnet", "whole-wafer")
    assert len(regions(program, "summa")) == 4  # conv1, conv2, shortcut, fc


@pytest.mark.parametrize("mode", MODES)
def test_an_activation_between_matmuls_runs_once_per_element(mode):
    """Fused into the down-projection's operand, GELU's tanh would run once per
    multiply-add; it runs in the up-projection's epilogue, or on its own."""
    _, _, program = compiled("mlp", mode)
    summas = regions(program, "summa")
    assert len(summas) == 2
    for region in summas:
        products = [op for op in ops_in(region) if op.name == "linalg.generic" and REDUCTION in iterator_types(op)]
        assert products and not any(inner.name == "math.tanh" for op in products for inner in ops_in(op))


def test_the_decoder_block_runs_its_lookups_on_the_host_and_the_rest_on_the_wafer():
    _, _, program = compiled("gpt", "whole-wafer")
    kinds = [op.kind for op in program.report.ops]
    # The positions' cumsum and the embedding lookups (fusion copies a lookup into each consumer).
    assert kinds.count("host") >= 3
    assert kinds.count("summa") >= 6  # q·k, p·v, and the qkv, out, up and down projections


def test_an_elementwise_op_writes_over_the_buffer_its_input_came_in():
    """Placement counts an elementwise result written over its input's buffer;
    the distribution must then lay it out so, or the PEs overflow after
    placement said they would not."""
    x = torch.randn(64, 64)
    program = compile_and_check(lambda t: t * 2 + 1, x, mode="whole-wafer")
    (op,) = program.report.ops
    _, _, width, height = op.region
    assert program.report.sram_high_water_max * width * height == x.numel() * 4
