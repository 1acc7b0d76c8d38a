"""MobileNet-v2's inverted residual blocks with and without wafer-fuse-inverted-residual, side by side.

    python bench/inverted_residual.py [--blocks 2,3,4,5] [--batches 1,2,4,8] [--threads 1,2] [--budget 4]

Each block (torchvision's `features[i]`, random weights) is compiled unfused
(`inverted_residual=False`) and with every block fused whatever its size (the
pass with `llc-fraction=0`, at the end of the simplify stage, where it would
run first in the pack stage), checked against each other and timed
interleaved. Columns:

    block        channels in -> expanded -> out, image size / stride
    batch, threads
    images MB    what the unfused ops write and read back (expansion and
                 depthwise result): the size the pass's rule compares with L3
    rule         whether the default rule fuses the block on this machine
    off, on      median ms per call unfused and fused
    on/off       below 1: fusing is faster
"""

from __future__ import annotations

import argparse

from common import interleave  # first: it sets GOMP_SPINCOUNT before torch loads
import numpy as np
import torch

import wafer
from wafer.passes.cpu_target import host
from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # before torchvision is imported

_FORCED = "wafer-fuse-inverted-residual{llc-fraction=0}"


def block_and_input(index: int, batch: int):
    """MobileNet-v2's `features[index]` and a random input of its shape."""
    import torchvision

    torch.manual_seed(0)
    features = torchvision.models.mobilenet_v2().eval().features
    x = torch.randn(batch, 3, 224, 224)
    with torch.no_grad():
        for layer in features[:index]:
            x = layer(x)
    return features[index], (torch.randn(x.shape),)


def describe(block, x: torch.Tensor) -> tuple[str, float]:
    """The block's shape and the MB of images its unfused ops write and read back."""
    expand, depthwise, project = (m for m in block.modules() if isinstance(m, torch.nn.Conv2d))
    n, c, h, w = x.shape
    e, stride = expand.out_channels, depthwise.stride[0]
    oh, ow = (h - 1) // stride + 1, (w - 1) // stride + 1
    return f"{c}->{e}->{project.out_channels} {h}x{w}/{stride}", 4 * n * e * (h * w + oh * ow) / 2**20


def row(index: int, batch: int, threads: int, budget: float) -> str:
    torch.set_num_threads(threads)
    block, inputs = block_and_input(index, batch)
    arrays = [x.numpy() for x in inputs]
    compiled = {False: wafer.compile(block, inputs, threads=threads, inverted_residual=False),
                True: wafer.compile(block, inputs, threads=threads, inverted_residual=False, after_simplify=_FORCED)}
    default = wafer.compile(block, inputs, threads=threads)
    np.testing.assert_allclose(compiled[True](*arrays), compiled[False](*arrays), rtol=1e-4, atol=1e-4)
    times, _ = interleave({on: (lambda c=c: c(*arrays)) for on, c in compiled.items()}, budget)
    shape, megabytes = describe(block, inputs[0])
    rule = "fused" if any(s.startswith("inverted residual") for s in default.compile_report.strategies) else "-"
    return (f"{shape:22} {batch:5} {threads:7} {megabytes:9.1f} {rule:>5} {times[False] * 1e3:9.3f} "
            f"{times[True] * 1e3:9.3f} {times[True] / times[False]:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", default="2,3,4,5", help="indices into mobilenet_v2().features")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of timed calls per row")
    args = parser.parse_args()
    print(host().describe())
    print(f"{'block':22} {'batch':>5} {'threads':>7} {'images MB':>9} {'rule':>5} {'off ms':>9} {'on ms':>9} "
          f"{'on/off':>6}")
    for index in (int(i) for i in args.blocks.split(",")):
        for batch in (int(b) for b in args.batches.split(",")):
            for threads in (int(t) for t in args.threads.split(",")):
                print(row(index, batch, threads, args.budget), flush=True)


if __name__ == "__main__":
    main()
