"""CPU benchmark: torch eager, torch.compile, ONNX Runtime and Wafer, side by side from one run.

    pip install -e '.[bench]'
    python bench/cpu.py [--threads 1,2] [--batches 1,32] [--models mlp,matmul] [--budget 1.0]

For each thread count every backend gets the same number of threads
(torch.set_num_threads, ORT intra-op threads, Wafer's `cpu{threads=N}`).
Backends are timed interleaved, call by call, so machine noise hits all of
them alike; the table reports medians, GFLOP/s (FLOPs counted by torch's
FlopCounterMode), Wafer's ratio to eager and to the best other backend, and
Wafer's compile time, and the peak heap memory of a Wafer call (temporaries
and results, counted by its allocator) against the largest set of the model's
tensors alive at once (`x live`; the target is at most 1.2). The 1024^3 matmul takes both operands as inputs, so no
backend can fold a packed weight at compile time.

Each backend is called through its own array interface with inputs made once:
torch tensors for eager and torch.compile, numpy arrays for ONNX Runtime's feeds
and for Wafer (numpy in, numpy out).

Every thread pool spins between the parallel loops of one call and sleeps
soon after it: torch's OpenMP workers for GOMP_SPINCOUNT pauses (set by
common.py), ONNX Runtime's until its run ends (session.force_spinning_stop),
Wafer's until its call ends. With calls interleaved on two cores, workers that
spin on after a call (libgomp's default, ONNX Runtime's) steal the cores from
the next backend, so each timed call waits for torch's to stop (up to 0.7 ms,
common.wait_for_torch_workers); workers that never spin (OMP_WAIT_POLICY=PASSIVE, ONNX
Runtime without spinning) sleep between a backend's own ops and slow it down.
"""

from __future__ import annotations

import argparse
import os
import time

from common import (  # first: it sets GOMP_SPINCOUNT before torch loads
    COLUMNS, compile_wafer, count_flops, interleave, max_error, onnx_session, process_start_up, torch_compiled)
import numpy as np
import torch

import wafer
from wafer.examples.models import EXAMPLES


class MatMul(torch.nn.Module):
    def forward(self, a, b):
        return a @ b


def build(name: str, batch: int):
    if name == "matmul":
        torch.manual_seed(0)
        return MatMul(), (torch.randn(1024, 1024), torch.randn(1024, 1024))
    return EXAMPLES[name].build(batch)


def bench_row(name: str, batch: int, threads: int, budget: float) -> dict:
    model, inputs = build(name, batch)
    compiled, wafer_compile = compile_wafer(model, inputs, threads)
    inductor = torch_compiled(model, inputs)
    arrays = [x.numpy() for x in inputs]  # like ORT's feeds: each backend's own array type
    backends = {
        "eager": lambda: model(*inputs),
        "torch.compile": lambda: inductor(*inputs),
        "onnxruntime": onnx_session(model, inputs, threads),
        "wafer": lambda: compiled(*arrays),
    }
    medians, rounds = interleave(backends, budget)
    return dict(name=name, batch=batch, times=medians, flops=count_flops(model, inputs),
                compile=wafer_compile, error=max_error(compiled, model, inputs), rounds=rounds,
                peak=compiled.last_peak_bytes, live=compiled.compile_report.live_set_bytes["forward"])


def rss_growth(calls: int = 1000) -> float:
    """Resident memory growth (MB) over `calls` calls of MLP batch 1, after a warm-up."""
    model, inputs = build("mlp", 1)
    compiled = wafer.compile(model, inputs)
    for _ in range(50):
        compiled(*inputs)
    before = resident_bytes()
    for _ in range(calls):
        compiled(*inputs)
    return (resident_bytes() - before) / 2**20


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def print_header(threads: int) -> None:
    print(f"\nthreads={threads}: median ms of interleaved calls; GFLOP/s of Wafer and of the best other backend")
    header = (f"{'workload':13} {'batch':>5} {'GFLOP':>7} " + " ".join(f"{c[:13]:>13}" for c in COLUMNS)
              + f" {'wafer/eager':>11} {'wafer/best':>10} {'wafer GF/s':>10} {'best GF/s':>9}"
              f" {'compile s':>9} {'max err':>8} {'calls':>5} {'peak MB':>8} {'x live':>6}")
    print(header)
    print("-" * len(header))


def print_row(r: dict) -> None:
    t = r["times"]
    best = min(t[c] for c in COLUMNS if c != "wafer")
    gflop = r["flops"] / 1e9
    batch = "-" if r["name"] == "matmul" else str(r["batch"])
    print(f"{r['name']:13} {batch:>5} {gflop:7.3f} " + " ".join(f"{t[c] * 1e3:13.3f}" for c in COLUMNS)
          + f" {t['wafer'] / t['eager']:11.2f} {t['wafer'] / best:10.2f} {gflop / t['wafer']:10.1f}"
          f" {gflop / best:9.1f} {r['compile']:9.2f} {r['error']:8.1g} {r['rounds']:5}"
          f" {r['peak'] / 2**20:8.2f} {r['peak'] / r['live']:6.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join([*EXAMPLES, "matmul"]))
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls per row")
    args = parser.parse_args()
    np.random.seed(0)
    start = time.perf_counter()
    print(f"first compile in this process (torch.export and the importer start up, once): "
          f"{process_start_up():.2f} s; 'compile s' below is each model's own, after it")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        print_header(threads)
        for name in args.models.split(","):
            for batch in [1] if name == "matmul" else [int(b) for b in args.batches.split(",")]:
                print_row(bench_row(name, batch, threads, args.budget))
    print(f"\nRSS growth over 1000 calls of mlp batch 1: {rss_growth():.2f} MB")
    print(f"total benchmark time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
