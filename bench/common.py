"""What the CPU benchmarks share: building each backend, timing them interleaved, counting FLOPs.

Import it before torch: it sets GOMP_SPINCOUNT, which torch's OpenMP runtime
reads once when it loads (see bench/cpu.py on how long each pool spins).
"""

from __future__ import annotations

import argparse
import logging
import os
import random

# Pause loops torch's OpenMP workers (libgomp) spin before they sleep: enough to
# cover the gaps between the ops of one call, not the next backend's call, as
# libgomp's default (300,000 pauses, milliseconds) would.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # before torch loads its OpenMP runtime
# How long those workers may spin on after a call: 10,000 pauses of up to 140 cycles
# (Skylake's PAUSE, Intel's optimization manual; Zen 4's measured here about 60) at 2 GHz or more.
TORCH_SPIN_S = 0.7e-3
import statistics
import time
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

import wafer

COLUMNS = ("eager", "torch.compile", "onnxruntime", "wafer")  # the backends, in the tables' order


class Function(torch.nn.Module):
    """A function of a tensor as a module: one layer of a one-layer benchmark."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


def compile_wafer(model, inputs, threads: int):
    """The Wafer-compiled model and the seconds its compile took."""
    start = time.perf_counter()
    compiled = wafer.compile(model, inputs, target="cpu", threads=threads)
    return compiled, time.perf_counter() - start


def torch_compiled(model, inputs):
    """`torch.compile(model)`, compiled by a first call; dynamo is reset so no model reuses another's graphs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch._dynamo.reset()
        inductor = torch.compile(model)
        with torch.no_grad():
            inductor(*inputs)
    return inductor


def onnx_session(model, inputs, threads: int):
    """Export with the dynamo exporter and open a CPU session with `threads` intra-op threads."""
    import onnxruntime

    for name in ("torch.onnx", "onnxscript"):  # the exporter's and its optimizer's warnings break the tables
        logging.getLogger(name).setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, inputs, dynamo=True, verbose=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.force_spinning_stop", "1")  # spin within a run, not after it
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


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def wait_for_torch_workers():
    """Busy-wait until torch's OpenMP workers have stopped spinning after its last
    call, so the next call timed has the cores to itself. A spinning worker holds
    a core the next backend's workers wake on: after an eager LeNet batch 32 at
    2 threads, a Wafer call that started at once took 1.7x as long as one that
    started 0.2 ms later. Busy, not asleep: after a 2 ms sleep every backend's
    next call ran 1.5-2.5x slower, its cores idle and cold."""
    if torch.get_num_threads() > 1:
        end = time.perf_counter() + TORCH_SPIN_S
        while time.perf_counter() < end:
            pass


def interleave(backends: dict, budget: float, before_each=None) -> tuple[dict[str, float], int]:
    """Median seconds per call of each backend, and the rounds timed: one call of
    each per round, so machine noise hits all of them alike, in an order shuffled
    each round: in a fixed order, of two copies of one compiled model the one
    always called right after the other timed 1.5% faster. Each timed call starts
    once torch's workers are asleep (`wait_for_torch_workers`). `before_each`, if
    given, runs untimed before every timed call (to evict the caches)."""
    times = {key: [] for key in backends}
    order = random.Random(0)
    with torch.no_grad():
        for fn in backends.values():
            fn()  # warm-up
        one_round = sum(timed(fn) for fn in backends.values())
        # At least 9 rounds: the median of 5 moved by 10-30% between runs of a b32 row.
        rounds = max(9, min(300, int(budget / one_round)))
        for _ in range(rounds):
            for key in order.sample(list(backends), len(backends)):
                if before_each is not None:
                    before_each()
                wait_for_torch_workers()
                times[key].append(timed(backends[key]))
    return {key: statistics.median(values) for key, values in times.items()}, rounds


def eager_ort_wafer_ms(model, x: torch.Tensor, compiled, threads: int, budget: float) -> dict[str, float]:
    """Median ms per call of a one-input `model` in eager, ONNX Runtime and
    `compiled` (Wafer, called on numpy), timed interleaved."""
    backends = {"eager": lambda: model(x), "onnxruntime": onnx_session(model, (x,), threads),
                "wafer": lambda: compiled(x.numpy())}
    times, _ = interleave(backends, budget)
    return {key: value * 1e3 for key, value in times.items()}


def timing_columns(ms: dict[str, float], decimals: int = 3) -> str:
    """The eager, ONNX Runtime and Wafer columns of `eager_ort_wafer_ms`'s figures, and wafer/ORT."""
    return (f"{ms['eager']:9.{decimals}f} {ms['onnxruntime']:9.{decimals}f} {ms['wafer']:9.{decimals}f} "
            f"{ms['wafer'] / ms['onnxruntime']:9.2f}")


def max_error(compiled, model, inputs) -> float:
    """Largest absolute difference between Wafer's result and eager's."""
    with torch.no_grad():
        return (compiled(*inputs) - model(*inputs)).abs().max().item()


