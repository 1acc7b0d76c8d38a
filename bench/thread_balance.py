"""Parallel loops in even shares or in chunks to whichever thread is free (wafer-balance-loops).

    pip install -e '.[bench]'
    python bench/thread_balance.py [--models resnet18,squeezenet1_1,transformer] [--batches 1,8]
                                   [--threads 2] [--chunks 2,4,8] [--budget 2.0]

Each model is compiled with `chunks_per_thread=0` (static: each thread's
share fixed before the loop starts) and with each of `--chunks` (a dynamic
schedule of that many chunks a thread on average), and timed interleaved with
ONNX Runtime. The columns: static's milliseconds, then each compile's time
over static's (below 1: faster than even shares), and ONNX Runtime's over
static's. Models are bench/zoo.py's names (torchvision, transformers, the
bundled examples).
"""

from __future__ import annotations

import argparse
from functools import partial

from common import interleave, onnx_session  # first: it sets GOMP_SPINCOUNT before torch loads
import torch

import wafer
from zoo import build

DEFAULT_MODELS = "resnet18,squeezenet1_1,mobilenet_v2,bert,transformer,lenet,mlp"


def row(name: str, batch: int, threads: int, chunks: list[int], budget: float) -> dict[str, float]:
    """Median ms of each schedule and of ONNX Runtime, interleaved."""
    model, inputs = build(name, batch)
    arrays = [x.numpy() for x in inputs]
    backends = {"onnxruntime": onnx_session(model, inputs, threads)}
    for k in [0, *chunks]:
        compiled = wafer.compile(model, inputs, target="cpu", threads=threads, chunks_per_thread=k)
        backends[k] = partial(compiled, *arrays)
    times, _ = interleave(backends, budget)
    return {key: seconds * 1e3 for key, seconds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated (bench/zoo.py's names)")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--chunks", default="2,4,8", help="chunks per thread to compare with static shares")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of timed calls per row")
    args = parser.parse_args()
    chunks = [int(k) for k in args.chunks.split(",")]
    torch.manual_seed(0)
    print(f"{'model':16} {'batch':>5} {'threads':>7} {'static ms':>10}"
          + "".join(f" {f'{k}/thread':>9}" for k in chunks) + f" {'ORT':>9}")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for name in args.models.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                ms = row(name, batch, threads, chunks, args.budget)
                print(f"{name:16} {batch:>5} {threads:>7} {ms[0]:>10.3f}"
                      + "".join(f" {ms[k] / ms[0]:>9.3f}" for k in chunks)
                      + f" {ms['onnxruntime'] / ms[0]:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
