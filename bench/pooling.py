"""Max and average pooling layers alone: Wafer against eager and ONNX Runtime.

    python bench/pooling.py [--batches 1,8,32] [--threads 1,2] [--budget 1]

Each layer is a pool alone (its ReLU is fused into the convolution before it),
in the shapes of the models it names: LeNet's and small CNNs' 2x2 pools over rows of 28, 14
and 10, VGG's over rows of 224 to 14, ResNet's and SqueezeNet's 3x3 stride-2
windows, DenseNet's 2x2 average pool. Columns: the layer, batch, threads,
Wafer's strategy, median ms of eager, ONNX Runtime and Wafer timed
interleaved, and Wafer/ORT (below 1: Wafer is faster).
"""

from __future__ import annotations

from common import (  # first: it sets GOMP_SPINCOUNT before torch loads
    eager_ort_wafer_ms, grid_parser, print_grid, timing_columns)
import numpy as np
import torch

import wafer

# (name, channels, height = width, pool module)
LAYERS = [
    ("lenet 6@28 max 2", 6, 28, lambda: torch.nn.MaxPool2d(2)),
    ("lenet 16@10 max 2", 16, 10, lambda: torch.nn.MaxPool2d(2)),
    ("cnn 32@28 max 2", 32, 28, lambda: torch.nn.MaxPool2d(2)),
    ("cnn 64@14 max 2", 64, 14, lambda: torch.nn.MaxPool2d(2)),
    ("vgg 64@224 max 2", 64, 224, lambda: torch.nn.MaxPool2d(2)),
    ("vgg 256@56 max 2", 256, 56, lambda: torch.nn.MaxPool2d(2)),
    ("vgg 512@14 max 2", 512, 14, lambda: torch.nn.MaxPool2d(2)),
    ("resnet 64@112 max 3/2", 64, 112, lambda: torch.nn.MaxPool2d(3, 2, padding=1)),
    ("squeezenet 128@55 max 3/2", 128, 55, lambda: torch.nn.MaxPool2d(3, 2, ceil_mode=True)),
    ("alexnet 64@55 max 3/2", 64, 55, lambda: torch.nn.MaxPool2d(3, 2)),
    ("densenet 128@56 avg 2", 128, 56, lambda: torch.nn.AvgPool2d(2)),
]


def row(name: str, channels: int, size: int, pool, batch: int, threads: int, budget: float) -> str:
    torch.set_num_threads(threads)
    model = pool().eval()
    x = torch.randn(batch, channels, size, size)
    compiled = wafer.compile(model, (x,), threads=threads)
    np.testing.assert_allclose(compiled(x.numpy()), model(x).numpy(), rtol=1e-6, atol=1e-6)
    strategy = next((s for s in compiled.compile_report.strategies if "pool" in s), "-")
    ms = eager_ort_wafer_ms(model, x, compiled, threads, budget)
    return f"{name:26} {batch:5} {threads:7}  {strategy[:44]:44} {timing_columns(ms)}"


def main() -> None:
    args = grid_parser(__doc__, batches="1,8,32").parse_args()
    print(f"{'layer':26} {'batch':>5} {'threads':>7}  {'wafer strategy':44} {'eager':>9} {'ORT':>9} "
          f"{'wafer':>9} {'wafer/ORT':>9}")
    print_grid(args, LAYERS, lambda layer, *grid: row(*layer, *grid))


if __name__ == "__main__":
    main()
