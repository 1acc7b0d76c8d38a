"""`tune(..., target="wse")`: search each region's rectangle on the simulator.

The model goes through the wse pipeline up to wse-place. Each region's
candidates are the rectangles that hold it in its place (its strip, or the
whole fabric), each with every algorithm a contraction may run by there
(SUMMA, Cannon on a square that k splits over, rowwise where its shares
fit), ranked by wse-place's time model; the first is the one wse-place
takes. A SUMMA's tile of k (its panel) is searched too: the other panels
that fit the first SUMMA rectangle come next. A round puts every region on its next candidate not yet
measured, distributes and routes a copy of the module, and costs it with
`estimate()`: each region's row is its own compute and communication, so a
round measures one candidate of every region (a rectangle that overflows a
PE's SRAM when distributed is found by halving the round, and recorded as
unfit). Regions with the same body
(identical layers) share a record and a candidate, and a record their mean
cycles. A region's streams cross the rectangles of the regions it reads, so
its cycles depend on theirs: when the candidates are done, every region goes
on its best at once, and what each takes there is recorded, until the bests
hold. Each round's results go to
the tuning database (database.py, the CPU tuner's file) before the next, so
Ctrl-C keeps them and a rerun goes on from there. Simulated cycles do not
change between runs: a candidate is measured once.

An executor (executor.py, the CPU tuner's) runs the rounds: here, one at a
time, or as Ray tasks, as many at once as it has slots. For Ray a
`PlacementJob` carries the placed module as text, so a worker parses it and
runs the stages after wse-place itself; here, a round copies the module
already placed in memory. The first round, wse-place's own
rectangles, finishes before any other starts: it is each record's default.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial

from ..compiler import parse_module, prepare_wse, run_stages
from ..context import make_context
from ..diagnostics import WaferError
from ..dialects.wse import fabric_of, int_attr, rect_of, regions_of, str_attr
from ..passes.wse_demand import Demand
from ..passes.wse_partition import SUMMA
from ..passes.wse_place import fabric_key, model_key, places, placement_key, set_rect
from ..passes.wse_region_demand import demands_of, region_key
from ..wse_target.simulator import estimate
from .database import Candidate, Placement, PlacementDatabase
from .executor import make_executor

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
                   rounds: int = ROUNDS, progress: bool = True, executor: str = "local",
                   ray_address: str | None = None) -> list[PlacementResult]:
    """Search the rectangle of each distinct region of `model` on `machine` in
    `mode` within about `budget_s` seconds, recording into the `database` file
    that `wafer.compile(..., target="wse", tuning=database)` reads; `executor`
    runs the rounds ("local", or "ray": Ray tasks at `ray_address`)."""
    return search_placement(model, example_inputs, budget_s, database, machine, mode, precision, rounds,
                            progress, executor, ray_address).results


@dataclass(frozen=True)
class PlacementSearch:
    """A search's results, the keys of the model and fabric it placed (see
    wse_place), and whether Ctrl-C cut it short."""

    results: list[PlacementResult]
    model: str
    fabric: str
    interrupted: bool = False


def search_placement(model, example_inputs, budget_s: float, database: str, machine: str, mode: str,
                     precision: str = "fp32", rounds: int = ROUNDS, progress: bool = True,
                     executor: str = "local", ray_address: str | None = None) -> PlacementSearch:
    """`tune_placement`, with the keys the mode search records the mode under."""
    from tqdm import tqdm

    from ..frontend import import_model
    from ..precision import at_precision, wse_defaults

    example_inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    model, example_inputs, boundary = at_precision(model, example_inputs, precision)
    module = import_model(model, example_inputs)
    options = {"mode": mode, **wse_defaults(boundary)}
    before, after, target = _stages(module, machine, options)
    run_stages(module, before)
    regions = _Regions(module, mode, target)
    if executor == "local":  # the rounds cost copies of this module, as placed here
        job, run = PlacementJob("", machine, tuple(options.items()), ()), partial(_measure_here, regions, after)
    else:  # each worker parses the placed module and builds its own regions
        job, run = PlacementJob(str(module), machine, tuple(options.items()), ()), measure_placement
    search = _Search(regions, database, rounds, job)
    runner = make_executor(executor, 1, ray_address, run=run)
    deadline = time.perf_counter() + budget_s
    interrupted = False
    with tqdm(total=rounds, desc=f"place {mode}", unit="round", disable=not progress or None) as bar:
        try:
            search.run(runner, deadline, bar.update)
        except KeyboardInterrupt:  # the rounds so far are in the database already
            bar.write("interrupted: the measurements so far are saved")
            interrupted = True
        finally:
            runner.close()
    return PlacementSearch(search.results(), model_key(regions.keys), fabric_key(regions.fabric), interrupted)


@dataclass(frozen=True)
class PlacementJob:
    """One round: the module as wse-place left it (text), how to compile the
    rest of it, and the rectangle each searched region takes."""

    placed: str
    machine: str
    options: tuple  # the wse pipeline's keywords, as (name, value) pairs
    chosen: tuple  # (region key, (rows, cols, kind)) pairs


def measure_placement(job: PlacementJob) -> dict[str, float | str]:
    """Each chosen region's cycles, or why its rectangle does not fit (the
    error's text); run wherever the executor sends the job."""
    options = dict(job.options)
    ctx = make_context()
    with ctx:
        module = parse_module(job.placed, ctx)
        _, after, target = _stages(module, job.machine, options)
        return _measure_here(_Regions(module, options["mode"], target), after, job)