def process_start_up() -> float:
    """Seconds of the first compile in the process, of a one-layer model: torch.export
    and the torch-mlir importer load and warm up once, not for every model."""
    start = time.perf_counter()
    wafer.compile(torch.nn.Linear(4, 4), (torch.randn(1, 4),))
    return time.perf_counter() - start


def grid_parser(doc: str, batches: str) -> argparse.ArgumentParser:
    """A parser of the batches, thread counts (comma-separated lists) and
    seconds per row of a script that times a grid of rows; the script adds its own."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--batches", default=batches)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls per row")
    return parser


def print_grid(args: argparse.Namespace, items, row) -> None:
    """Print `row(item, batch, threads, budget)` for each of `args`' thread counts,
    each of `items` and each of its batches, in that order (see `grid_parser`)."""
    for threads in map(int, args.threads.split(",")):
        for item in items:
            for batch in map(int, args.batches.split(",")):
                print(row(item, batch, threads, args.budget), flush=True)


def layer_bench_options(doc: str, models: str, layers: str | None = None,
                        image_size: int | None = None) -> tuple[argparse.Namespace, dict]:
    """The options of the scripts that time models' layers one by one: the models
    (default `models`), batches, threads, the machine compiled for and the time
    per layer, `--layers` where the script takes layers of no model (its help
    `layers`) and `--image-size` where it takes one (its default `image_size`);
    parsed, with torch's threads set and the CPU described. Also the compile
    keywords that name the machine."""
    from wafer.passes.cpu_target import TARGET_NAMES, resolve

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--models", default=models)
    parser.add_argument("--batches", default="1")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--machine", default="host", choices=TARGET_NAMES, help="the CPU to compile for")
    parser.add_argument("--budget", type=float, default=0.5, help="seconds of timed calls per layer")
    if layers:
        parser.add_argument("--layers", default="", help=layers)
    if image_size:
        parser.add_argument("--image-size", type=int, default=image_size, help="height and width of the images")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{resolve(args.machine).describe()}; threads={args.threads}")
    return args, {} if args.machine == "host" else {"machine": args.machine}


def checked_times(model: torch.nn.Module, x: torch.Tensor, compiled: dict, budget: float,
                  atol: float) -> dict[str, float]:
    """Median seconds per call of each of `compiled` (name: a compiled `model`)
    on `x`, timed interleaved once each matched `model`'s output."""
    array = x.numpy()
    with torch.no_grad():
        expected = model(x)
    for each in compiled.values():
        torch.testing.assert_close(torch.as_tensor(each(array)), expected, rtol=1e-3, atol=atol)
    times, _ = interleave({name: (lambda c=each: c(array)) for name, each in compiled.items()}, budget)
    return times


def print_layer_rows(header: str, layers: list[tuple], args: argparse.Namespace, options: dict, row) -> None:
    """`header`, then `row(*layer, batch, threads, budget, options)` for each of
    the `--batches` and each of `layers`, as each is timed."""
    print(header)
    for batch in (int(b) for b in args.batches.split(",")):
        for layer in layers:
            print(row(*layer, batch, args.threads, args.budget, options), flush=True)


def distinct_layers(models: list[str], batches: list[int], describe):
    """(model, batch, key, layer + ReLU, an input of its shape) for each layer of the
    torchvision `models` at each batch that `describe(module, input)` gives a key
    (None: skip it), the first time its key comes up at that batch."""
    seen = set()
    for name in models:
        for batch in batches:
            for key, (layer, x) in _model_layers(name, batch, describe).items():
                if (key, batch) not in seen:
                    seen.add((key, batch))
                    yield name, batch, key, layer, x


def _model_layers(name: str, batch: int, describe) -> dict[tuple, tuple[torch.nn.Module, torch.Tensor]]:
    """{key: (layer + ReLU, an input of its shape)} for the layers of one model at one batch."""
    from wafer.torchvision_schemas import declare_torchvision_schemas

    declare_torchvision_schemas()  # before torchvision is imported
    import torchvision.models

    model = getattr(torchvision.models, name)(weights=None).eval()
    found = first_calls(model, torch.randn(batch, 3, 224, 224), lambda module, x, _: describe(module, x))
    return {key: (torch.nn.Sequential(module, torch.nn.ReLU()).eval(), torch.randn(shape))
            for key, (module, shape) in found.items()}


def first_calls(model: torch.nn.Module, x: torch.Tensor, describe) -> dict:
    """{key: (module, its input's shape)} for the first call, in one run of `model`
    on `x`, of each of its modules that `describe(module, input, output)` gives a
    key (None: skip it)."""
    found = {}

    def record(module, args, output):
        key = describe(module, args[0], output)
        if key is not None:
            found.setdefault(key, (module, tuple(args[0].shape)))

    hooks = [m.register_forward_hook(record) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return found
