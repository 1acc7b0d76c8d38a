"""Tuned against untuned Wafer: convolution algorithms and the packed matmul kernel measured on this machine (wafer/tuning).

    python bench/tuned.py [--models mlp,lenet,transformer,resnet18] [--batch 8] [--threads 2]
                          [--tune-budget 60] [--budget 2.0] [--db bench-tuning.json]
                          [--executor ray [--ray-address HOST:6379]]

For each model: `wafer.tune` with --tune-budget seconds into the database (a
rerun goes on from what it holds), then Wafer compiled without and with the
database, timed interleaved as in bench/cpu.py. The columns:

    convs         distinct convolutions the tuner timed each algorithm of
    changed       how many of those a measured algorithm took from the rules' pick
    contractions  distinct contractions the tuner found
    tune s        seconds the tuning took
    untuned ms, tuned ms
                  median ms per call
    ratio         tuned over untuned (below 1: tuning helped)
    compile s     untuned and tuned compile seconds
    tuned kernels how many packed matmuls took a tuned record
"""

from __future__ import annotations

import argparse
import time

from common import compile_wafer, interleave, max_error  # first: it sets GOMP_SPINCOUNT before torch loads

import wafer
from wafer.tuning.tuner import AlgorithmResult
from zoo import build


def bench_row(name: str, batch: int, threads: int, tune_budget: float, budget: float, db: str, executor: str,
              ray_address: str | None) -> dict:
    model, inputs = build(name, batch)
    start = time.perf_counter()
    results = wafer.tune(model, inputs, budget_s=tune_budget, database=db, threads=threads, progress=False,
                         executor=executor, ray_address=ray_address)
    tune_seconds = time.perf_counter() - start
    untuned, untuned_seconds = compile_wafer(model, inputs, threads)
    start = time.perf_counter()
    tuned = wafer.compile(model, inputs, target="cpu", threads=threads, tuning=db)
    tuned_seconds = time.perf_counter() - start
    times, _ = interleave({"untuned": lambda: untuned(*inputs), "tuned": lambda: tuned(*inputs)}, budget)
    convs = [r for r in results if isinstance(r, AlgorithmResult)]
    return {
        "model": name, "convs": len(convs), "changed": sum(r.best not in (None, r.default) for r in convs),
        "contractions": len(results) - len(convs), "tune s": tune_seconds,
        "untuned ms": 1e3 * times["untuned"], "tuned ms": 1e3 * times["tuned"],
        "ratio": times["tuned"] / times["untuned"], "compile s": f"{untuned_seconds:.1f}/{tuned_seconds:.1f}",
        "tuned kernels": sum(s.startswith("tuned") for s in tuned.compile_report.strategies),
        "max err": max_error(tuned, model, inputs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp,lenet,transformer", help="comma-separated (bench/zoo.py's names)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default: 8)")
    parser.add_argument("--threads", type=int, default=2, help="worker threads (default: 2)")
    parser.add_argument("--tune-budget", type=float, default=60.0, help="tuning seconds per model (default: 60)")
    parser.add_argument("--budget", type=float, default=2.0, help="timing seconds per model (default: 2)")
    parser.add_argument("--db", default="bench-tuning.json", help="the tuning database (default: bench-tuning.json)")
    parser.add_argument("--executor", default="local", help="where tuning measures: local or ray (default: local)")
    parser.add_argument("--ray-address", help="the Ray cluster of --executor ray (default: a local instance)")
    args = parser.parse_args()
    columns = ("model", "convs", "changed", "contractions", "tune s", "untuned ms", "tuned ms", "ratio",
               "compile s", "tuned kernels", "max err")
    print(f"batch {args.batch}, {args.threads} threads, tuning budget {args.tune_budget:g} s per model")
    print("  ".join(f"{c:>12}" for c in columns))
    for name in args.models.split(","):
        row = bench_row(name, args.batch, args.threads, args.tune_budget, args.budget, args.db, args.executor,
                        args.ray_address)
        print("  ".join(f"{row[c]:>12.3g}" if isinstance(row[c], float) else f"{row[c]:>12}" for c in columns),
              flush=True)


if __name__ == "__main__":
    main()
