"""`tune`: measure the packed kernel's candidates for each contraction of a model.

The model is imported and taken through the cpu pipeline up to wafer-pack-matmul,
so the contractions are the ones it will pack (convolutions as im2col matmuls
included). The budget is shared out as the run goes: each contraction may use
what is left over the contractions still to come. Each gets its candidates
measured best-first by the corrected cost model (space.py), up to `top` of
them, and at least one when it has none yet. Every measurement is written to
the database at once, so Ctrl-C keeps them all and a rerun goes on from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..compiler import run_stages
from ..passes.cpu_target import CpuTarget, host_flags, resolve
from ..passes.pack_matmul import match_contraction, tuning_signature
from ..passes.pass_base import find_ops
from ..pipelines.cpu import CpuPipeline
from .database import Measurement, TuningDatabase, cpu_key
from .measure import ContractionBench, time_against_default
from .signature import ContractionSignature
from .space import default_choice, rank

TOP = 8  # candidates measured per contraction, at most
TIMING_SHARE = 0.2  # of a candidate's share of the budget, spent timing it (the rest compiles)


@dataclass(frozen=True)
class TuningResult:
    """One contraction's best measured kernel, and how many candidates this run measured."""

    signature: ContractionSignature
    best: Measurement | None
    measured_now: int


def tune(model, example_inputs, budget_s: float = 60, database: str = "wafer-tuning.json", threads: int = 0,
         top: int = TOP, progress: bool = True) -> list[TuningResult]:
    """Tune the packed kernel of each distinct contraction of `model` on this CPU
    at `threads` (0: one per core) within about `budget_s` seconds, recording into
    the `database` file that `wafer.compile(..., tuning=database)` reads."""
    from tqdm import tqdm

    from ..frontend import import_model

    example_inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    pipeline = CpuPipeline.from_keywords(threads=threads)
    cpu = resolve(pipeline.machine)
    db = TuningDatabase(database, cpu_key(cpu, host_flags()))
    deadline = time.perf_counter() + budget_s
    signatures = contractions(import_model(model, example_inputs), pipeline)
    results = {s: 0 for s in signatures}
    with tqdm(signatures, desc="tune", unit="contraction", disable=not progress or None) as bar:
        try:
            for left, signature in zip(range(len(signatures), 0, -1), bar):
                bar.set_postfix_str(signature.describe())
                share = (deadline - time.perf_counter()) / left
                results[signature] = _tune_one(signature, db, cpu, share, top)
        except KeyboardInterrupt:  # what was measured is in the database already
            bar.write("interrupted: the measurements so far are saved")
    return [TuningResult(s, db.lookup(s), count) for s, count in results.items()]


def contractions(module, pipeline: CpuPipeline) -> list[ContractionSignature]:
    """The distinct signatures of the contractions wafer-pack-matmul will see, in order."""
    stages = []
    for name, text in pipeline.stages():
        if name == "pack":
            break
        stages.append((name, text))
    run_stages(module, stages + [("contractions", pipeline.contraction_passes())])
    found = (match_contraction(op.opview) for op in find_ops(module.operation, lambda op: True))
    signatures = (tuning_signature(c, pipeline.thread_count()) for c in found if c is not None)
    return list(dict.fromkeys(s for s in signatures if s is not None))


def _tune_one(signature: ContractionSignature, db: TuningDatabase, cpu: CpuTarget, budget_s: float,
              top: int) -> int:
    """Measure candidates of one contraction until its budget or `top` runs out; how many."""
    deadline = time.perf_counter() + budget_s
    measured = db.measured(signature)
    default = default_choice(cpu)
    bench, default_kernel, count = ContractionBench(signature), None, 0
    while len(measured) < top + 1 and (not measured or time.perf_counter() < deadline):
        ranked = rank(signature, cpu, measured)
        candidates = [c for c in ranked if c != default]
        if not candidates:
            break
        default_kernel = default_kernel or bench.compile(default)
        remaining = max(0.0, deadline - time.perf_counter())
        per_candidate = remaining / max(1, top + 1 - len(measured))
        result = time_against_default(bench.compile(candidates[0]), default_kernel, candidates[0],
                                      TIMING_SHARE * per_candidate)
        if not any(m.choice == default for m in measured):  # the default is every record's reference
            db.add(signature, Measurement(default, result.default_ms, result.default_ms))
        db.add(signature, result)
        measured, count = db.measured(signature), count + 1
    return count
