"""`tune`: measure each convolution's algorithms, then the packed kernel's
candidates for each contraction of a model.

The model is imported and taken through the cpu pipeline up to the pack stage.
Each distinct convolution that more than one algorithm can compute
(wafer-winograd's, wafer-direct-conv's, wafer-im2col's) is built alone with
each and timed; the fastest is recorded. The module then goes through the
pack stage's passes up to wafer-pack-matmul, with those records applied, so
the contractions are the ones it will pack (convolutions as im2col matmuls
included, benchmarked with their gather). The budget is shared out as the run
goes: each contraction may use what is left over the contractions still to
come. Each gets its candidates measured best-first by the corrected cost model
(space.py), up to `top` of them, and at least one when it has none yet;
then the leader is timed once more, and again whoever leads after that,
until the leader has been timed twice (the database counts a candidate by
its slowest timing: see database.py). Where the run changed algorithms, and
again where it changed kernels, the whole model is timed with and without
the changes (in_model.py), which stay only if they make it faster. An
executor (executor.py) runs the measurements, as many at once as it has slots;
each result is written to the database as it arrives, so Ctrl-C keeps them all
and a rerun goes on from there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from ..compiler import run_stages
from ..diagnostics import WaferError
from ..passes.cpu_target import CpuTarget, host_flags, resolve
from ..passes.placement_modes import AUTO
from ..passes.direct_conv import DirectConv
from ..passes.matmul_contraction import match_contraction
from ..passes.matmul_gathers import im2col_gather
from ..passes.matmul_plan import tuning_signature
from ..passes.im2col import Im2col
from ..passes.linalg_builders import is_constant
from ..passes.pass_base import OptionError, check_tuning_path, find_ops
from ..passes.winograd import Winograd
from ..pipelines.cpu import CpuPipeline
from .conv import Convolution
from .database import KernelChoice, Measurement, TuningDatabase, cpu_key
from .executor import Executor, make_executor
from .in_model import algorithm_changes, check_in_model, kernel_changes
from .measure import AlgorithmJob, Job, Workload
from .signature import ContractionSignature
from .space import default_choice, rank

TOP = 8  # candidates measured per contraction, at most
TIMING_SHARE = 0.2  # of a candidate's share of the budget, spent timing it (the rest compiles)


@dataclass(frozen=True)
class ConvWorkload:
    """A convolution and the algorithms that can compute it."""

    conv: Convolution
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class AlgorithmResult:
    """One convolution's algorithms: each one's ms, the one recorded, and the rules' own."""

    conv: Convolution
    times: dict[str, float]
    best: str | None
    default: str | None
    measured_now: bool


@dataclass(frozen=True)
class TuningResult:
    """One contraction's best measured kernel, and how many candidates this run measured."""

    signature: ContractionSignature
    best: Measurement | None
    measured_now: int


