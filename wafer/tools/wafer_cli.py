"""`wafer`: compile a bundled example (or your own model file) and check it.

    wafer run lenet               # compile for the CPU, check against PyTorch, time it
    wafer run mlp --batch 8
    wafer run mlp --target wse --machine wse2 --heatmap heat.png --trace trace.json
    wafer run lenet --profile --trace trace.json   # time each kernel, write a Perfetto trace
    wafer run lenet --dump-ir ir/                  # the module after each stage: ir/00-import.mlir, ...
    wafer run my_model.py         # a file defining make_model() and example_inputs()
                                  # (and CALL_UNIT = "token" where a call is a decode step)
    wafer run model.onnx          # random inputs of its input shapes, checked against onnxruntime
    wafer export lenet -o out     # out/libmodel.so, model.h, weights.bin, model_main: no Python needed
    wafer verify out lenet        # run out/model_main on random inputs, check it against PyTorch
    wafer fuzz --count 200 --seed 0   # random programs, checked against eager on both targets
    wafer tune mlp --batch 8 --budget 60   # measure matmul kernels into wafer-tuning.json; then
    wafer run mlp --batch 8 --options tuning=wafer-tuning.json   # compile with the measured kernels
    wafer tune mlp --batch 8 --executor ray --ray-address HOST:6379   # measure on a Ray cluster instead
    wafer list                    # the bundled examples
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from ..compiler import megabytes
from ..diagnostics import WaferError
from ..passes.placement_modes import AUTO, MODES
from ..user_file import call_user_function, run_user_file
from ..wse_target.machine import PRESETS

# What one call computes, in the wse report's rates, unless a model file's CALL_UNIT says.
DEFAULT_CALL_UNIT = "inference"

# The options that only one target reads; giving one to the other target is an error.
TARGET_OPTIONS = {
    "cpu": ("repeat", "tile_sizes", "threads", "options", "profile"),
    "wse": ("machine", "mode", "heatmap", "tuning"),
}


def build_parser() -> argparse.ArgumentParser:
    """The `wafer` command line: one subcommand per action."""
    parser = argparse.ArgumentParser(prog="wafer", description="The Wafer ML compiler.", epilog=_examples(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     help="`wafer COMMAND --help` describes each one")
    run = _command(commands, "run", "compile a model, check it against PyTorch (or ONNX Runtime) and time it")
    run.add_argument("model", help="a bundled example name (see `wafer list`), a .py file defining make_model() "
                     "and example_inputs(), or an .onnx file")
    run.add_argument("--target", default="cpu", choices=TARGET_OPTIONS, help="compilation target (default: cpu)")
    run.add_argument("--precision", default="fp32", metavar="{fp32,fp16,bf16}",
                     help="fp16 or bf16: compute in 16 bits behind an edge that keeps the model's dtypes "
                     "(default: fp32)")
    run.add_argument("--batch", type=_positive_int, default=1, metavar="N",
                     help="batch size of the bundled examples, or of an .onnx model's dynamic leading dimension "
                     "(default: 1)")
    run.add_argument("--dump-ir", metavar="DIR", help="write the module after each pipeline stage to DIR, "
                     "numbered in order: 00-import.mlir, 01-verify.mlir, ...")
    run.add_argument("--trace", metavar="JSON", help="write a Chrome/Perfetto trace: of each kernel's time "
                     "on the cpu target (as --profile), of the simulated ops on the wse target")
    cpu = run.add_argument_group("cpu target")
    cpu.add_argument("--repeat", type=_positive_int, metavar="N",
                     help="timed calls, the median is reported (default: 20)")
    _add_pipeline_options(cpu, default_threads=None, threads_help="worker threads (default: one per core)")
    cpu.add_argument("--profile", action="store_true", default=None,
                     help="time each kernel (fused loop nest) and print where a call's time goes")
    wse = run.add_argument_group("wse target (simulated)")
    wse.add_argument("--machine", choices=sorted(PRESETS), help="machine preset (default: small)")
    wse.add_argument("--mode", choices=(*MODES, AUTO), help="placement: regions side by side in strips "
                     "(pipelined), one at a time on the whole fabric (whole-wafer), or auto: the mode "
                     "`wafer tune --target wse` found faster (with --tuning), else pipelined where the "
                     "model fits and routes side by side (default: pipelined)")
    wse.add_argument("--heatmap", metavar="PNG", help="write PE utilization and link load as a PNG")
    wse.add_argument("--tuning", metavar="PATH", help="place regions as `wafer tune --target wse` recorded "
                     "in this database, where it has a record")
    export = _command(commands, "export", "compile a model ahead of time into a shared library, a C header, "
                      "a weights file and a runner of .npy files, none of which needs Python")
    export.add_argument("model", help="a bundled example name (see `wafer list`) or a .py file")
    export.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to write the files into")
    export.add_argument("--batch", type=_positive_int, default=1, metavar="N",
                        help="batch size of the bundled examples (default: 1)")
    _add_pipeline_options(export, default_threads=1,
                          threads_help="worker threads; above 1, libiomp5.so is copied next to the library "
                          "(default: 1)")
    export.set_defaults(profile=None, trace=None)  # run's options that `_pipeline_options` reads: no profiling here
    verify = _command(commands, "verify", "run an exported model's model_main on random inputs and check it "
                      "against PyTorch")
    verify.add_argument("directory", metavar="DIR", help="the folder `wafer export` wrote")
    verify.add_argument("model", help="the model it was exported from: a bundled example name or a .py file")
    verify.add_argument("--batch", type=_positive_int, default=1, metavar="N",
                        help="batch size of the bundled examples, as given to `wafer export` (default: 1)")
    fuzz = _command(commands, "fuzz", "check random PyTorch programs against eager on every target")
    fuzz.add_argument("--count", type=_positive_int, default=100, metavar="N",
                      help="programs to generate (default: 100)")
    fuzz.add_argument("--seed", type=int, default=0, metavar="N",
                      help="the first program's seed; the others follow it (default: 0)")
    fuzz.add_argument("--no-wse", action="store_true", help="check the CPU target only, not the simulated wafer")
    fuzz.add_argument("--out", default="fuzz-failures", metavar="DIR",
                      help="where each failure is saved, shrunk, as repro.py and model.mlir (default: fuzz-failures)")
    tune = _command(commands, "tune", "measure the packed matmul kernel's tile sizes for each contraction of a "
                    "model on this machine (or, --target wse, each region's rectangle on the simulated "
                    "wafer) and record the fastest in a tuning database")
    tune.add_argument("model", help="a bundled example name (see `wafer list`) or a .py file defining make_model() "
                      "and example_inputs()")
    tune.add_argument("--batch", type=_positive_int, default=1, metavar="N",
                      help="batch size of the bundled examples (default: 1)")
    tune.add_argument("--budget", type=float, default=60.0, metavar="SECONDS",
                      help="about how long to measure, shared among the contractions (default: 60)")
    tune.add_argument("--db", default="wafer-tuning.json", metavar="PATH",
                      help="the tuning database to extend; compile with `--options tuning=PATH` "
                      "(default: wafer-tuning.json)")
    tune.add_argument("--threads", type=_positive_int, default=0, metavar="N",
                      help="worker threads the kernels are measured with; records apply at that "
                      "count only (default: one per core)")
    tune.add_argument("--executor", default="local", metavar="NAME",
                      help="where candidates are built and measured: local, or ray (as Ray tasks on a "
                      "cluster of identical machines; needs pip install 'wafer[tune]') (default: local)")
    tune.add_argument("--ray-address", metavar="ADDRESS",
                      help="the Ray cluster to run on, e.g. HOST:6379 (default: a local Ray instance)")
    tune.add_argument("--target", default="cpu", choices=TARGET_OPTIONS,
                      help="cpu: kernel tiles; wse: region rectangles on the simulator (default: cpu)")
    tune_wse = tune.add_argument_group("wse target (simulated)")
    tune_wse.add_argument("--machine", choices=sorted(PRESETS), help="machine preset (default: wse2)")
    tune_wse.add_argument("--mode", choices=(*MODES, AUTO), default=None,
                          help="placement mode to search; auto searches both and records the faster "
                          "(default: auto)")
    tune_wse.add_argument("--precision", default="fp32", metavar="{fp32,fp16,bf16}",
                          help="the precision it will be compiled at (default: fp32)")
    _command(commands, "list", "list the bundled examples")
    return parser


def _command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose summary shows both in `wafer --help` and in its own --help."""
    return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")


