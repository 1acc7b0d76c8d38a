"""Batch-1 linear layers: wafer-matvec against wafer-pack-matmul's one-row kernel and ONNX Runtime.

    python bench/matvec.py [--layers 9216x4096,4096x1000] [--threads 1,2] [--budget 3]

Each layer (a Linear of K inputs and N outputs, then a ReLU, at batch 1) is
compiled twice, with the `matvec` pipeline option on (the default) and off,
and timed interleaved with ONNX Runtime. Each weight is used once, so every
backend runs at the speed the weights stream from cache or memory; the
defaults span weights that fit L2, L3 and neither (AlexNet's and VGG's
classifiers, ResNet's and MobileNet's, an MLP's). Columns:

    matvec, packed, ort   median ms
    GB/s                  the weights' bytes over matvec's time
    matvec/packed         below 1: the dot products beat the packed kernel
    matvec/ort            below 1: Wafer is faster than ONNX Runtime
"""

from __future__ import annotations

import argparse

from common import interleave, onnx_session  # first: it sets GOMP_SPINCOUNT before torch loads
import torch

import wafer

LAYERS = "9216x4096,4096x4096,4096x1000,1280x1000,512x1000,784x256"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default=LAYERS, help="KxN pairs: inputs x outputs")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timed calls per row")
    args = parser.parse_args()
    try:
        layers = [tuple(int(v) for v in text.split("x")) for text in args.layers.split(",")]
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        parser.error(f"--layers takes KxN pairs and --threads integers, got {args.layers!r} and {args.threads!r}")
    if any(len(layer) != 2 or min(layer) < 1 for layer in layers) or min(threads) < 1:
        parser.error("every layer needs two positive sizes KxN, and threads must be 1 or more")
    print(f"{'layer':>12} {'threads':>7} {'MB':>7} {'matvec':>8} {'packed':>8} {'ort':>8} {'GB/s':>6}"
          f" {'matvec/packed':>13} {'matvec/ort':>10}")
    for t in threads:
        torch.set_num_threads(t)
        for k, n in layers:
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Linear(k, n), torch.nn.ReLU()).eval()
            x = torch.randn(1, k)
            array = x.numpy()
            backends = {}
            for name, on in (("matvec", True), ("packed", False)):
                compiled = wafer.compile(model, (x,), threads=t, matvec=on)
                backends[name] = lambda compiled=compiled: compiled(array)
            backends["ort"] = onnx_session(model, (x,), t)
            median, _ = interleave(backends, args.budget)
            megabytes = 4 * k * n / 1e6
            print(f"{f'{k}x{n}':>12} {t:>7} {megabytes:>7.1f} {median['matvec'] * 1e3:>8.3f}"
                  f" {median['packed'] * 1e3:>8.3f} {median['ort'] * 1e3:>8.3f}"
                  f" {megabytes / 1e3 / median['matvec']:>6.1f} {median['matvec'] / median['packed']:>13.2f}"
                  f" {median['matvec'] / median['ort']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