def tune(model, example_inputs, budget_s: float = 60, database: str = "wafer-tuning.json", threads: int = 0,
         top: int = TOP, progress: bool = True, executor: str = "local",
         ray_address: str | None = None, target: str = "cpu", **wse_options) -> list:
    """Tune the packed kernel of each distinct contraction of `model` on this CPU
    at `threads` (0: one per core) within about `budget_s` seconds, recording into
    the `database` file that `wafer.compile(..., tuning=database)` reads.
    `executor` runs the measurements: "local" (here, one at a time) or "ray"
    (Ray tasks on the cluster at `ray_address`, or on a local Ray instance).

    `target="wse"` searches each region's rectangle on the simulator instead
    (placement.py; `wse_options`: machine, mode, precision), into the same file,
    its rounds run by the same executors; with mode "auto" (the default) in
    each placement mode, recording the faster (modes.py)."""
    from tqdm import tqdm

    if target == "wse":
        from .modes import search_modes
        from .placement import tune_placement

        if wse_options.get("mode", AUTO) == AUTO:
            wse_options.pop("mode", None)
            return search_modes(model, example_inputs, budget_s, database, progress=progress, executor=executor,
                                ray_address=ray_address, **wse_options)
        return tune_placement(model, example_inputs, budget_s, database, progress=progress, executor=executor,
                              ray_address=ray_address, **wse_options)
    if target != "cpu":
        raise WaferError(f"error: unknown target '{target}' (known: cpu, wse)")
    if wse_options:
        raise WaferError(f"error: {', '.join(sorted(wse_options))}: options of the wse target's placement search")

    from ..frontend import import_model

    try:
        check_tuning_path("cpu", database)
    except OptionError as err:
        raise WaferError(f"error: {err}") from None
    example_inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    pipeline = CpuPipeline.from_keywords(threads=threads)
    cpu = resolve(pipeline.machine)
    db = TuningDatabase(database, cpu_key(cpu, host_flags()))
    runner = make_executor(executor, pipeline.thread_count(), ray_address)
    deadline = time.perf_counter() + budget_s
    conv_results, results, checks = [], {}, []
    try:
        module = before_pack(import_model(model, example_inputs), pipeline)
        convs = convolutions(module, pipeline)
        conv_results = {w.conv: False for w in convs}
        workloads = []
        with tqdm(total=len(convs), desc="tune", unit="item", disable=not progress or None) as bar:
            try:
                for left, workload in zip(range(len(convs), 0, -1), convs):
                    bar.set_postfix_str(f"conv {workload.conv.describe()}")
                    # Convolutions take at most half of the time left: contractions follow.
                    share = 0.5 * (deadline - time.perf_counter()) / left
                    conv_results[workload.conv] = _tune_algorithms(workload, db, pipeline, share, runner)
                    bar.update()
                measured_now = [w.conv.key(pipeline.thread_count()) for w in convs if conv_results[w.conv]]
                bar.set_postfix_str("the model, with and without the algorithms measured")
                # A third of what is left: the contractions and their own check follow.
                checks.append(check_in_model(model, example_inputs, db, algorithm_changes(db, measured_now),
                                             pipeline.thread_count(), (deadline - time.perf_counter()) / 3))
                applied = replace(pipeline, tuning=database) if db.path.exists() else pipeline
                workloads = contractions(module, applied)
                results = {w.signature: 0 for w in workloads}
                before = {w.signature: db.lookup(w.signature) for w in workloads}
                bar.total += len(workloads)
                for left, workload in zip(range(len(workloads), 0, -1), workloads):
                    bar.set_postfix_str(workload.signature.describe())
                    # Half of what is left goes to the contractions, shared out; the model check takes the rest.
                    share = 0.5 * (deadline - time.perf_counter()) / left
                    results[workload.signature] = _tune_one(workload, db, cpu, share, top, runner)
                    bar.update()
                bar.set_postfix_str("the model, with and without the kernels measured")
                checks.append(check_in_model(model, example_inputs, db, kernel_changes(db, before, default_choice(cpu)),
                                             pipeline.thread_count(), deadline - time.perf_counter()))
            except KeyboardInterrupt:  # what was measured is in the database already
                bar.write("interrupted: the measurements so far are saved")
    finally:
        runner.close()
    return ([_algorithm_result(w.conv, db, pipeline.thread_count(), conv_results.get(w.conv, False))
             for w in convs]
            + [check for check in checks if check is not None]
            + [TuningResult(s, db.lookup(s), count) for s, count in results.items()])


def _algorithm_result(conv: Convolution, db: TuningDatabase, threads: int, measured_now: bool) -> AlgorithmResult:
    key = conv.key(threads)
    default, times = db.conv_times(key)
    return AlgorithmResult(conv, times, db.conv_algorithm(key), default, measured_now)


def before_pack(module, pipeline: CpuPipeline):
    """`module` taken through the cpu pipeline's stages before the pack stage."""
    stages = []
    for name, text in pipeline.stages():
        if name == "pack":
            break
        stages.append((name, text))
    run_stages(module, stages)
    return module


def convolutions(module, pipeline: CpuPipeline) -> list[ConvWorkload]:
    """The distinct convolutions of `module` (before the pack stage) wafer-im2col
    can compute, each with every algorithm that can, in order."""
    winograd, direct, im2col = (cls.from_keywords(machine=pipeline.machine)
                                for cls in (Winograd, DirectConv, Im2col))
    workloads = {}
    for op in find_ops(module.operation, lambda op: op.name == "linalg.conv_2d_nchw_fchw"):
        conv = op.opview
        if not im2col.can_compute(conv) or not is_constant(conv.operands[1]):
            continue
        algorithms = tuple(name for name, takes in (
            ("winograd", pipeline.winograd and winograd.can_compute(conv)),
            ("direct", pipeline.direct_conv and direct.can_compute(conv)),
            ("im2col", True), ("im2col-swapped", pipeline.orient)) if takes)
        workloads.setdefault(Convolution.of_op(conv), ConvWorkload(Convolution.of_op(conv), algorithms))
    return list(workloads.values())


