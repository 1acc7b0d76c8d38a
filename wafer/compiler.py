"""`compile_mlir`: run a named pipeline stage by stage and build an executable."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from torch_mlir import ir

from .context import make_context
from .cpu_runtime import CpuExecutable
from .diagnostics import WaferError, collect_diagnostics, error_from_mlir, to_diagnostic
from .ir_dump import IrDump
from .live_buffers import largest_live_sets
from .pass_pipeline import build_pass_manager
from .passes.cpu_target import resolve as resolve_machine
from .passes.pass_base import OptionError
from .pipelines.cpu import CpuPipeline
from .pipelines.wse import WsePipeline
from .signatures import Signature, public_signatures
from .symbols import ARENA_BYTES

TARGETS = ("cpu", "wse")


@dataclass
class StageReport:
    """What one pipeline stage did, in op counts."""

    name: str
    seconds: float
    ops_before: collections.Counter
    ops_after: collections.Counter

    def summary(self) -> str:
        def count(ops, *names):
            """Ops named exactly `names`, or in a dialect when a name ends in '.'."""
            return sum(n for op, n in ops.items() if op in names or op.startswith(tuple(
                name for name in names if name.endswith(".")
            )))

        linalg_before, linalg_after = count(self.ops_before, "linalg."), count(self.ops_after, "linalg.")
        parts = [f"{sum(self.ops_before.values())} -> {sum(self.ops_after.values())} ops"]
        if linalg_before != linalg_after:
            parts.append(f"linalg ops {linalg_before} -> {linalg_after}")
        for label, names in (
            ("forall loops", ("scf.forall",)),
            ("vector ops", ("vector.",)),
            ("allocs", ("memref.alloc",)),
            ("deallocs", ("memref.dealloc",)),
        ):
            before, after = count(self.ops_before, *names), count(self.ops_after, *names)
            if before != after:
                parts.append(f"{label} {before} -> {after}")
        return ", ".join(parts)


@dataclass
class CompileReport:
    stages: list[StageReport] = field(default_factory=list)
    seconds: float = 0.0
    strategies: list[str] = field(default_factory=list)  # each `wafer.strategy` the passes chose
    machine: str = ""  # the machine the strategies were chosen for
    # Per public function: the largest set of the model's tensors alive at once (live_buffers).
    live_set_bytes: dict[str, int] = field(default_factory=dict)
    # Per function: the bytes of the arena its temporaries share (wafer-plan-buffers).
    arena_bytes: dict[str, int] = field(default_factory=dict)

    def record_import(self, seconds: float) -> None:
        """Put the front end's import first: it made the module the first stage took."""
        ops = self.stages[0].ops_before
        self.stages.insert(0, StageReport("import", seconds, ops, ops))
        self.seconds += seconds

    def table(self) -> str:
        lines = [f"{'stage':10} {'ms':>8}  what it did"]
        lines += [f"{s.name:10} {s.seconds * 1e3:8.1f}  {s.summary()}" for s in self.stages]
        lines += [f"machine: {self.machine}"] if self.machine else []
        lines += [f"strategy: {text}" for text in self.strategies]
        lines += [f"largest live buffer set of @{name}: {megabytes(size)}" for name, size in self.live_set_bytes.items()]
        lines += [f"arena of @{name}'s temporaries: {megabytes(size)}" for name, size in self.arena_bytes.items()]
        return "\n".join(lines)


def megabytes(size: int) -> str:
    return f"{size / 2**20:.3f} MB"


def strategies(module: ir.Module) -> list[str]:
    """The `wafer.strategy` notes that passes leave on functions, in order."""
    return [
        ir.StringAttr(text).value
        for op in module.body.operations
        if op.operation.name == "func.func" and "wafer.strategy" in op.attributes
        for text in op.attributes["wafer.strategy"]
    ]


def count_ops(module: ir.Module) -> collections.Counter:
    counts = collections.Counter()

    def visit(op: ir.Operation) -> ir.WalkResult:
        counts[op.name] += 1
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return counts


