"""CPU benchmark: torch eager vs torch.compile vs Wafer, side by side from one run.

    python bench/cpu.py [--batches 1,32] [--repeat 20] [--models lenet,mlp]

Backends are timed interleaved, call by call, so machine noise hits all of
them alike; the table reports medians, Wafer's ratio to eager, and compile times.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

import wafer
from wafer.examples.models import EXAMPLES


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_model(name: str, batch: int, repeat: int) -> dict:
    model, inputs = EXAMPLES[name].build(batch)
    start = time.perf_counter()
    compiled = wafer.compile(model, inputs, target="cpu")
    wafer_compile = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inductor = torch.compile(model)
        start = time.perf_counter()
        with torch.no_grad():
            inductor(*inputs)
        inductor_compile = time.perf_counter() - start
    backends = {
        "eager": lambda: model(*inputs),
        "torch.compile": lambda: inductor(*inputs),
        "wafer": lambda: compiled(*inputs),
    }
    times = {key: [] for key in backends}
    with torch.no_grad():
        for fn in backends.values():
            fn()  # warm-up
        for _ in range(repeat):
            for key, fn in backends.items():
                times[key].append(timed(fn))
        error = (compiled(*inputs) - model(*inputs)).abs().max().item()
    medians = {key: statistics.median(values) for key, values in times.items()}
    return dict(name=name, batch=batch, **medians, wafer_compile=wafer_compile,
                inductor_compile=inductor_compile, error=error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(EXAMPLES))
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}; medians of {args.repeat} interleaved calls")
    header = (f"{'model':14} {'batch':>5} {'eager ms':>9} {'compile ms':>10} {'wafer ms':>9} "
              f"{'wafer/eager':>11} {'wafer compile s':>15} {'inductor compile s':>18} {'max err':>9}")
    print(header)
    print("-" * len(header))
    for name in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            r = bench_model(name, batch, args.repeat)
            print(f"{r['name']:14} {r['batch']:>5} {r['eager'] * 1e3:9.3f} {r['torch.compile'] * 1e3:10.3f} "
                  f"{r['wafer'] * 1e3:9.3f} {r['wafer'] / r['eager']:11.2f} {r['wafer_compile']:15.2f} "
                  f"{r['inductor_compile']:18.2f} {r['error']:9.2g}", flush=True)


if __name__ == "__main__":
    main()