def contractions(module, pipeline: CpuPipeline) -> list[Workload]:
    """The workloads of the distinct contractions wafer-pack-matmul will see in
    `module` (taken through `before_pack`), in order; an im2col contraction's
    carries its convolution (the first one of its signature's)."""
    run_stages(module, [("contractions", pipeline.contraction_passes())])
    workloads = {}
    for op in find_ops(module.operation, lambda op: True):
        contraction = match_contraction(op.opview)
        signature = contraction and tuning_signature(contraction, pipeline.thread_count())
        if signature is not None and signature not in workloads:
            gather = im2col_gather(contraction)
            conv = Convolution.of_gather(gather, signature.m) if gather is not None else None
            workloads[signature] = Workload(signature, conv)
    return list(workloads.values())


def _tune_algorithms(workload: ConvWorkload, db: TuningDatabase, pipeline: CpuPipeline, budget_s: float,
                     executor: Executor) -> bool:
    """Time the algorithms of one convolution that has no record yet, within about
    `budget_s` (most of it compiling), and the fastest, if not the default, again
    against the default; whether it was measured now."""
    key = workload.conv.key(pipeline.thread_count())
    if db.conv_algorithm(key) is not None or budget_s <= 0:
        return False
    job = AlgorithmJob(workload.conv, workload.algorithms, pipeline.thread_count(), TIMING_SHARE * budget_s, db.cpu)
    executor.submit(job)
    _, times = executor.next_done()
    ms = times.ms
    fastest = min(ms, key=ms.get)
    if fastest != times.default:  # timed again with the default, each kept at its slower time (see _tune_one)
        executor.submit(replace(job, algorithms=(times.default, fastest)))
        _, again = executor.next_done()
        ms = {algorithm: max(t, again.ms.get(algorithm, t)) for algorithm, t in ms.items()}
    db.add_conv(key, times.default, ms)
    return True


def _unconfirmed_leader(db: TuningDatabase, signature: ContractionSignature,
                        default: KernelChoice) -> KernelChoice | None:
    """The best candidate of `signature` if it is timed only once (None: the default leads)."""
    best = db.lookup(signature)
    if best is None or best.choice == default:
        return None
    timings = sum(m.choice == best.choice for m in db.measured(signature))
    return best.choice if timings < 2 else None


def _tune_one(workload: Workload, db: TuningDatabase, cpu: CpuTarget, budget_s: float, top: int,
              executor: Executor) -> int:
    """Measure candidates of one contraction until its budget or `top` runs out,
    up to `executor.slots` at once; how many."""
    signature = workload.signature
    deadline = time.perf_counter() + budget_s
    measured = db.measured(signature)
    default = default_choice(cpu)
    running, count = set(), 0
    while True:
        while len(running) < executor.slots and len(measured) + len(running) < top + 1 and (
                time.perf_counter() < deadline or not (measured or running)):
            choice = next((c for c in rank(signature, cpu, measured) if c != default and c not in running), None)
            if choice is None:
                break
            rounds = math.ceil((top + 1 - len(measured)) / executor.slots)  # of jobs side by side, still to come
            timing_s = TIMING_SHARE * max(0.0, deadline - time.perf_counter()) / rounds
            executor.submit(Job(workload, choice, default, timing_s, db.cpu))
            running.add(choice)
        if not running:
            leader = _unconfirmed_leader(db, signature, default)
            if leader is None:
                return count
            timing_s = TIMING_SHARE * max(0.0, deadline - time.perf_counter())
            executor.submit(Job(workload, leader, default, timing_s, db.cpu))
            running.add(leader)
        job, result = executor.next_done()
        running.discard(job.choice)
        if not any(m.choice == default for m in measured):  # the default is every record's reference
            db.add(signature, Measurement(default, result.default_ms, result.default_ms))
        db.add(signature, result)
        measured, count = db.measured(signature), count + 1
