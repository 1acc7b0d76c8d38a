"""1-D convolution nets (audio, time series, text): Wafer against eager and ONNX Runtime.

    python bench/conv1d.py [--models m5,samplecnn,tcn,separable,textcnn] [--batches 1,8] [--threads 1,2] [--budget 1]

None of Wafer's strategies was written for these nets; they are the shapes of
published 1-D architectures, with random weights:
- m5: Dai et al., "Very deep CNNs for raw waveforms" (M5): a stride-4 80-tap
  stem over 8000 samples, then 3-tap convolutions, batch norm, ReLU and
  4x max pools, a mean over time and a linear classifier;
- samplecnn: Lee et al.'s sample-level CNN for music tagging: a 3-tap
  stride-3 stem from one channel to 128 filters (3 products per output, too
  shallow for im2col) over 3^9 samples, then 3-tap convolutions, batch norm,
  ReLU and 3x max pools;
- tcn: Bai et al.'s temporal convolutional network: causal 3-tap convolutions
  dilated 1, 2, 4 and 8, ReLU and residual adds over 1000 steps;
- separable: a MatchboxNet/QuartzNet-style speech encoder over 400 frames of
  64 features: depthwise 13-tap and pointwise convolutions, batch norm, ReLU;
- textcnn: Kim's CNN for sentence classification: embeddings, 3/4/5-tap
  convolutions, a max over time and a linear layer.
Columns: the net, batch, threads, median ms of eager, ONNX Runtime and Wafer
timed interleaved, Wafer/ORT (below 1: Wafer is faster) and the largest
difference from eager.
"""

from __future__ import annotations

from common import eager_ort_wafer_ms, grid_parser, max_error, print_grid, timing_columns  # first: sets GOMP_SPINCOUNT
import torch
from torch import nn

import wafer


def conv_bn_relu(cin: int, cout: int, taps: int, **kwargs) -> list[nn.Module]:
    return [nn.Conv1d(cin, cout, taps, **kwargs), nn.BatchNorm1d(cout), nn.ReLU()]


class MeanOverTime(nn.Module):
    def forward(self, x):
        return x.mean(-1)


def m5() -> nn.Module:
    return nn.Sequential(*conv_bn_relu(1, 128, 80, stride=4), nn.MaxPool1d(4),
                         *conv_bn_relu(128, 128, 3), nn.MaxPool1d(4),
                         *conv_bn_relu(128, 256, 3), nn.MaxPool1d(4),
                         *conv_bn_relu(256, 512, 3), nn.MaxPool1d(4),
                         MeanOverTime(), nn.Linear(512, 35))


def samplecnn() -> nn.Module:
    blocks = [layer for _ in range(4) for layer in (*conv_bn_relu(128, 128, 3, padding=1), nn.MaxPool1d(3))]
    return nn.Sequential(*conv_bn_relu(1, 128, 3, stride=3), *blocks, MeanOverTime(), nn.Linear(128, 50))


class CausalBlock(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.pad = 2 * dilation
        self.first = nn.Conv1d(channels, channels, 3, dilation=dilation)
        self.second = nn.Conv1d(channels, channels, 3, dilation=dilation)

    def forward(self, x):
        y = torch.relu(self.first(nn.functional.pad(x, (self.pad, 0))))
        y = torch.relu(self.second(nn.functional.pad(y, (self.pad, 0))))
        return torch.relu(x + y)


def tcn() -> nn.Module:
    return nn.Sequential(nn.Conv1d(16, 64, 1), *[CausalBlock(64, d) for d in (1, 2, 4, 8)], nn.Conv1d(64, 8, 1))


def separable() -> nn.Module:
    blocks = [layer for _ in range(3) for layer in
              (nn.Conv1d(128, 128, 13, padding=6, groups=128), *conv_bn_relu(128, 128, 1))]
    return nn.Sequential(*conv_bn_relu(64, 128, 11, stride=2, padding=5), *blocks, nn.Conv1d(128, 29, 1))


class TextCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5000, 128)
        self.convs = nn.ModuleList(nn.Conv1d(128, 100, taps) for taps in (3, 4, 5))
        self.out = nn.Linear(300, 2)

    def forward(self, tokens):
        x = self.embed(tokens).transpose(1, 2)
        return self.out(torch.cat([torch.relu(conv(x)).amax(-1) for conv in self.convs], 1))


MODELS = {
    "m5": (m5, lambda batch: torch.randn(batch, 1, 8000)),
    "samplecnn": (samplecnn, lambda batch: torch.randn(batch, 1, 3 ** 9)),
    "tcn": (tcn, lambda batch: torch.randn(batch, 16, 1000)),
    "separable": (separable, lambda batch: torch.randn(batch, 64, 400)),
    "textcnn": (TextCnn, lambda batch: torch.randint(0, 5000, (batch, 64))),
}


def row(name: str, batch: int, threads: int, budget: float) -> str:
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    make, inputs = MODELS[name]
    model, x = make().eval(), inputs(batch)
    compiled = wafer.compile(model, (x,), threads=threads)
    error = max_error(compiled, model, (x,))
    ms = eager_ort_wafer_ms(model, x, compiled, threads, budget)
    return f"{name:10} {batch:5} {threads:7} {timing_columns(ms)} {error:9.1e}"


def main() -> None:
    parser = grid_parser(__doc__, batches="1,8")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    print(f"{'net':10} {'batch':>5} {'threads':>7} {'eager':>9} {'ORT':>9} {'wafer':>9} {'wafer/ORT':>9} "
          f"{'max err':>9}")
    print_grid(args, args.models.split(","), row)


if __name__ == "__main__":
    main()
