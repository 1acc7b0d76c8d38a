"""The grouped convolutions of real models, each alone with its ReLU, Wafer against ONNX Runtime.

    python bench/grouped_conv.py [--models regnet_x_400mf,resnext50_32x4d] [--batches 1,8] [--threads 1]
                                 [--machine avx2] [--budget 0.5]

Every distinct grouped convolution (1 < groups < channels: RegNet's, ResNeXt's)
of the models, compiled alone and timed interleaved with ONNX Runtime. Wafer
runs a group's filters along vectors where they fill a vector or half of one,
or a quarter at a column stride (wafer-direct-conv, passes/direct_conv_filters.py),
and output rows in vectors otherwise. `--machine avx2` compiles AVX2 code (it
runs on an AVX-512 host too). Columns:

    layer       Conv2d(in, out, kernel, stride, groups) at its input's height x width
    strategy    the strategy Wafer's compile report gives the convolution
    wafer, ort  median ms
    wafer/ort   below 1: Wafer is faster
"""

from __future__ import annotations

# common first: it sets GOMP_SPINCOUNT before torch loads
from common import distinct_layers, interleave, layer_bench_options, onnx_session
import torch

import wafer


def grouped_key(module: torch.nn.Module, x: torch.Tensor) -> tuple | None:
    """A grouped (not depthwise) convolution's shape, or None for other layers."""
    if isinstance(module, torch.nn.Conv2d) and 1 < module.groups < module.in_channels:
        return (module.in_channels, module.out_channels, module.kernel_size[0], module.stride[0], module.groups,
                x.shape[-2], x.shape[-1])
    return None


def main() -> None:
    args, machine = layer_bench_options(__doc__, "regnet_x_400mf,resnext50_32x4d")
    print(f"{'model':18} {'batch':>5} {'layer':34} {'strategy':44} {'wafer ms':>9} {'ort ms':>9} {'wafer/ort':>9}")
    batches = [int(b) for b in args.batches.split(",")]
    for name, batch, key, layer, x in distinct_layers(args.models.split(","), batches, grouped_key):
        compiled = wafer.compile(layer, (x,), target="cpu", threads=args.threads, **machine)
        strategy = next(s for s in compiled.compile_report.strategies if "conv" in s)
        times, _ = interleave({"wafer": lambda c=compiled, a=x.numpy(): c(a),
                               "ort": onnx_session(layer, (x,), args.threads)}, args.budget)
        description = f"Conv2d{key[:5]} at {key[5]}x{key[6]}"
        print(f"{name:18} {batch:5} {description:34} {strategy[:44]:44} {times['wafer'] * 1e3:9.3f} "
              f"{times['ort'] * 1e3:9.3f} {times['wafer'] / times['ort']:9.2f}", flush=True)


if __name__ == "__main__":
    main()