def parse_module(text: str, ctx: ir.Context) -> ir.Module:
    try:
        return ir.Module.parse(text, ctx)
    except ir.MLIRError as err:
        raise error_from_mlir(err, "cannot parse module") from None


def run_stages(module: ir.Module, stages: list[tuple[str, str]], after_stage=None,
               dump_ir: str | None = None, progress: bool = False) -> CompileReport:
    """Run each stage's pipeline over `module`, counting ops around each;
    `after_stage(name, module, report)`, if given, looks at the IR each stage left.
    `dump_ir`, a folder, gets the module before the first stage and after each
    (ir_dump.py); `progress` shows a bar of the stages when stderr is a terminal."""
    from tqdm import tqdm  # imported on first use: 70 ms that wafer-opt's start does without

    report = CompileReport()
    ctx = module.context
    after = count_ops(module)
    dump = IrDump(dump_ir) if dump_ir is not None else None
    if dump is not None:
        dump.write("import", module)
    bar = tqdm(total=len(stages), desc="compile", unit="stage", leave=False, disable=None if progress else True)
    with collect_diagnostics(ctx) as diagnostics, bar:
        for name, text in stages:
            bar.set_postfix_str(name)
            before, start = after, time.perf_counter()
            pm = build_pass_manager(f"builtin.module({text})", ctx)
            # Verified once per stage: after every pass, verification was a third of
            # the lowering's time (the transformer layer: 0.2 of 0.6 s).
            pm.enable_verifier(False)
            try:
                pm.run(module.operation)
                module.operation.verify()
            except ir.MLIRError as err:
                found = [to_diagnostic(d) for d in err.error_diagnostics] or diagnostics
                errors = [str(d) for d in found if d.severity == "error"] or [str(d) for d in found]
                raise WaferError("\n".join(errors) or f"error: stage '{name}' failed") from None
            after = count_ops(module)  # the next stage's before: a walk of 15k LLVM ops takes 25 ms
            report.stages.append(StageReport(name, time.perf_counter() - start, before, after))
            # The longest list: later stages add notes, and lowering leaves no func.func.
            report.strategies = max(report.strategies, strategies(module), key=len)
            if after_stage is not None:
                after_stage(name, module, report)
            if dump is not None:
                dump.write(name, module)
            bar.update()
    report.seconds = sum(s.seconds for s in report.stages)
    return report


def compile_mlir(module_or_text, target: str = "cpu", **options) -> CpuExecutable:
    """Compile a linalg-on-tensors module (text or `ir.Module`) for `target`.

    `options` are the target pipeline's options, e.g. `tile_sizes=(8, 64)`.
    An `ir.Module` is copied (with its locations) into a fresh Wafer context,
    so the caller's IR is left as it was.
    """
    if isinstance(module_or_text, ir.Module):
        text = module_or_text.operation.get_asm(enable_debug_info=True)
    else:
        text = str(module_or_text)
    return compile_module(parse_module(text, make_context()), target, **options)


def compile_module(module: ir.Module, target: str = "cpu", **options):
    """Compile a module that lives in a Wafer context; it is lowered in place.

    Besides the target pipeline's options, `dump_ir="DIR"` writes the module
    after each stage to DIR, and `progress=True` shows the stages as a bar
    (see `run_stages`).
    """
    if target not in TARGETS:
        raise WaferError(f"error: unknown target '{target}' (known: {', '.join(TARGETS)})")
    if target == "wse":
        return _compile_wse(module, **options)
    start = time.perf_counter()
    signatures, pipeline, report = lower_for_cpu(module, **options)
    jit_start = time.perf_counter()
    ops = report.stages[-1].ops_after
    executable = CpuExecutable(module, signatures, openmp=uses_openmp(report), out_params=pipeline.out_params,
                               arena_bytes=report.arena_bytes)
    report.stages.append(StageReport("jit", time.perf_counter() - jit_start, ops, ops))
    report.seconds = time.perf_counter() - start
    executable.compile_report = report
    return executable


