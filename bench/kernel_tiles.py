"""Register tiles of the packed matmul kernel, measured on this host against torch.mm.

    python bench/kernel_tiles.py [--threads 1,2] [--budget 1.0]

The `cpu` pipeline takes its register tile from the machine description
(passes/cpu_target.py): half the vector registers as accumulators, two vectors
wide. This script is the measurement behind that rule: for each matmul shape
(square, im2col-like, a batch-8 linear layer, a batch-1 one, a ResNet 3x3
stage, a 1x1 convolution over a 5x5 image's 25 pixels) it times the host's
default tile, its neighbours (more rows, wider, fewer accumulators) and the
tallest blocks two and four vectors wide, interleaved call by call with
torch, and prints each tile's time as a ratio to torch's (below 1 is faster). Tiles whose
accumulators and operands exceed the registers spill, which shows as a ratio
several times the default's. It also times the K block of a matmul whose
operands are both inputs (packed per call), where the block sets how much is
packed at once. Last, linear layers of a deep K, with K in blocks of 128 and K
whole: those whose weight panels fit half of L2 (K whole where a tile's C
outgrows L1, however far a row's A panel does), those whose panels outgrow it,
and those whose weights outgrow L2 (read from L3 on every call), by how many
rows of register blocks read them: the measurement behind `matmul_plan.k_tiled`
and `STREAMED_B_ROWS`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from common import interleave  # first: it sets GOMP_SPINCOUNT before torch loads

import numpy as np
import torch

import wafer
from wafer.passes import matmul_plan
from wafer.passes.cpu_target import host

SHAPES = [(1024, 1024, 1024), (128, 576, 784), (8, 768, 3072), (1, 512, 1000), (196, 1152, 256),
          (25, 512, 2048)]  # M, K, N


class Linear(torch.nn.Module):
    """x @ W with W a constant: the kernel packs it once at compile time, like a model's weights."""

    def __init__(self, weight):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)

    def forward(self, x):
        return x @ self.weight


class MatMul(torch.nn.Module):
    def forward(self, a, b):
        return a @ b


def candidate_tiles() -> list[tuple[int, int]]:
    """The host's default register tile, its neighbours in rows and vectors,
    and for each width the tallest block whose accumulators, B's vectors and
    A's broadcast fit the registers."""
    target = host()
    mr, nr = target.register_tile
    lanes = target.lanes
    tiles = [(mr, nr), (2 * mr, nr), (mr, nr + lanes), (mr, 2 * nr), (mr // 2, nr), (mr + mr // 2, nr)]
    tiles += [((target.vector_registers - vectors - 1) // vectors, vectors * lanes) for vectors in (2, 4)]
    return list(dict.fromkeys(t for t in tiles if t[0] >= 1))


def ratios(model, inputs, variants: dict, threads: int, budget: float) -> dict:
    """Each variant's median time over torch's, from calls interleaved with torch's."""
    compiled = {key: wafer.compile(model, inputs, threads=threads, **options) for key, options in variants.items()}
    arrays = [x.numpy() for x in inputs]
    calls = {"torch": lambda: model(*inputs), **{key: (lambda c=c: c(*arrays)) for key, c in compiled.items()}}
    medians, _ = interleave(calls, budget)
    base = medians["torch"]
    return {"torch ms": base * 1e3, **{key: medians[key] / base for key in compiled}}


def deep_k_rows(threads: int, budget: float) -> None:
    """K in blocks of 128 and K whole for linear layers deeper than a row's A
    panel fits half of L1: the measurement behind `matmul_plan.k_tiled`. The
    first shapes' B panels fit half of L2 and their tiles' C outgrows L1 (K
    whole); the next panels outgrow half of L2 (K in blocks); the last weights
    outgrow L2 itself, read by a few rows of register blocks (`STREAMED_B_ROWS`)
    or by more."""
    print(f"\nthreads={threads}: K of a deep linear layer, time / torch")
    print(f"{'M x K x N':18} {'torch ms':>9} {'blocks':>7} {'whole':>7}  rule (rows of blocks)")
    mr = host().register_tile[0]
    rule = matmul_plan.k_tiled
    for m, k, n in [(1024, 1024, 1024), (512, 2048, 512), (784, 1152, 128), (1024, 3072, 768), (256, 2304, 256),
                    (8, 3072, 768), (16, 4608, 512), (32, 2048, 1000), (64, 2048, 1000), (64, 2048, 512),
                    (256, 2048, 1000)]:
        model, inputs = Linear(torch.randn(k, n)), (torch.randn(m, k),)
        matmul_plan.k_tiled = _blocked_wherever_deeper
        try:
            blocks = wafer.compile(model, inputs, threads=threads)
        finally:
            matmul_plan.k_tiled = rule
        whole = wafer.compile(model, inputs, threads=threads, k_block=0)
        picked = wafer.compile(model, inputs, threads=threads)
        arrays = [x.numpy() for x in inputs]
        medians, _ = interleave({"torch": lambda: model(*inputs), "blocks": lambda: blocks(*arrays),
                                 "whole": lambda: whole(*arrays)}, budget)
        base = medians["torch"]
        kept = "whole" if "k tile" not in " ".join(picked.compile_report.strategies) else "blocks"
        print(f"{f'{m}x{k}x{n}':18} {base * 1e3:9.3f} {medians['blocks'] / base:7.2f} {medians['whole'] / base:7.2f}"
              f"  {kept} ({-(-m // mr)})", flush=True)


def _blocked_wherever_deeper(kernel, contraction, limit, cpu):
    """`matmul_plan.k_tiled` without its rule: blocks of `limit` wherever K is deeper."""
    block = matmul_plan.k_block_steps(kernel, contraction, limit)
    return replace(kernel, k_tile=block) if block else kernel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls per shape")
    args = parser.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    tiles = candidate_tiles()
    print(f"host: {host().describe()}; default register tile {tiles[0][0]}x{tiles[0][1]}")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        print(f"\nthreads={threads}: wafer time / torch time per register tile (lower is better)")
        print(f"{'M x K x N':18} {'torch ms':>9} " + " ".join(f"{f'{m}x{n}':>7}" for m, n in tiles))
        for m, k, n in SHAPES:
            row = ratios(Linear(torch.randn(k, n)), (torch.randn(m, k),),
                         {tile: dict(register_tile=tile) for tile in tiles}, threads, args.budget)
            print(f"{f'{m}x{k}x{n}':18} {row['torch ms']:9.3f} " + " ".join(f"{row[t]:7.2f}" for t in tiles),
                  flush=True)
        print(f"\nthreads={threads}: K block of a matmul of two inputs (default tile), time / torch")
        blocks = (64, 128, 256)
        print(f"{'M x K x N':18} {'torch ms':>9} " + " ".join(f"{f'kb {b}':>7}" for b in blocks))
        for m, k, n in [(1024, 512, 256), (256, 1152, 784), (512, 2048, 512)]:
            row = ratios(MatMul(), (torch.randn(m, k), torch.randn(k, n)),
                         {b: dict(k_block=b) for b in blocks}, threads, args.budget)
            print(f"{f'{m}x{k}x{n}':18} {row['torch ms']:9.3f} " + " ".join(f"{row[b]:7.2f}" for b in blocks),
                  flush=True)
        deep_k_rows(threads, args.budget)


if __name__ == "__main__":
    main()