def _measure_here(regions: _Regions, stages: list, job: PlacementJob) -> dict[str, float | str]:
    """`measure_placement` on regions already placed in this process."""
    return regions.measure(dict(job.chosen), stages)


def modelled_and_simulated(module, machine: str, **options) -> dict[str, tuple[float, float]]:
    """Each region's cycles as wse-place's model gives them on the rectangle it
    chose, and as the simulator then runs it (compute and communication), by
    region name: how far placement can trust its model. Compiles `module`
    through the wse pipeline with `options` (an explicit `mode`)."""
    before, after, target = _stages(module, machine, options)
    run_stages(module, before)
    with module.context:
        regions = regions_of(module.operation)
        modelled = {}
        for region, need in zip(regions, demands_of(regions, options["mode"])):
            _, _, width, height = rect_of(region)
            modelled[str_attr(region, "sym_name")] = need.cycles(height, width)
    run_stages(module, after)
    return {op.name: (modelled[op.name], op.compute_cycles + op.comm_cycles)
            for op in estimate(module, target).ops if op.name in modelled}


def _stages(module, machine: str, options: dict) -> tuple[list, list, object]:
    """The wse pipeline's stages up to wse-place and after it, and the machine."""
    pipeline, target, _ = prepare_wse(module, machine, **options)
    stages = pipeline.stages()
    split = next(i for i, (name, _) in enumerate(stages) if name == _PLACED) + 1
    return stages[:split], stages[split:], target