def lower_for_cpu(module: ir.Module, dump_ir: str | None = None, progress: bool = False,
                  **options) -> tuple[dict[str, Signature], CpuPipeline, CompileReport]:
    """Lower a module in place to the LLVM dialect with the cpu pipeline; return the
    signatures of its public functions (read before lowering), the pipeline and its
    report. The JIT (`compile_module`) and the ahead-of-time artifact (aot.py) share it."""
    signatures = public_signatures(module)
    # A result's buffer can be the caller's only if its size is known before the call.
    dynamic = [s.name for s in signatures.values() if any(None in r.shape for r in s.results)]
    try:
        pipeline = CpuPipeline.from_keywords(**{"out_params": not dynamic, **options})
    except OptionError as err:
        raise WaferError(f"error: {err}") from None
    if pipeline.out_params and dynamic:
        raise WaferError(f"error: out-params needs static result shapes, and @{dynamic[0]} returns a dynamic one")
    report = run_stages(module, pipeline.stages(), after_stage=_record_buffers, dump_ir=dump_ir, progress=progress)
    report.machine = resolve_machine(pipeline.machine).describe()
    return signatures, pipeline, report


def uses_openmp(report: CompileReport) -> bool:
    """Does the lowered code call the OpenMP runtime (threads > 1 left a parallel loop)?"""
    return report.stages[-1].ops_after["omp.parallel"] > 0


def _record_buffers(stage: str, module: ir.Module, report: CompileReport) -> None:
    """The largest live sets of the model as imported, and the arenas bufferization planned."""
    if stage == CpuPipeline.model_stage:
        report.live_set_bytes = largest_live_sets(module)
    elif stage == "bufferize":
        report.arena_bytes = {
            ir.StringAttr(op.attributes["sym_name"]).value: ir.IntegerAttr(op.attributes[ARENA_BYTES]).value
            for op in module.body.operations if op.operation.name == "func.func" and ARENA_BYTES in op.attributes
        }


def _compile_wse(module: ir.Module, machine="small", region=None, dump_ir=None, progress=False, **options):
    """Lower to a placed `wse` program for `machine` (a preset name or a `Machine`),
    optionally restricted to a `region=(width, height)` of its fabric; `options`
    are the wse pipeline's (mode, accumulate, tuning)."""
    from .wse_target.executable import WseExecutable

    start = time.perf_counter()
    pipeline, target_machine, signatures = prepare_wse(module, machine, region, **options)
    report = run_stages(module, pipeline.stages(), dump_ir=dump_ir, progress=progress)
    executable = WseExecutable(module, signatures, target_machine)
    report.seconds = time.perf_counter() - start
    executable.compile_report = report
    return executable


def prepare_wse(module: ir.Module, machine="small", region=None, **options):
    """The wse pipeline for `options`, the machine (restricted to `region`) and
    the module's signatures; the module is marked with the machine it targets."""
    import dataclasses

    from .dialects.wse import MACHINE_ATTR, FabricInfo
    from .wse_target.machine import get_machine

    try:
        target_machine = get_machine(machine)
    except ValueError as err:
        raise WaferError(f"error: {err}") from None
    if region is not None:
        width, height = region
        if not (0 < width <= target_machine.width and 0 < height <= target_machine.height):
            raise WaferError(f"error: region {width}x{height} does not fit the "
                             f"{target_machine.width}x{target_machine.height} fabric of '{target_machine.name}'")
        target_machine = dataclasses.replace(target_machine, width=width, height=height)
    try:
        pipeline = WsePipeline.from_keywords(machine=target_machine.name, **options)
    except OptionError as err:
        raise WaferError(f"error: {err}") from None
    signatures = public_signatures(module)
    for signature in signatures.values():
        scalars = [f"{kind} {i}" for kind, specs in (("argument", signature.args), ("result", signature.results))
                   for i, spec in enumerate(specs) if spec.scalar]
        if scalars:
            raise WaferError(f"error: {scalars[0]} of @{signature.name} is a scalar; the wse target "
                             "takes and returns tensors only (the cpu target takes both)")
    with module.context:
        module.operation.attributes[MACHINE_ATTR] = FabricInfo.of(target_machine).to_attr()
    return pipeline, target_machine, signatures
