"""Softmax and normalization layers alone: Wafer against eager and ONNX Runtime.

    python bench/norms.py [--batches 1,8] [--threads 1,2] [--budget 1]

Each row is one layer in the shapes of the models it names: attention
softmax over 128 keys (BERT), 197 (ViT), 49 in 7x7 windows (Swin), 1024
and 2048 (long contexts); log-softmax over 1000 classes; layer norms over
768 features (ViT's tokens) and 96 channels-last (ConvNeXt), a 4096-wide
RMS norm (LLaMA), group norms (diffusion U-Nets). Columns: the layer,
batch, threads, median ms of eager, ONNX Runtime and Wafer timed
interleaved, and Wafer/ORT (below 1: Wafer is faster).
"""

from __future__ import annotations

from common import (  # first: it sets GOMP_SPINCOUNT before torch loads
    eager_ort_wafer_ms, grid_parser, print_grid, timing_columns)
import torch

import wafer


class Softmax(torch.nn.Module):
    def __init__(self, log: bool = False):
        super().__init__()
        self.log = log

    def forward(self, x):
        return torch.log_softmax(x, -1) if self.log else torch.softmax(x, -1)


class RmsNorm(torch.nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(features))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


# (name, one sample's shape, the layer)
LAYERS = [
    ("softmax 12x128x128 (BERT)", (12, 128, 128), Softmax),
    ("softmax 12x197x197 (ViT)", (12, 197, 197), Softmax),
    ("softmax 64x3x49x49 (Swin)", (64, 3, 49, 49), Softmax),
    ("softmax 8x128x1024", (8, 128, 1024), Softmax),
    ("softmax 8x128x2048", (8, 128, 2048), Softmax),
    ("log-softmax 1000 classes", (1000,), lambda: Softmax(log=True)),
    ("layer norm 197x768 (ViT)", (197, 768), lambda: torch.nn.LayerNorm(768)),
    ("layer norm 56x56x96 (ConvNeXt)", (56, 56, 96), lambda: torch.nn.LayerNorm(96)),
    ("RMS norm 128x4096 (LLaMA)", (128, 4096), lambda: RmsNorm(4096)),
    ("group norm 32 of 320@32 (U-Net)", (320, 32, 32), lambda: torch.nn.GroupNorm(32, 320)),
    ("group norm 8 of 64@28", (64, 28, 28), lambda: torch.nn.GroupNorm(8, 64)),
]


def row(name: str, shape: tuple[int, ...], layer, batch: int, threads: int, budget: float) -> str:
    torch.set_num_threads(threads)
    model = layer().eval()
    x = torch.randn(batch, *shape)
    compiled = wafer.compile(model, (x,), threads=threads)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)
    ms = eager_ort_wafer_ms(model, x, compiled, threads, budget)
    return f"{name:32} {batch:5} {threads:7} {timing_columns(ms)}"


def table(layers: list, doc: str) -> None:
    """The command line of a script of one-layer rows (`doc` its help), and its table."""
    args = grid_parser(doc, batches="1,8").parse_args()
    print(f"{'layer':32} {'batch':>5} {'threads':>7} {'eager':>9} {'ORT':>9} {'wafer':>9} {'wafer/ORT':>9}")
    print_grid(args, layers, lambda layer, *grid: row(*layer, *grid))


def main() -> None:
    table(LAYERS, __doc__)


if __name__ == "__main__":
    main()
