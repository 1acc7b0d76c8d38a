"""`wafer`: compile a bundled example (or your own model file) and check it.

    wafer run lenet               # compile for the CPU, check against PyTorch, time it
    wafer run mlp --batch 8
    wafer run my_model.py         # a file defining make_model() and example_inputs()
    wafer list                    # the bundled examples
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wafer", description="The Wafer ML compiler.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="compile a model, check it against PyTorch and time it")
    run.add_argument("model", help="a bundled example name (see `wafer list`) or a .py file")
    run.add_argument("--target", default="cpu", help="compilation target (default: cpu)")
    run.add_argument("--batch", type=int, default=1, help="batch size of the bundled examples")
    run.add_argument("--repeat", type=int, default=20, help="timed calls (median is reported)")
    run.add_argument("--tile-sizes", help="override the cache tile, e.g. 8,64")
    run.add_argument("--threads", type=int, help="worker threads (default: one per core)")
    run.add_argument("--options", default="",
                     help="more cpu pipeline options, e.g. 'register-tile=4,16 cache-tile=32,128 pack=false'")
    commands.add_parser("list", help="list the bundled examples")
    args = parser.parse_args(argv)

    from ..diagnostics import WaferError

    try:
        if args.command == "list":
            return _list()
        return _run(args)
    except WaferError as err:
        print(str(err), file=sys.stderr)
        return 1


def _list() -> int:
    from ..examples.models import EXAMPLES

    for example in EXAMPLES.values():
        print(f"  {example.name:14} {example.description}")
    return 0


def _load(args):
    from ..diagnostics import WaferError
    from ..examples.models import EXAMPLES

    if args.model in EXAMPLES:
        return EXAMPLES[args.model].build(args.batch)
    if not args.model.endswith(".py"):
        names = ", ".join(EXAMPLES)
        raise WaferError(f"error: unknown model '{args.model}': give a .py file or one of: {names}")
    spec = importlib.util.spec_from_file_location("wafer_user_model", args.model)
    if spec is None:
        raise WaferError(f"error: cannot load '{args.model}'")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        raise WaferError(f"error: no such file '{args.model}'") from None
    for name in ("make_model", "example_inputs"):
        if not hasattr(module, name):
            raise WaferError(f"error: {args.model} must define {name}()")
    inputs = module.example_inputs()
    return module.make_model().eval(), inputs if isinstance(inputs, tuple) else (inputs,)


def _median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _pipeline_options(args) -> dict:
    """The cpu pipeline's options from --options, --tile-sizes and --threads, checked."""
    import dataclasses

    from ..diagnostics import WaferError
    from ..pass_pipeline import parse_options
    from ..passes.pass_base import OptionError
    from ..pipelines.cpu import CpuPipeline

    text = args.options
    if args.tile_sizes:
        text += f" tile-sizes={args.tile_sizes}"
    if args.threads is not None:
        text += f" threads={args.threads}"
    try:
        pipeline = CpuPipeline.from_options(parse_options(text))
    except OptionError as err:
        raise WaferError(f"error: {err}") from None
    return {f.name: getattr(pipeline, f.name) for f in dataclasses.fields(pipeline)}


def _run(args) -> int:
    import torch

    import wafer

    model, inputs = _load(args)
    options = _pipeline_options(args)
    print(f"model: {args.model}  inputs: {', '.join(str(tuple(x.shape)) for x in inputs)}  target: {args.target}")

    start = time.perf_counter()
    compiled = wafer.compile(model, inputs, target=args.target, **options)
    compile_seconds = time.perf_counter() - start
    print(f"\ncompile: {compile_seconds:.2f} s (import + pipeline + JIT); pipeline stages:")
    print(compiled.compile_report.table())

    with torch.no_grad():
        expected = model(*inputs)
    got = compiled(*inputs)
    pairs = list(zip(got, expected)) if isinstance(expected, (tuple, list)) else [(got, expected)]
    error = max((g - e).abs().max().item() for g, e in pairs)
    scale = max(e.abs().max().item() for _, e in pairs)
    ok = error <= 1e-4 * max(scale, 1e-30)
    print(f"\nmax |wafer - torch| = {error:.3g}  (max |torch| = {scale:.3g}): {'OK' if ok else 'MISMATCH'}")

    with torch.no_grad():
        wafer_latency = _median_seconds(lambda: compiled(*inputs), args.repeat)
        eager_latency = _median_seconds(lambda: model(*inputs), args.repeat)
    print(
        f"latency (median of {args.repeat}): wafer {wafer_latency * 1e3:.3f} ms, "
        f"torch eager {eager_latency * 1e3:.3f} ms  (wafer/eager = {wafer_latency / eager_latency:.2f}x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
