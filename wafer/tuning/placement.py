"""`tune(..., target="wse")`: search each region's rectangle on the simulator.

The model goes through the wse pipeline up to wse-place. Each region's
candidates are the rectangles that hold it in its place (its strip, or the
whole fabric), each with every algorithm a contraction may step by there
(SUMMA, and Cannon on a square that k splits over), ranked by wse-place's
time model; the first is the one wse-place takes. A round puts every region on its next candidate not yet
measured, distributes and routes a copy of the module, and costs it with
`estimate()`: each region's row is its own compute and communication, so a
round measures one candidate of every region (a rectangle that overflows a
PE's SRAM when distributed is found by halving the round, and recorded as
unfit). Regions with the same body
(identical layers) share a record and a candidate. Each round's results go to
the tuning database (database.py, the CPU tuner's file) before the next, so
Ctrl-C keeps them and a rerun goes on from there. Simulated cycles do not
change between runs: a candidate is measured once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..compiler import prepare_wse, run_stages
from ..diagnostics import WaferError
from ..dialects.wse import fabric_of, int_attr, regions_of, str_attr
from ..passes.wse_place import Demand, demand, places, placement_key, region_key, set_rect
from ..wse_target.simulator import estimate
from .database import Placement, PlacementDatabase

ROUNDS = 12  # candidates measured per region, at most, the placement's own included
_PLACED = "place"  # the last pipeline stage before the search


@dataclass(frozen=True)
class PlacementResult:
    """One distinct region's placement: wse-place's own and the best measured."""

    region: str  # its database key
    names: tuple[str, ...]  # the regions that share it
    default: Placement | None
    best: Placement | None
    measured_now: int


def tune_placement(model, example_inputs, budget_s: float = 60, database: str = "wafer-tuning.json",
                   machine: str = "wse2", mode: str = "whole-wafer", precision: str = "fp32",
                   rounds: int = ROUNDS, progress: bool = True) -> list[PlacementResult]:
    """Search the rectangle of each distinct region of `model` on `machine` in
    `mode` within about `budget_s` seconds, recording into the `database` file
    that `wafer.compile(..., target="wse", tuning=database)` reads."""
    from tqdm import tqdm

    from ..frontend import import_model
    from ..precision import at_precision, wse_defaults

    example_inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    model, example_inputs, boundary = at_precision(model, example_inputs, precision)
    module = import_model(model, example_inputs)
    pipeline, target, _ = prepare_wse(module, machine, mode=mode, **wse_defaults(boundary))
    stages = pipeline.stages()
    split = next(i for i, (name, _) in enumerate(stages) if name == _PLACED) + 1
    run_stages(module, stages[:split])
    search = _Search(module, target, mode, database, rounds)
    deadline = time.perf_counter() + budget_s
    with tqdm(total=rounds, desc="place", unit="round", disable=not progress or None) as bar:
        try:
            for _ in range(rounds):
                if not search.round(stages[split:]):
                    break
                bar.update()
                if time.perf_counter() > deadline:
                    break
        except KeyboardInterrupt:  # the rounds so far are in the database already
            bar.write("interrupted: the measurements so far are saved")
    return search.results()


class _Search:
    """The regions of a placed module, their candidates, and the rounds run over them."""

    def __init__(self, module, machine, mode: str, database: str, rounds: int):
        self.module, self.machine = module, machine
        regions = regions_of(module.operation)
        fabric = fabric_of(regions[0])
        self.db = PlacementDatabase(database, placement_key(fabric, mode))
        self.demands = [demand(region, preloaded=mode == "pipelined") for region in regions]
        self.places = places(regions, self.demands, fabric, mode)
        self.keys = [region_key(region) for region in regions]
        self.names = [str_attr(region, "sym_name") for region in regions]
        self.counts = {key: 0 for key in self.keys}
        # A record is measured on the first region that has its key (pipelined,
        # in that one's strip); the others take its candidate where it fits theirs.
        self.first = {key: self.keys.index(key) for key in self.counts}
        self.candidates = {
            key: _spread(_with_kinds(self.demands[i], self.demands[i].candidates(
                fabric.height, self.places[i].cols, fabric.sram_bytes)), rounds)
            for key, i in self.first.items()}

    def round(self, stages) -> bool:
        """Measure the next candidate of every region that has one left; False if none has."""
        chosen = {key: shape for key in self.counts if (shape := self._next(key)) is not None}
        if not chosen:
            return False
        self._measure(chosen, stages)
        self.db.save()
        return True

    def _measure(self, chosen: dict, stages) -> None:
        """Cost the regions on the `chosen` rectangles. A rectangle that
        wse-distribute finds over a PE's SRAM (placement's count of a PE's bytes
        runs a little short) is recorded as unfit: the round is split in halves
        until the one that fails is alone."""
        try:
            cycles = self._trial(chosen, stages)
        except WaferError:
            if len(chosen) > 1:
                items = list(chosen.items())
                self._measure(dict(items[:len(items) // 2]), stages)
                self._measure(dict(items[len(items) // 2:]), stages)
                return
            ((key, (rows, cols, kind)),) = chosen.items()
            if self.db.default(key) is None:
                raise  # wse-place's own rectangle: the model does not compile at all
            self.db.reject(key, rows, cols, kind)
            self.counts[key] += 1
            return
        for key, (rows, cols, kind) in chosen.items():
            measured = Placement(rows, cols, cycles[self.names[self.first[key]]], kind)
            self.db.add(key, measured, self.db.default(key) or measured)  # the first round is wse-place's own
            self.counts[key] += 1

    def _trial(self, chosen: dict, stages) -> dict[str, float]:
        """Each region's cycles with the `chosen` regions on their rectangles."""
        with self.module.context:
            trial = self.module.operation.clone()
            for region, need, key, place in zip(regions_of(trial), self.demands, self.keys, self.places):
                rows, cols, kind = chosen.get(key, (int_attr(region, "height"), int_attr(region, "width"),
                                                    str_attr(region, "kind")))
                if cols <= place.cols:
                    set_rect(region, need, place.x, cols, rows, place.slot, kind)
            run_stages(trial, stages)
            report = estimate(trial, self.machine, "forward")
        return {op.name: op.compute_cycles + op.comm_cycles for op in report.ops}

    def _next(self, key: str) -> tuple[int, int, str] | None:
        tried = self.db.tried(key)
        return next((shape for shape in self.candidates[key] if shape not in tried), None)

    def results(self) -> list[PlacementResult]:
        return [PlacementResult(key, tuple(n for n, k in zip(self.names, self.keys) if k == key),
                                self.db.default(key), self.db.best(key), self.counts[key])
                for key in self.counts]


def _with_kinds(need: Demand, shapes: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Each rectangle with each algorithm a contraction's region may use there,
    the modelled fastest first; a rowwise region's with the kind "" (it has one)."""
    return [(rows, cols, kind) for rows, cols in shapes for kind in need.algorithms(rows, cols) or ("",)]


def _spread(ranked: list[tuple[int, int, str]], count: int) -> list[tuple[int, int, str]]:
    """`count` of the ranked candidates to measure, in order: the best half by
    the time model, then the rest of the ranking at even steps, so that shapes
    the model ranks low (it misjudges some) are tried too."""
    head = ranked[:(count + 1) // 2]
    rest = ranked[len(head):]
    step = max(1, len(rest) // max(count - len(head), 1))
    return head + rest[::step][:count - len(head)]