class _Regions:
    """A placed module's regions: their demands, places, keys and names, and
    the rounds that cost candidates of them."""

    def __init__(self, module, mode: str, machine):
        self.module, self.machine = module, machine
        regions = regions_of(module.operation)
        self.fabric = fabric_of(regions[0])
        self.mode = mode
        self.demands = demands_of(regions, mode)
        self.places = places(regions, self.demands, self.fabric, mode)
        self.keys = [region_key(region) for region in regions]
        self.names = [str_attr(region, "sym_name") for region in regions]
        # A record's candidates are the first region's that has its key (pipelined,
        # in that one's strip); the others take its candidate where it fits theirs.
        self.first = {key: self.keys.index(key) for key in self.keys}

    def measure(self, chosen: dict, stages) -> dict[str, float | str]:
        """Cost the regions on the `chosen` rectangles. A rectangle that
        wse-distribute finds over a PE's SRAM (placement's count of a PE's bytes
        runs a little short) gets the error's text: the round is split in halves
        until the one that fails is alone."""
        try:
            cycles = self._trial(chosen, stages)
        except WaferError as err:
            if len(chosen) == 1:
                return {key: str(err) for key in chosen}
            items = list(chosen.items())
            return {**self.measure(dict(items[:len(items) // 2]), stages),
                    **self.measure(dict(items[len(items) // 2:]), stages)}
        return {key: self._mean(cycles, key) for key in chosen}

    def _mean(self, cycles: dict[str, float], key: str) -> float:
        """The mean cycles of the regions that share `key`: twins whose streams
        come from farther away take longer on the same rectangle."""
        shared = [cycles[name] for name, other in zip(self.names, self.keys) if other == key]
        return sum(shared) / len(shared)

    def _trial(self, chosen: dict, stages) -> dict[str, float]:
        """Each region's cycles with the `chosen` regions on their rectangles."""
        with self.module.context:
            trial = self.module.operation.clone()
            for region, need, key, place in zip(regions_of(trial), self.demands, self.keys, self.places):
                rows, cols, kind, panel = chosen.get(key, (int_attr(region, "height"), int_attr(region, "width"),
                                                           str_attr(region, "kind"), 0))
                if cols <= place.cols:
                    set_rect(region, need, place.x, cols, rows, place.slot, kind, panel)
            run_stages(trial, stages)
            report = estimate(trial, self.machine, "forward")
        return {op.name: op.compute_cycles + op.comm_cycles for op in report.ops}


class _Search:
    """The rounds over a placed module's regions, and their records."""

    def __init__(self, regions: _Regions, database: str, rounds: int, job: PlacementJob):
        self.regions, self.job, self.rounds = regions, job, rounds
        self.db = PlacementDatabase(database, placement_key(regions.fabric, regions.mode))
        self.counts = {key: 0 for key in regions.first}
        self.running: dict[str, set] = {key: set() for key in regions.first}  # candidates in flight
        fabric = regions.fabric
        self.candidates = {
            key: _spread(_candidates(regions.demands[i], regions.demands[i].candidates(
                fabric.height, regions.places[i].cols, fabric.sram_bytes)), rounds)
            for key, i in regions.first.items()}

    def run(self, executor, deadline: float, advance) -> None:
        """Submit rounds, up to the executor's slots at once, until every region
        has measured its candidates or the deadline passes; `advance()` per round."""
        in_flight = 0
        while True:
            defaults_known = all(self.db.default(key) is not None for key in self.counts)
            while in_flight < executor.slots and (defaults_known or not in_flight) \
                    and time.perf_counter() <= deadline:
                chosen = {key: shape for key in self.counts if (shape := self._next(key)) is not None}
                if not chosen:
                    break
                for key, shape in chosen.items():
                    self.running[key].add(shape)
                executor.submit(replace(self.job, chosen=tuple(chosen.items())))
                in_flight += 1
            if not in_flight:
                self._confirm(executor)
                return
            job, results = executor.next_done()
            in_flight -= 1
            self._record(dict(job.chosen), results)
            advance()

    def _confirm(self, executor) -> None:
        """Measure every region on its best candidate at once, and record what
        each takes there, until the bests hold (at most `rounds` times, as many
        as a region's candidates). A round measured the candidates
        of all regions together, and a region's streams cross the rectangles
        of the regions it reads: a candidate measured beside others' candidates
        may be slower beside their bests, and a compile takes the bests. One
        that no longer routes beside them (the error's text) is unfit."""
        for _ in range(self.rounds):
            chosen = {key: best.candidate for key in self.counts if (best := self.db.best(key))}
            if all(shape == self.db.default(key).candidate for key, shape in chosen.items()):
                return
            executor.submit(replace(self.job, chosen=tuple(chosen.items())))
            _, results = executor.next_done()
            changed = [self.db.confirm(key, shape, results[key]) for key, shape in chosen.items()]
            self.db.save()
            if not any(changed):
                return

    def _record(self, chosen: dict, results: dict) -> None:
        """Put a round's results in the database, and save it."""
        for key, (rows, cols, kind, panel) in chosen.items():
            self.running[key].discard((rows, cols, kind, panel))
            self.counts[key] += 1
            result = results[key]
            if isinstance(result, str):
                if self.db.default(key) is None:  # wse-place's own rectangle: the model does not compile
                    raise WaferError(result)
                self.db.reject(key, rows, cols, kind, panel)
            else:
                measured = Placement(rows, cols, result, kind, panel)
                self.db.add(key, measured, self.db.default(key) or measured)  # the first round is wse-place's own
        self.db.save()

    def _next(self, key: str) -> Candidate | None:
        tried = self.db.tried(key) | self.running[key]
        return next((shape for shape in self.candidates[key] if shape not in tried), None)

    def results(self) -> list[PlacementResult]:
        names, keys = self.regions.names, self.regions.keys
        return [PlacementResult(key, tuple(n for n, k in zip(names, keys) if k == key),
                                self.db.default(key), self.db.best(key), self.counts[key])
                for key in self.counts]


def _candidates(need: Demand, shapes: list[tuple[int, int]]) -> list[Candidate]:
    """Each rectangle with each algorithm a contraction's region may use there,
    the modelled fastest first, a SUMMA with the panel the model picks (the
    candidate wse-place takes comes first); after the first, the other panels
    of the first SUMMA rectangle. A rowwise region's kind is "" (it has one),
    and the panel 0 where the algorithm has none."""
    ranked = [(rows, cols, kind, need.panel(rows, cols) if kind == SUMMA else 0)
              for rows, cols in shapes for kind in need.algorithms(rows, cols) or ("",)]
    first = next(((rows, cols) for rows, cols, kind, _ in ranked if kind == SUMMA), None)
    panels = [(*first, SUMMA, panel) for panel in need.panels(*first)[1:]] if first else []
    return ranked[:1] + panels + ranked[1:]


def _spread(ranked: list[Candidate], count: int) -> list[Candidate]:
    """`count` of the ranked candidates to measure, in order: the best half by
    the time model, then the rest of the ranking at even steps, so that shapes
    the model ranks low (it misjudges some) are tried too."""
    head = ranked[:(count + 1) // 2]
    rest = ranked[len(head):]
    step = max(1, len(rest) // max(count - len(head), 1))
    return head + rest[::step][:count - len(head)]
