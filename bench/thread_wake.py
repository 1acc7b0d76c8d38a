"""Waking a sleeping OpenMP worker, and the small calls that stay on one thread for it.

    python bench/thread_wake.py [--threads 2] [--batches 1,8] [--budget 1.0]
                                [--models lenet,cnn:1,32,64,3,28,128,conv:32,64,3,13,linear:8,1024,1024]

First the probe of wafer/thread_wake.py: an empty parallel loop, compiled
as the pipeline compiles a call's, entered after the caller has worked for a
while (the mean of the middle half of 20 from each CPU, for several such
gaps); what a second loop in the same call adds, its workers spinning
(kernel_defaults.PARALLEL_ELEMENTS); and the clock the core ran at and the
vector FMAs it issued a cycle.
Then each model is compiled three ways and timed interleaved:

    1 thread        threads=1
    always          threads=N with wake-instructions=0: every loop parallel
    measured        threads=N, the default: a function whose parallel loops
                    save less than the measured wake-up runs on one thread
    serial?         whether wafer-serial-short-calls kept it on one thread
    measured/best   the default against the better of the other two

Models: the bundled examples, `cnn:in,c1,c2,k,size,fc` (two k x k
convolutions with ReLU and 2x2 max pooling, then two linear layers),
`conv:in,out,k,size` (one convolution and ReLU) and `linear:M,K,N`.
"""

from __future__ import annotations

import argparse

from common import interleave  # first: it sets GOMP_SPINCOUNT before torch loads
import torch

import wafer
from wafer.examples.models import EXAMPLES
from wafer.passes.cpu_target import host
from wafer.thread_wake import BETWEEN_S, PROBES, ThreadProbe, wake_instructions

DEFAULT_MODELS = ("lenet,mlp,cnn:1,6,16,5,28,120,cnn:1,32,64,3,28,128,cnn:3,20,50,5,32,500,conv:32,64,3,13,"
                  "conv:64,128,3,13,conv:64,128,3,20,linear:8,1024,1024,linear:32,512,512")


def small_cnn(cin: int, c1: int, c2: int, k: int, size: int, fc: int) -> torch.nn.Module:
    pooled = ((size - k + 1) // 2 - k + 1) // 2
    return torch.nn.Sequential(
        torch.nn.Conv2d(cin, c1, k), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, k), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(c2 * pooled * pooled, fc), torch.nn.ReLU(), torch.nn.Linear(fc, 10)).eval()


def build(spec: str, batch: int):
    """The model and its inputs that `spec` names (see the module docstring)."""
    torch.manual_seed(0)
    if spec in EXAMPLES:
        return EXAMPLES[spec].build(batch)
    kind, _, numbers = spec.partition(":")
    sizes = [int(n) for n in numbers.split(",")]
    if kind == "cnn":
        return small_cnn(*sizes), (torch.randn(batch, sizes[0], sizes[4], sizes[4]),)
    if kind == "conv":
        cin, cout, k, size = sizes
        model = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, k), torch.nn.ReLU()).eval()
        return model, (torch.randn(batch, cin, size, size),)
    if kind == "linear":
        m, k, n = sizes
        return torch.nn.Sequential(torch.nn.Linear(k, n), torch.nn.ReLU()).eval(), (torch.randn(batch * m, k),)
    raise SystemExit(f"error: unknown model '{spec}' (an example, cnn:..., conv:... or linear:...)")


def split_specs(text: str) -> list[str]:
    """`lenet,cnn:1,6,16,5,28,120,conv:...` into its models: a part with a colon starts
    one. '' names none (the probe's table only)."""
    specs: list[str] = []
    for part in filter(None, text.split(",")):
        if ":" in part or part in EXAMPLES or not specs:
            specs.append(part)
        else:
            specs[-1] += f",{part}"
    return specs


def probe_table(threads: int) -> None:
    probe = ThreadProbe(threads, host().lanes)
    print(f"probe: empty parallel loops of {threads} threads, compiled as a call's, after the caller worked "
          f"for a gap (middle-half mean of {PROBES} a placement); the core at {probe.clock_hz() / 1e9:.2f} GHz")
    print(f"{'gap ms':>7} {'first loop us':>14} {'next loops us':>14}")
    for gap in (0.0002, 0.0005, 0.001, BETWEEN_S, 0.005):
        first, later = probe.first_loop_seconds(gap), probe.later_loop_seconds(gap)
        print(f"{gap * 1e3:7.1f} {first * 1e6:14.1f} {later * 1e6:14.2f}")
    wake = wake_instructions(threads, host().lanes)
    print(f"the pipeline's figure (gap {BETWEEN_S * 1e3:.0f} ms): {wake} instructions, "
          f"{probe.vector_rate():.2f} vector FMAs a cycle\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls per row")
    args = parser.parse_args()
    probe_table(args.threads)
    print(f"{'model':28} {'batch':>5} {'1 thread':>9} {'always':>9} {'measured':>9} {'serial?':>8} "
          f"{'measured/best':>13}   (us per call)")
    for spec in split_specs(args.models):
        for batch in (int(b) for b in args.batches.split(",")):
            model, inputs = build(spec, batch)
            arrays = [x.numpy() for x in inputs]
            ways = {"1 thread": {"threads": 1}, "always": {"threads": args.threads, "wake_instructions": 0},
                    "measured": {"threads": args.threads}}
            compiled = {way: wafer.compile(model, inputs, **options) for way, options in ways.items()}
            serial = any(s.startswith("one thread") for s in compiled["measured"].compile_report.strategies)
            times, _ = interleave({way: (lambda c=c: c(*arrays)) for way, c in compiled.items()}, args.budget)
            us = {way: t * 1e6 for way, t in times.items()}
            best = min(us["1 thread"], us["always"])
            print(f"{spec:28} {batch:5} {us['1 thread']:9.1f} {us['always']:9.1f} {us['measured']:9.1f} "
                  f"{'yes' if serial else 'no':>8} {us['measured'] / best:13.2f}", flush=True)


if __name__ == "__main__":
    main()
