"""The same compiled model, called from different depths of the Python stack, with and without
wafer-realign-stack.

    python bench/stack_depth.py [--models efficientnet_b0,mobilenet_v2] [--batches 8] [--threads 1]
                                [--depths 8] [--budget 20]

A kernel whose register block does not fit the vector registers spills some
to the stack. Its frame lies wherever the caller's stack pointer was, and the
x86-64 ABI only promises 16-byte alignment there: without `stackrealign`, a
64-byte spill straddles two cache lines whenever the caller's stack pointer is
not a multiple of 64, and how deep Python was when it called decides that.
Each call here goes through `depth` C-level frames (`map` calling back into
Python) first, so each depth shifts the stack pointer. Every (setting, depth)
pair is timed interleaved in one run. Columns:

    on/off min, max  median ms at the fastest and the slowest depth, realigned (the default) and not
    spread           slowest depth over fastest
    off/on           the slowest depth without realignment over the slowest with it
"""

from __future__ import annotations

import argparse

from common import interleave  # first: it sets GOMP_SPINCOUNT before torch loads
import wafer
from zoo import MODELS, build


def at_depth(fn, depth: int):
    """`fn` called under `depth` extra C frames."""
    if depth == 0:
        return fn()
    return list(map(lambda _: at_depth(fn, depth - 1), [None]))[0]


def row(name: str, batch: int, threads: int, depths: int, budget: float) -> str:
    model, inputs = build(name, batch)
    arrays = [x.numpy() for x in inputs]
    calls = {}
    for realign in (True, False):
        compiled = wafer.compile(model, inputs, target="cpu", threads=threads, realign_stack=realign)
        for depth in range(depths):
            calls[realign, depth] = lambda compiled=compiled, depth=depth: at_depth(lambda: compiled(*arrays), depth)
    medians, _ = interleave(calls, budget)
    cells, slowest = [], {}
    for realign in (True, False):
        times = [medians[realign, depth] * 1e3 for depth in range(depths)]
        slowest[realign] = max(times)
        cells += [f"{min(times):9.3f} {max(times):9.3f}", f"{max(times) / min(times):7.2f}"]
    return f"{name:16s} {batch:5d} {threads:7d} " + " ".join(cells) + f" {slowest[False] / slowest[True]:7.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="efficientnet_b0,mobilenet_v2")
    parser.add_argument("--batches", default="8")
    parser.add_argument("--threads", default="1")
    parser.add_argument("--depths", type=int, default=8)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of timed calls per row")
    args = parser.parse_args()
    if args.depths < 2:
        parser.error(f"--depths: expected 2 or more depths to compare, got {args.depths}")
    names = args.models.split(",")
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)} (known: {', '.join(MODELS)})")
    print(f"{'model':16s} {'batch':>5s} {'threads':>7s} {'on min':>9s} {'on max':>9s} {'spread':>7s} "
          f"{'off min':>9s} {'off max':>9s} {'spread':>7s} {'off/on':>7s}")
    for name in names:
        for batch in map(int, args.batches.split(",")):
            for threads in map(int, args.threads.split(",")):
                print(row(name, batch, threads, args.depths, args.budget), flush=True)


if __name__ == "__main__":
    main()
