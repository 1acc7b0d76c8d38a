"""The bundled example models, used by `wafer run`, the tests and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


class MLP(nn.Module):
    """784-512-512-10, as for MNIST."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )

    def forward(self, x):
        return self.layers(x)


class LeNet(nn.Module):
    """LeNet-5 style: conv, relu, maxpool, twice, then three linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc3(torch.relu(self.fc2(x)))


class ResNetBasicBlock(nn.Module):
    """conv3x3-bn-relu-conv3x3-bn, plus the identity, then relu (ResNet-18/34)."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


@dataclass(frozen=True)
class Example:
    name: str
    description: str
    make_model: Callable[[], nn.Module]
    input_shape: Callable[[int], tuple[int, ...]]

    def build(self, batch: int = 1, seed: int = 0) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
        """The model in eval mode, with non-trivial batchnorm statistics, and one input."""
        torch.manual_seed(seed)
        model = self.make_model().eval()
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.data.uniform_(0.5, 1.5)
                module.bias.data.uniform_(-0.5, 0.5)
        return model, (torch.randn(*self.input_shape(batch)),)


EXAMPLES = {
    example.name: example
    for example in (
        Example("lenet", "LeNet-style CNN on 1x28x28", LeNet, lambda b: (b, 1, 28, 28)),
        Example("mlp", "MLP 784-512-512-10", MLP, lambda b: (b, 784)),
        Example("resnet-block", "ResNet basic block, 64 channels, 56x56", ResNetBasicBlock,
                lambda b: (b, 64, 56, 56)),
        Example(
            "transformer",
            "nn.TransformerEncoderLayer(d_model=256, nhead=4), sequence 128",
            lambda: nn.TransformerEncoderLayer(256, 4, batch_first=True),
            lambda b: (b, 128, 256),
        ),
    )
}


def matmul_mlir(m: int, k: int, n: int, element: str = "f32") -> str:
    """A linalg-on-tensors `@gemm` of an m x k by a k x n matrix of `element`s:
    the workload of the GEMM benchmarks and tests, as `compile_mlir` takes it."""
    a, b, c = f"tensor<{m}x{k}x{element}>", f"tensor<{k}x{n}x{element}>", f"tensor<{m}x{n}x{element}>"
    return f"""
func.func @gemm(%a: {a}, %b: {b}) -> {c} {{
  %zero = arith.constant 0.0 : {element}
  %empty = tensor.empty() : {c}
  %init = linalg.fill ins(%zero : {element}) outs(%empty : {c}) -> {c}
  %c = linalg.matmul ins(%a, %b : {a}, {b}) outs(%init : {c}) -> {c}
  return %c : {c}
}}
"""
