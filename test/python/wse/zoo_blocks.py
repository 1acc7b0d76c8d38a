"""Scaled-down zoo architectures for the WSE tests: the op kinds of MobileNet-v2,
ResNet-18, SqueezeNet, GPT-2, BERT, Swin and AlexNet at toy sizes."""

import torch
from torch import nn


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


class TinyBert(nn.Module):
    """BERT's op kinds at toy size: word, position and token-type embeddings
    summed and layer-normed, post-norm bidirectional self-attention under an
    additive padding mask (the last two tokens hidden), erf GELU in the MLP."""

    def __init__(self, vocab: int = 40, width: int = 16, heads: int = 2):
        super().__init__()
        self.words, self.positions = nn.Embedding(vocab, width), nn.Embedding(32, width)
        self.types = nn.Embedding(2, width)
        self.norm0, self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj, self.heads = nn.Linear(width, 3 * width), nn.Linear(width, width), heads
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, ids):
        batch, length = ids.shape
        positions = torch.arange(length).expand(batch, length)
        x = self.norm0(self.words(ids) + self.positions(positions) + self.types(torch.zeros_like(ids)))
        keep = torch.arange(length) < length - 2
        mask = torch.where(keep, 0.0, -1e4).reshape(1, 1, 1, length)
        q, k, v = (t.reshape(batch, length, self.heads, -1).transpose(1, 2) for t in self.qkv(x).split(x.shape[2], 2))
        attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = self.norm1(x + self.proj(attended.transpose(1, 2).reshape(batch, length, -1)))
        return self.norm2(x + self.down(nn.functional.gelu(self.up(x))))


class TinySqueezeNet(nn.Module):
    """SqueezeNet 1.1's op kinds: biased convolutions (their sums start from the
    bias), fire modules whose two expands are concatenated, ceil-mode max pools,
    and the classifier's 1x1 convolution, ReLU and adaptive average pool."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True))
        self.squeeze = nn.Sequential(nn.Conv2d(16, 8, 1), nn.ReLU())
        self.expand1x1 = nn.Sequential(nn.Conv2d(8, 16, 1), nn.ReLU())
        self.expand3x3 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.classifier = nn.Sequential(nn.Conv2d(32, 10, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        x = self.squeeze(self.stem(x))
        return self.classifier(torch.cat([self.expand1x1(x), self.expand3x3(x)], 1)).flatten(1)


class TinyDenseNet(nn.Module):
    """DenseNet's op kinds: dense blocks whose layers (batch norm, ReLU, a 1x1
    then a 3x3 convolution) each read the concatenation of every earlier
    layer's output, a transition's 1x1 convolution and average pool, and the
    classifier."""

    def __init__(self, growth: int = 4, layers: tuple[int, int] = (4, 3)):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, padding=1, bias=False)
        channels, self.blocks, self.transitions = 8, nn.ModuleList(), nn.ModuleList()
        for count in layers:
            block = nn.ModuleList()
            for _ in range(count):
                block.append(nn.Sequential(
                    nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, 2 * growth, 1, bias=False),
                    nn.BatchNorm2d(2 * growth), nn.ReLU(), nn.Conv2d(2 * growth, growth, 3, padding=1, bias=False)))
                channels += growth
            self.blocks.append(block)
            self.transitions.append(nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(),
                                                  nn.Conv2d(channels, channels // 2, 1, bias=False),
                                                  nn.AvgPool2d(2)))
            channels //= 2
        self.classifier = nn.Linear(channels, 10)

    def forward(self, x):
        x = self.stem(x)
        for block, transition in zip(self.blocks, self.transitions):
            features = [x]
            for layer in block:
                features.append(layer(torch.cat(features, 1)))
            x = transition(torch.cat(features, 1))
        return self.classifier(x.mean((2, 3)))


class TinyAlexNet(nn.Module):
    """AlexNet's and VGG's op kinds: convolutions, max pooling, then a flatten
    into linear layers at batch 1 (matrix-vector products whose k fusion
    writes as the channels, rows and columns of the flattened planes)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class TinySwin(nn.Module):
    """Swin's shifted-window attention at toy size: the channels-last plane rolled
    by half a window (torch-mlir's roll: slices cast to a dynamic size, then
    concatenated), cut into windows, self-attention within each, put back and
    rolled back, a residual and a layer norm."""

    def __init__(self, width: int = 8, window: int = 4, heads: int = 2):
        super().__init__()
        self.window, self.heads = window, heads
        self.qkv, self.proj, self.norm = nn.Linear(width, 3 * width), nn.Linear(width, width), nn.LayerNorm(width)

    def forward(self, x):
        batch, height, width, channels = x.shape
        w, shift = self.window, self.window // 2
        shifted = torch.roll(x, (-shift, -shift), (1, 2))
        windows = shifted.reshape(batch, height // w, w, width // w, w, channels).transpose(2, 3)
        windows = windows.reshape(-1, w * w, channels)
        q, k, v = (t.reshape(t.shape[0], w * w, self.heads, -1).transpose(1, 2)
                   for t in self.qkv(windows).split(channels, 2))
        attended = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(-1, w * w, channels)
        planes = self.proj(attended).reshape(batch, height // w, width // w, w, w, channels).transpose(2, 3)
        rolled_back = torch.roll(planes.reshape(batch, height, width, channels), (shift, shift), (1, 2))
        return self.norm(x + rolled_back)


BUILDERS = {"mobilenet": (TinyMobileNet, (1, 3, 16, 16)), "resnet": (TinyResNet, (1, 4, 8, 8)),
            "squeezenet": (TinySqueezeNet, (1, 3, 17, 17)),
            "densenet": (TinyDenseNet, (1, 3, 16, 16)),
            "mlp": (GeluMlp, (1, 8, 16)), "gpt": (TinyGpt, (1, 8)), "bert": (TinyBert, (1, 8)),
            "swin": (TinySwin, (1, 8, 8, 8)), "alexnet": (TinyAlexNet, (1, 3, 8, 8))}


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    """The model `name` in eval mode with seeded weights and batch-norm statistics
    that are not the identity (so batch norm shows), and an input for it."""
    build_model, shape = BUILDERS[name]
    torch.manual_seed(0)
    model = build_model().eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    x = torch.randint(0, 40, shape) if name in ("gpt", "bert") else torch.randn(shape)
    return model, x
