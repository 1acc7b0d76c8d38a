"""`tune(..., target="wse", mode="auto")`: search each placement mode, then keep the faster.

Each mode gets its share of the budget for placement.py's search of its
regions' rectangles; the model is then compiled in that mode with those
records and costed by `estimate()`. The mode with fewer cycles per inference
in steady state (a pipeline's stage time, else the whole run) is recorded for
the model, and wse-place's `mode=auto` takes it. A mode the model does not
fit (pipelined, with more regions than columns) is reported, not searched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..diagnostics import WaferError
from ..passes.placement_modes import MODES
from .database import ModeDatabase
from .placement import ROUNDS, PlacementResult, search_placement


# A ModeResult's reason when Ctrl-C cut its search short: no mode is recorded then.
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class ModeResult:
    """One mode's searched regions and tuned cycles per inference, or why the model does not fit it."""

    mode: str
    regions: list[PlacementResult]
    period: float | None
    reason: str = ""


def search_modes(model, example_inputs, budget_s: float = 60, database: str = "wafer-tuning.json",
                 machine: str = "wse2", precision: str = "fp32", rounds: int = ROUNDS, progress: bool = True,
                 executor: str = "local", ray_address: str | None = None) -> list[ModeResult]:
    """Search the regions' rectangles in each mode within about `budget_s` seconds
    in all, and record the faster mode; compile with `mode="auto"` to take it."""
    results, keys = [], None
    deadline = time.perf_counter() + budget_s
    for left, mode in zip(range(len(MODES), 0, -1), MODES):
        share = max(0.0, deadline - time.perf_counter()) / left
        try:
            search = search_placement(model, example_inputs, share, database, machine, mode, precision, rounds,
                                      progress, executor, ray_address)
        except WaferError as err:
            results.append(ModeResult(mode, [], None, str(err).removeprefix("error: ").splitlines()[0]))
            continue
        if search.interrupted:  # the rectangles so far are recorded; the mode is not chosen on half a search
            return results + [ModeResult(mode, search.results, None, INTERRUPTED)]
        keys = search.model, search.fabric
        results.append(ModeResult(mode, search.results,
                                  _period(model, example_inputs, database, machine, mode, precision)))
    if keys is None:
        raise WaferError(f"error: the model fits no placement mode on '{machine}': {results[0].reason}")
    model_key, fabric = keys
    ModeDatabase(database, fabric).add(model_key, {r.mode: r.period for r in results if r.period is not None})
    return results


def _period(model, example_inputs, database: str, machine: str, mode: str, precision: str) -> float:
    """Cycles per inference in steady state of the model placed in `mode` with the database's records."""
    from ..frontend import compile

    compiled = compile(model, example_inputs, target="wse", machine=machine, mode=mode, precision=precision,
                       tuning=database)
    return compiled.estimate().period_cycles

