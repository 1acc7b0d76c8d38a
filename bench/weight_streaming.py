"""Layers whose weights come from memory: Wafer with and without wafer-prefetch-next-tile, and ONNX Runtime.

    python bench/weight_streaming.py [--models resnet50,vgg11] [--batches 1] [--threads 1]
                                     [--machine host] [--budget 0.5]

In a model whose weights outgrow the last-level cache, each layer's weights
come from memory on every call. Each distinct convolution and linear layer
of the models with at least 256 KB of weights is compiled alone, with the
pass (`new`) and without it (`old`, `prefetch-tiles=false`), and timed
interleaved with ONNX Runtime twice: `cold`, each call after reading a
buffer twice the last-level cache (so the weights are in memory, as in the
model), and `warm`, calls back to back. Columns:

    layer           the layer's shape
    weights         its weights, MB
    ort/old/new     median ms per call
    new/old         below 1: the prefetches make it faster
    new/ort         below 1: Wafer is faster than ONNX Runtime
"""

from __future__ import annotations

from common import distinct_layers, interleave, layer_bench_options, onnx_session  # first: it sets GOMP_SPINCOUNT
import numpy as np
import torch

import wafer
from wafer.passes.cpu_target import resolve
from wafer.passes.prefetch_panels import STREAMED_BYTES


def describe(module: torch.nn.Module, x: torch.Tensor):
    """A key for a conv or linear layer whose weights are streamed, else None."""
    if not isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) or module.weight.numel() * 4 < STREAMED_BYTES:
        return None
    if isinstance(module, torch.nn.Linear):
        return f"linear {module.in_features}->{module.out_features}"
    return (f"conv {module.in_channels}->{module.out_channels} {module.kernel_size[0]}x{module.kernel_size[1]}"
            f" s{module.stride[0]} g{module.groups} at {x.shape[-2]}x{x.shape[-1]}")


def main() -> None:
    args, options = layer_bench_options(__doc__, "resnet50,vgg11")
    evicting = np.ones(2 * resolve(args.machine).l3_bytes // 4, np.float32)
    batches = [int(b) for b in args.batches.split(",")]
    print(f"{'layer':44} {'batch':>5} {'weights':>7}  {'':5} {'ort':>8} {'old':>8} {'new':>8} {'new/old':>8} "
          f"{'new/ort':>8}")
    for _, batch, key, layer, x in distinct_layers(args.models.split(","), batches, describe):
        old = wafer.compile(layer, (x,), threads=args.threads, prefetch_tiles=False, **options)
        new = wafer.compile(layer, (x,), threads=args.threads, **options)
        array = x.numpy()
        with torch.no_grad():
            expected = layer(x).numpy()
        np.testing.assert_allclose(new(array), expected, rtol=1e-3, atol=1e-3)
        ort = onnx_session(layer, (x,), args.threads)
        backends = {"ort": ort, "old": lambda: old(array), "new": lambda: new(array)}
        weights = sum(p.numel() for p in layer.parameters()) * 4 / 2**20
        for state, evict in (("cold", evicting.sum), ("warm", None)):
            seconds, _ = interleave(backends, args.budget, before_each=evict)
            t = {name: value * 1e3 for name, value in seconds.items()}
            print(f"{key:44} {batch:5} {weights:7.1f}  {state:5} {t['ort']:8.3f} {t['old']:8.3f} {t['new']:8.3f} "
                  f"{t['new'] / t['old']:8.3f} {t['new'] / t['ort']:8.3f}", flush=True)


if __name__ == "__main__":
    main()
