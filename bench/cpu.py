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

Every thread pool sleeps between calls (OMP_WAIT_POLICY=PASSIVE for torch's
OpenMP, no ORT spinning, Wafer's workers spin only between the parallel loops
of one call): with calls interleaved on two cores, one backend's spinning
workers would otherwise steal the cores from the next.
"""

from __future__ import annotations

import argparse
import logging
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads its OpenMP runtime
import statistics
import time
import warnings

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

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


def onnx_session(model, inputs, threads: int):
    """Export with the dynamo exporter and open a CPU session with `threads` intra-op threads."""
    import onnxruntime

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, inputs, dynamo=True, verbose=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feeds = {n: x.numpy() for n, x in zip(names, inputs)}
    return lambda: session.run(None, feeds)


def count_flops(model, inputs) -> int:
    """FLOPs of the decomposed model (the fused MHA fast path has no FLOP formula)."""
    counter = FlopCounterMode(display=False)
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), counter:
            model(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)
    return counter.get_total_flops()


def bench_row(name: str, batch: int, threads: int, budget: float) -> dict:
    model, inputs = build(name, batch)
    start = time.perf_counter()
    compiled = wafer.compile(model, inputs, target="cpu", threads=threads)
    wafer_compile = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch._dynamo.reset()
        inductor = torch.compile(model)
        with torch.no_grad():
            inductor(*inputs)
    arrays = [x.numpy() for x in inputs]  # like ORT's feeds: each backend's own array type
    backends = {
        "eager": lambda: model(*inputs),
        "torch.compile": lambda: inductor(*inputs),
        "onnxruntime": onnx_session(model, inputs, threads),
        "wafer": lambda: compiled(*arrays),
    }
    times = {key: [] for key in backends}
    with torch.no_grad():
        for fn in backends.values():
            fn()  # warm-up
        one_round = sum(timed(fn) for fn in backends.values())
        # At least 9 rounds: the median of 5 moved by 10-30% between runs of a b32 row.
        for _ in range(max(9, min(300, int(budget / one_round)))):
            for key, fn in backends.items():
                times[key].append(timed(fn))
        error = (compiled(*inputs) - model(*inputs)).abs().max().item()
    medians = {key: statistics.median(values) for key, values in times.items()}
    return dict(name=name, batch=batch, times=medians, flops=count_flops(model, inputs),
                compile=wafer_compile, error=error, rounds=len(times["wafer"]),
                peak=compiled.last_peak_bytes, live=compiled.compile_report.live_set_bytes["forward"])


def process_start_up() -> float:
    """Seconds of the first compile in the process, of a one-layer model: torch.export
    and the torch-mlir importer load and warm up once, not for every model."""
    start = time.perf_counter()
    wafer.compile(torch.nn.Linear(4, 4), (torch.randn(1, 4),))
    return time.perf_counter() - start


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


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


COLUMNS = ("eager", "torch.compile", "onnxruntime", "wafer")


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