def _examples() -> str:
    """The examples of the module docstring, for `wafer --help`."""
    return "examples:\n" + __doc__.split("\n\n", 1)[1].rstrip()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    try:
        if args.command == "list":
            return _list()
        if args.command == "export":
            return _export(args)
        if args.command == "verify":
            return _verify(args)
        if args.command == "fuzz":
            return _fuzz(args)
        if args.command == "tune":
            return _tune(args)
        _check_options(args)
        if args.model.endswith(".onnx"):
            return _run_onnx(args)
        return _run_wse(args) if args.target == "wse" else _run(args)
    except WaferError as err:
        print(str(err), file=sys.stderr)
        return 1


def _add_pipeline_options(group, default_threads: int | None, threads_help: str) -> None:
    """The cpu pipeline's options that `run` and `export` take (read by `_pipeline_options`)."""
    group.add_argument("--tile-sizes", type=_tile_sizes, metavar="SIZES",
                       help="wafer-fuse's cache tile of the innermost output dimensions, e.g. 8,64")
    group.add_argument("--threads", type=_positive_int, metavar="N", help=threads_help)
    group.set_defaults(default_threads=default_threads)  # unless --threads or --options threads=N says otherwise
    group.add_argument("--options", metavar="OPTIONS", help="more cpu pipeline options, e.g. "
                       "'register-tile=4,16 cache-tile=32,128 pack=false'; wafer-opt --list-passes lists them")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _tile_sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(_positive_int(s) for s in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, e.g. 8,64; got '{text}'") from None


def _check_options(args) -> None:
    """Reject, before any work, options the target ignores and outputs that cannot be written."""
    for target, names in TARGET_OPTIONS.items():
        for name in names:
            if target != args.target and getattr(args, name) is not None:
                flag = "--" + name.replace("_", "-")
                raise WaferError(f"error: {flag} applies to --target {target}, not {args.target}")
    for flag, path in (("--heatmap", args.heatmap), ("--trace", args.trace)):
        if path is not None and not Path(path).resolve().parent.is_dir():
            raise WaferError(f"error: cannot write {flag} '{path}': no such directory '{Path(path).parent}'")


def _fuzz(args) -> int:
    """Run a campaign and print its table; non-zero when any program was a mismatch or a crash."""
    _check_writable_folder("--out", args.out)
    from tqdm import tqdm

    from ..fuzz import fuzz
    from ..fuzz.check import CRASH, MISMATCH

    with tqdm(total=args.count, unit="program", disable=None) as bar:
        def progress(summary):
            bar.update(1)
            bar.set_postfix(failures=len(summary.failures))

        try:
            summary = fuzz(count=args.count, seed=args.seed, wse=not args.no_wse, out_dir=args.out,
                           progress=progress)
        except OSError as err:  # saving a failure's reproducer
            if err.filename is None or not Path(err.filename).resolve().is_relative_to(Path(args.out).resolve()):
                raise
            raise WaferError(f"error: cannot write --out '{args.out}': {err.strerror}") from None
    print(summary.table())
    return 1 if summary.programs[MISMATCH] or summary.programs[CRASH] else 0


def _tune(args) -> int:
    """Tune the model's contractions and print each one's default and tuned kernel."""
    import wafer

    from ..tuning.executor import check_executor
    from ..tuning.report import table

    check_executor(args.executor, args.ray_address)  # before the model loads
    for flag, value in (("--machine", args.machine), ("--mode", args.mode)):
        if value is not None and args.target != "wse":
            raise WaferError(f"error: {flag} applies to --target wse, not {args.target}")
    model, inputs = _load_torch_model(args)
    if args.target == "wse":
        from ..tuning.report import mode_table, placement_table

        machine, mode = args.machine or "wse2", args.mode or AUTO
        results = wafer.tune(model, inputs, budget_s=args.budget, database=args.db, executor=args.executor,
                             target="wse", machine=machine, mode=mode, precision=args.precision)
        print(mode_table(results) if mode == AUTO else placement_table(results))
        print(f"database: {args.db}; compile with wafer.compile(..., target='wse', machine='{machine}', "
              f"mode='{mode}', tuning='{args.db}')")
        return 0
    results = wafer.tune(model, inputs, budget_s=args.budget, database=args.db, threads=args.threads,
                         executor=args.executor, ray_address=args.ray_address)
    print(table(results))
    print(f"database: {args.db}")
    return 0


def _check_writable_folder(flag: str, path: str) -> None:
    """Refuse, before any work, a folder that cannot be created or written to."""
    folder = Path(path).resolve()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise WaferError(f"error: cannot write {flag} '{path}': '{existing}' is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise WaferError(f"error: cannot write {flag} '{path}': '{existing}' is not writable")


def _list() -> int:
    from ..examples.models import EXAMPLES

    for example in EXAMPLES.values():
        print(f"  {example.name:14} {example.description}")
    return 0


def _quiet_torch_logs() -> None:
    """torch.export logs a warning, with the whole graph, before it raises on a model
    it cannot trace (a branch on data): the error Wafer prints says it in one line."""
    import logging

    import torch  # noqa: F401  (its logging is set up on import, then adjusted here)

    logging.getLogger("torch.fx.experimental.symbolic_shapes").setLevel(logging.ERROR)


def _load(args):
    """The model and its example inputs."""
    model, inputs, _ = _load_with_unit(args)
    return model, inputs


def _load_with_unit(args):
    """The model, its example inputs, and what one call computes: a model
    file's `CALL_UNIT` (a decode step's "token"), else "inference"."""
    from ..examples.models import EXAMPLES

    _quiet_torch_logs()

    if args.model in EXAMPLES:
        return *EXAMPLES[args.model].build(args.batch), DEFAULT_CALL_UNIT
    if not args.model.endswith(".py"):
        names = ", ".join(EXAMPLES)
        raise WaferError(f"error: unknown model '{args.model}': give a .py or .onnx file or one of: {names}")
    if not os.path.exists(args.model):
        raise WaferError(f"error: no such file '{args.model}'")
    module = run_user_file(args.model, "model file")
    inputs = call_user_function(module, "example_inputs", "model file")
    model = call_user_function(module, "make_model", "model file")
    import torch

    if not isinstance(model, torch.nn.Module):
        raise WaferError(f"{args.model}: error: make_model() must return a torch.nn.Module, "
                         f"but it returned a {type(model).__name__}")
    unit = getattr(module, "CALL_UNIT", DEFAULT_CALL_UNIT)
    if not isinstance(unit, str) or not unit.isalpha():
        raise WaferError(f"{args.model}: error: CALL_UNIT names what one call computes, a word such as "
                         f"'token', not {unit!r}")
    return model.eval(), _example_tensors(args.model, inputs), unit


def _example_tensors(path: str, inputs) -> tuple:
    """example_inputs()'s result as a tuple of tensors: one tensor, or a tuple or list of them."""
    import torch

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise WaferError(f"{path}: error: example_inputs() must return a tensor or a tuple of tensors, "
                             f"but its input {i} is of type {type(x).__name__}")
    return inputs


def _load_torch_model(args):
    """`_load` for the commands that take a PyTorch model only."""
    if args.model.endswith(".onnx"):
        raise WaferError(f"error: wafer {args.command} takes a bundled example or a .py file, not '{args.model}'")
    return _load(args)


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

    from ..pass_pipeline import parse_options
    from ..passes.pass_base import OptionError
    from ..pipelines.cpu import CpuPipeline

    try:
        options = parse_options(args.options or "")
    except OptionError as err:
        raise WaferError(f"error: --options: {err}") from None
    flags = {"tile-sizes": ",".join(map(str, args.tile_sizes or ())), "threads": args.threads}
    for key, value in flags.items():
        if value:
            if key in options:
                raise WaferError(f"error: --{key} {value} and --options '{key}={options[key]}' both set {key}")
            options[key] = str(value)
    if "threads" not in options and args.default_threads is not None:
        options["threads"] = str(args.default_threads)
    if args.profile or args.trace:
        options["profile"] = "true"
    try:
        pipeline = CpuPipeline.from_options(options)
    except OptionError as err:
        raise WaferError(f"error: {err}") from None
    return {f.name: getattr(pipeline, f.name) for f in dataclasses.fields(pipeline)}


def _run(args) -> int:
    import torch

    import wafer

    model, inputs = _load(args)
    repeat = args.repeat or 20
    options = _pipeline_options(args)
    print(f"model: {args.model}  inputs: {_shapes(inputs)}  target: {args.target}")

    start = time.perf_counter()
    compiled = wafer.compile(model, inputs, target=args.target, precision=args.precision, dump_ir=args.dump_ir,
                             progress=True, **options)
    compile_seconds = time.perf_counter() - start
    print(f"\ncompile: {compile_seconds:.2f} s (import + pipeline + JIT); pipeline stages:")
    print(compiled.compile_report.table())

    ok = _check_numerics(model, inputs, compiled(*inputs), args.precision)
    threads = _reference_threads(options)
    torch.set_num_threads(threads)
    with torch.no_grad():
        wafer_latency = _median_seconds(lambda: compiled(*inputs), repeat)
        eager_latency = _median_seconds(lambda: model(*inputs), repeat)
    print(
        f"latency (median of {repeat}, {_threads_text(threads)}): "
        f"wafer {wafer_latency * 1e3:.3f} ms, torch eager {eager_latency * 1e3:.3f} ms  "
        f"(wafer/eager = {wafer_latency / eager_latency:.2f}x)"
    )
    _print_memory(compiled)
    _print_profile(args, compiled.executable, inputs, repeat)
    return 0 if ok else 1


def _print_profile(args, executable, inputs, repeat: int) -> None:
    """--profile and --trace: where the time of `repeat` calls goes, kernel by kernel."""
    if not (args.profile or args.trace):
        return
    profile = executable.profile(executable.functions[0], *inputs, repeat=repeat)
    print(f"\nkernels, over {repeat} calls (the timers add about 2 us per kernel and call to the latency):")
    print(profile.table())
    _save(args.trace, profile.save_trace)


def _save(path: str | None, save) -> None:
    """Call `save(path)` when the path was given, turning an OSError into a one-line error."""
    if path is None:
        return
    try:
        save(path)
    except OSError as err:
        raise WaferError(f"error: cannot write '{path}': {err.strerror}") from None
    print(f"wrote {path}")


def _print_memory(compiled) -> None:
    live_set = compiled.compile_report.live_set_bytes["forward"]
    print(f"memory per call: peak {megabytes(compiled.last_peak_bytes)} of temporaries and results "
          f"({compiled.last_peak_bytes / max(live_set, 1):.2f}x the largest live buffer set, {megabytes(live_set)})")


def _run_onnx(args) -> int:
    """Compile an ONNX file for the CPU, run it on random inputs of its input
    shapes, check it against ONNX Runtime if that is installed, and time both."""
    import numpy as np

    import wafer

    if args.target != "cpu":
        raise WaferError(f"error: wafer run takes an .onnx model for --target cpu only; "
                         f"call wafer.compile_onnx(path, target='{args.target}') instead")
    repeat = args.repeat or 20
    options = _pipeline_options(args)
    start = time.perf_counter()
    compiled = wafer.compile_onnx(args.model, target="cpu", batch=args.batch, dump_ir=args.dump_ir,
                                  progress=True, **options)
    compile_seconds = time.perf_counter() - start
    rng = np.random.default_rng(0)
    inputs = [_random_array(spec.shape, spec.dtype, rng) for spec in compiled.input_specs]
    print(f"model: {args.model}  inputs: {_shapes(inputs)}  target: cpu")
    print(f"\ncompile: {compile_seconds:.2f} s (import + pipeline + JIT); pipeline stages:")
    print(compiled.compile_report.table())

    got = compiled(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    threads = _reference_threads(options)
    session = _onnxruntime_session(args.model, threads)
    feeds = dict(zip(compiled.input_names, inputs))
    ok = session is None or _report_error("onnxruntime", zip(got, session.run(None, feeds)))
    wafer_latency = _median_seconds(lambda: compiled(*inputs), repeat)
    line = f"latency (median of {repeat}, {_threads_text(threads)}): wafer {wafer_latency * 1e3:.3f} ms"
    if session is not None:
        reference_latency = _median_seconds(lambda: session.run(None, feeds), repeat)
        line += (f", onnxruntime {reference_latency * 1e3:.3f} ms  "
                 f"(wafer/onnxruntime = {wafer_latency / reference_latency:.2f}x)")
    print(line)
    _print_memory(compiled)
    _print_profile(args, compiled.executable, inputs, repeat)
    return 0 if ok else 1


def _random_array(shape, dtype, rng):
    """Normal floats; integers and booleans are 0 or 1, an index valid in any table."""
    if dtype.kind in "fc":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 2, shape).astype(dtype)


def _reference_threads(options: dict) -> int:
    """The threads the compiled code runs on, which the reference it is timed
    against gets too: eager on all cores against --threads 1 read a 196x2304x256
    matmul that ran level with torch at one thread each as 1.86x behind."""
    from ..pipelines.cpu import CpuPipeline

    return CpuPipeline.from_keywords(**options).thread_count()


def _threads_text(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def _onnxruntime_session(path: str, threads: int):
    """An ONNX Runtime session on the CPU on `threads` threads, or None (said so)
    when there is none to check against."""
    try:
        import onnxruntime
    except ImportError:
        print("\nno reference: onnxruntime is not installed (pip install onnxruntime)")
        return None
    try:
        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = threads
        return onnxruntime.InferenceSession(path, session_options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        print(f"\nno reference: onnxruntime cannot load the model: {str(err).strip().splitlines()[0]}")
        return None


def _run_wse(args) -> int:
    """Compile for the simulated wafer, check one run's numbers, print and save its cost."""
    import wafer

    model, inputs, unit = _load_with_unit(args)
    machine, mode = args.machine or "small", args.mode or "pipelined"
    print(f"model: {args.model}  inputs: {_shapes(inputs)}  target: wse ({machine}, {mode})")

    start = time.perf_counter()
    tuning = {"tuning": args.tuning} if args.tuning else {}
    compiled = wafer.compile(model, inputs, target="wse", machine=machine, mode=mode, precision=args.precision,
                             dump_ir=args.dump_ir, progress=True, **tuning)
    compile_seconds = time.perf_counter() - start
    print(f"\ncompile: {compile_seconds:.2f} s (import + pipeline); pipeline stages:")
    print(compiled.compile_report.table())

    start = time.perf_counter()
    got = compiled(*inputs)
    simulate_seconds = time.perf_counter() - start
    ok = _check_numerics(model, inputs, got, args.precision)
    report = compiled.report
    print(f"simulated latency {report.seconds * 1e6:,.2f} us per {unit} "
          f"(simulator wall time {simulate_seconds:.2f} s)\n")
    print(report.table(unit))
    _save(args.heatmap, report.save_heatmap)
    _save(args.trace, report.save_trace)
    return 0 if ok else 1


def _export(args) -> int:
    """Export a model for the CPU ahead of time and say what was written."""
    from ..aot import export

    model, inputs = _load_torch_model(args)
    options = _pipeline_options(args)
    start = time.perf_counter()
    artifact = export(model, inputs, args.output, **options)
    print(f"exported {args.model} (inputs: {_shapes(inputs)}) in {time.perf_counter() - start:.2f} s:")
    for path in (artifact.library, artifact.header, artifact.weights, artifact.executable):
        print(f"  {path}")
    print(f"check it: wafer verify {args.output} {args.model}" + (f" --batch {args.batch}" if args.batch > 1 else ""))
    return 0


def _verify(args) -> int:
    """Run an export's model_main on random inputs of the model's input shapes
    and check its outputs against PyTorch's."""
    import numpy as np
    import torch

    from ..aot import EXECUTABLE
    from ..exported import ExportedExecutable

    exported = ExportedExecutable(args.directory)
    model, examples = _load_torch_model(args)
    rng = np.random.default_rng(0)
    inputs = [_random_array(tuple(x.shape), x.numpy().dtype, rng) for x in examples]
    got = exported.run_main(*inputs)
    print(f"ran {exported.directory / EXECUTABLE} on random inputs: {_shapes(inputs)}")
    with torch.no_grad():
        expected = model(*[torch.from_numpy(x) for x in inputs])
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    return 0 if _report_error("torch", [(g, e.double().numpy()) for g, e in zip(got, expected)]) else 1


def _shapes(inputs) -> str:
    return ", ".join(str(tuple(x.shape)) for x in inputs)


def _check_numerics(model, inputs, got, precision: str = "fp32") -> bool:
    """Print the largest difference from PyTorch on the same inputs, computing at
    `precision`; True if within its tolerance (precision.TOLERANCE)."""
    import torch

    from ..precision import TOLERANCE, at_precision

    model, inputs, _ = at_precision(model, tuple(inputs), precision)
    with torch.no_grad():
        expected = model(*inputs)
    pairs = list(zip(got, expected)) if isinstance(expected, (tuple, list)) else [(got, expected)]
    return _report_error("torch", [(g.double(), e.double()) for g, e in pairs],  # numpy has no bfloat16
                         TOLERANCE[precision])


def _report_error(reference: str, pairs, tolerance: float = 1e-4) -> bool:
    """Print the largest difference of Wafer's results from `reference`'s,
    given as (wafer, reference) array pairs; True if within `tolerance` relative
    to the reference's largest magnitude."""
    import numpy as np

    pairs = [(np.asarray(g, np.float64), np.asarray(e, np.float64)) for g, e in pairs]
    error = max(float(np.abs(g - e).max(initial=0)) for g, e in pairs)
    scale = max(float(np.abs(e).max(initial=0)) for _, e in pairs)
    ok = error <= tolerance * max(scale, 1e-30)
    print(f"\nmax |wafer - {reference}| = {error:.3g}  (max |{reference}| = {scale:.3g}): {'OK' if ok else 'MISMATCH'}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
