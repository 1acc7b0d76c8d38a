"""The tuning database: a JSON file of measured kernel choices, per CPU and per
contraction, of measured convolution algorithms, per CPU and per convolution,
and of simulated placements, per wafer and per region.

    {"version": 1, "cpus": {CPU key: {signature key: {
        "default_ms": 0.41, "best": {choice..., "ms": 0.30},
        "measured": [{choice..., "ms": 0.35, "default_ms": 0.40}, ...]}}},
     "convs": {CPU key: {convolution key: {
        "default": "winograd", "best": "im2col", "ms": {"winograd": 0.52, "im2col": 0.44}}}},
     "wse": {machine and mode: {region key: {
        "default": {"rows": 32, "cols": 8, "cycles": 9100.0}, "best": {...},
        "measured": [{"rows": 16, "cols": 16, "cycles": 8020.0}, ...],
        "unfit": [{"rows": 4, "cols": 4}, ...]}}},
     "wse_modes": {machine: {model key: {
        "period": {"pipelined": 41000.0, "whole-wafer": 52000.0}, "best": "pipelined"}}}}

Each candidate is timed interleaved with the default kernel, so `best` is the
candidate with the lowest ratio to its own default time, if it beats the
default by MIN_GAIN, and its pair of times is what the record reports. A
candidate timed more than once (the tuner times its leader again) counts by
its slowest ratio: picked as the fastest of several noisy timings, the
leader's first timing flatters it (the winner's curse). A
convolution's algorithms are timed interleaved with each other, and the
fastest, if not the default, again with the default, each kept at its slower
time; the best is the fastest if it beats the default algorithm by MIN_GAIN.
Either best goes back to the default where the model, timed whole, ran no
faster with it (in_model.py). Records of other CPUs are kept in the file but
never read. The file is rewritten atomically after each measurement: an
interrupted run keeps everything measured, and a rerun skips it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic_file import write_atomically
from ..diagnostics import WaferError
from ..passes.cpu_target import CpuTarget
from ..passes.placement_modes import MODES
from .conv import ALGORITHMS
from .signature import ContractionSignature

VERSION = 1
# How much faster than the default a candidate must run to replace it: the
# median of interleaved calls on a shared machine moves by a few percent
# from run to run (bench/common.py), and a 1% "win" is that noise.
MIN_GAIN = 0.03
# The feature flags beyond the preset's that change the code LLVM emits for the host.
RELEVANT_FLAGS = ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx2", "fma", "f16c", "asimd")


@dataclass(frozen=True)
class KernelChoice:
    """The packed kernel's options (the cpu pipeline's and wafer-pack-matmul's)."""

    register_tile: tuple[int, int]
    cache_tile: tuple[int, int]
    k_unroll: int
    k_block: int

    def options(self) -> dict:
        """As keywords of `wafer.compile_mlir`."""
        return asdict(self)

    def describe(self) -> str:
        (mr, nr), (rows, cols) = self.register_tile, self.cache_tile
        k = f"k-block {self.k_block}" if self.k_block else "K whole"
        return f"{mr}x{nr} regs, {rows}x{cols} cache, k-unroll {self.k_unroll}, {k}"

    @classmethod
    def from_json(cls, data: dict) -> KernelChoice:
        return cls(_pair(data["register_tile"]), _pair(data["cache_tile"]), int(data["k_unroll"]),
                   int(data["k_block"]))


def _pair(values: list) -> tuple[int, int]:
    pair = tuple(int(v) for v in values)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"expected two positive sizes, got {values}")
    return pair


@dataclass(frozen=True)
class Measurement:
    """One candidate's median ms and the default's, timed interleaved with it."""

    choice: KernelChoice
    ms: float
    default_ms: float

    @property
    def ratio(self) -> float:
        return self.ms / self.default_ms


def cpu_key(target: CpuTarget, flags: set[str]) -> str:
    """The CPU a record was measured on: its target description and relevant feature flags."""
    return f"{target.describe()}; flags {' '.join(sorted(flags & set(RELEVANT_FLAGS))) or 'none'}"


class _TuningFile:
    """A tuning file, read and checked whole, and the records of one of its
    sections (`keys`: the path to it, made where missing); `save` writes it all."""

    def __init__(self, path: str | Path, *keys: str):
        self.path = Path(path)
        self._all = _read(self.path)
        self._mine = self._all
        for key in keys:
            self._mine = self._mine.setdefault(key, {})

    def save(self) -> None:
        write_atomically(self.path, json.dumps(self._all, indent=1) + "\n")


class TuningDatabase(_TuningFile):
    """The measurements of one CPU in a tuning file; `lookup` gives a contraction's best choice."""

    def __init__(self, path: str | Path, cpu: str):
        super().__init__(path, "cpus", cpu)
        self.cpu = cpu

    def lookup(self, signature: ContractionSignature) -> Measurement | None:
        """The best measured choice for `signature` on this CPU, if any."""
        entry = self._mine.get(signature.key)
        return _best(entry) if entry else None

    def conv_algorithm(self, key: str) -> str | None:
        """The algorithm measured fastest for the convolution of `key` on this CPU, if any."""
        entry = self._all.get("convs", {}).get(self.cpu, {}).get(key)
        return entry["best"] if entry else None

    def conv_times(self, key: str) -> tuple[str | None, dict[str, float]]:
        """The algorithm the passes' rules pick for the convolution of `key`, and
        the ms of each algorithm measured for it (None and none if unmeasured)."""
        entry = self._all.get("convs", {}).get(self.cpu, {}).get(key, {})
        return entry.get("default"), dict(entry.get("ms", {}))

    def add_conv(self, key: str, default: str, times: dict[str, float]) -> None:
        """Record the algorithms' times for one convolution, timed together, and write the file."""
        fastest = min(times, key=times.get)
        best = fastest if times[fastest] <= (1 - MIN_GAIN) * times[default] else default
        convs = self._all.setdefault("convs", {}).setdefault(self.cpu, {})
        convs[key] = {"default": default, "best": best, "ms": times}
        self.save()

    def set_conv_best(self, key: str, algorithm: str) -> None:
        """Make `algorithm`, one timed for the convolution of `key`, its record's
        pick (see in_model.py), and write the file."""
        entry = self._all["convs"][self.cpu][key]
        if algorithm not in entry["ms"]:
            raise ValueError(f"algorithm '{algorithm}' was not timed for {key}")
        entry["best"] = algorithm
        self.save()

    def measured(self, signature: ContractionSignature) -> list[Measurement]:
        entry = self._mine.get(signature.key, {})
        return [_measurement(m) for m in entry.get("measured", [])]

    def add(self, signature: ContractionSignature, measurement: Measurement) -> None:
        """Record one measurement, update the best, and write the file."""
        entry = self._mine.setdefault(signature.key, {"measured": []})
        entry["measured"].append({**measurement.choice.options(), "ms": measurement.ms,
                                  "default_ms": measurement.default_ms})
        self._record_best(signature, _best_of(self.measured(signature)))

    def set_best(self, signature: ContractionSignature, measurement: Measurement) -> None:
        """Make `measurement`, one of `signature`'s, its record's best (see in_model.py), and write the file."""
        if measurement not in self.measured(signature):
            raise ValueError(f"'{measurement.choice.describe()}' was not measured for {signature.describe()}")
        self._record_best(signature, measurement)

    def _record_best(self, signature: ContractionSignature, best: Measurement) -> None:
        entry = self._mine[signature.key]
        entry["best"] = {**best.choice.options(), "ms": best.ms}
        entry["default_ms"] = best.default_ms
        self.save()


def _best_of(measured: list[Measurement]) -> Measurement:
    """The candidate that beat its default by the widest margin, if by MIN_GAIN,
    each by its slowest timing; else the default's own record (timed against
    itself), or the first."""
    slowest: dict[KernelChoice, Measurement] = {}
    for m in measured:
        if m.choice not in slowest or m.ratio > slowest[m.choice].ratio:
            slowest[m.choice] = m
    best = min(slowest.values(), key=lambda m: m.ratio)
    if best.ratio <= 1 - MIN_GAIN:
        return best
    return next((m for m in measured if m.ms == m.default_ms), measured[0])


def _read(path: Path) -> dict:
    """The whole file, checked; a fresh database where there is none."""
    if not path.exists():
        return {"version": VERSION, "cpus": {}}
    try:
        data = json.loads(path.read_text())
        if data["version"] != VERSION:
            raise ValueError(f"version {data['version']}, expected {VERSION}")
        for entries in data["cpus"].values():
            for entry in entries.values():
                _best(entry)
                for measurement in entry["measured"]:
                    _measurement(measurement)
        for entries in data.get("convs", {}).values():
            for entry in entries.values():
                _conv_record(entry)
        for entries in data.get("wse_modes", {}).values():
            for entry in entries.values():
                _mode_record(entry)
        for entries in data.get("wse", {}).values():
            for entry in entries.values():
                for placement in [entry["default"], entry["best"], *entry["measured"]]:
                    Placement.from_json(placement)
                for shape in entry.get("unfit", []):
                    _pair([shape["rows"], shape["cols"]])
                    _kind(shape)
                    _panel(shape)
        return data
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        reason = f"{type(err).__name__}: {err}" if isinstance(err, KeyError) else str(err)
        raise WaferError(f"error: malformed tuning database '{path}': {reason}") from None


def _conv_record(entry: dict) -> None:
    """Check one convolution's record: its default and best among its timed algorithms."""
    times = {str(name): float(ms) for name, ms in entry["ms"].items()}
    unknown = set(times) - set(ALGORITHMS)
    if unknown:
        raise ValueError(f"unknown convolution algorithm '{unknown.pop()}' (known: {', '.join(ALGORITHMS)})")
    for role in ("default", "best"):
        if entry[role] not in times:
            raise ValueError(f"{role} algorithm '{entry[role]}' was not timed (timed: {', '.join(times)})")


def _mode_record(entry: dict) -> None:
    """Check one model's placement modes: each a known mode with a period, the best among them."""
    periods = {str(mode): float(cycles) for mode, cycles in entry["period"].items()}
    unknown = set(periods) - set(MODES)
    if unknown:
        raise ValueError(f"unknown placement mode '{unknown.pop()}' (known: {', '.join(MODES)})")
    if entry["best"] not in periods:
        raise ValueError(f"best mode '{entry['best']}' has no period")


def _best(entry: dict) -> Measurement:
    best = entry["best"]
    return Measurement(KernelChoice.from_json(best), float(best["ms"]), float(entry["default_ms"]))


def _measurement(data: dict) -> Measurement:
    return Measurement(KernelChoice.from_json(data), float(data["ms"]), float(data["default_ms"]))


# What the placement search tries for a region: (rows, cols, kind, panel).
Candidate = tuple[int, int, str, int]


@dataclass(frozen=True)
class Placement:
    """A region's rectangle of PEs, how a contraction's region steps there
    (its kind, summa or cannon; "" for a rowwise region, and in records
    written before the search tried both), a SUMMA's panel of k (its per-PE
    tile of k; 0 for the one wse-place's model picks, and in records written
    before the search tried panels), and the cycles the simulator gave it
    (its compute and communication, preload included whole-wafer; the mean
    of the regions that share the record; the best's with every other region
    on its best)."""

    rows: int
    cols: int
    cycles: float
    kind: str = ""
    panel: int = 0

    @classmethod
    def from_json(cls, data: dict) -> Placement:
        rows, cols = _pair([data["rows"], data["cols"]])
        return cls(rows, cols, float(data["cycles"]), _kind(data), _panel(data))

    @property
    def candidate(self) -> Candidate:
        """What the search tried: (rows, cols, kind, panel)."""
        return self.rows, self.cols, self.kind, self.panel


def _kind(data: dict) -> str:
    kind = data.get("kind", "")
    if not isinstance(kind, str):
        raise ValueError(f"kind {kind!r} is not a string")
    return kind


def _panel(data: dict) -> int:
    panel = data.get("panel", 0)
    if not isinstance(panel, int) or isinstance(panel, bool) or panel < 0:
        raise ValueError(f"panel {panel!r} is not a count of elements")
    return panel


class PlacementDatabase(_TuningFile):
    """The simulated placements of one wafer and mode in a tuning file; `best`
    gives a region's fastest rectangle. Simulated cycles do not vary from run
    to run, so the fastest measured is the best, with no margin."""

    def __init__(self, path: str | Path, machine_and_mode: str):
        super().__init__(path, "wse", machine_and_mode)

    def best(self, region: str) -> Placement | None:
        entry = self._mine.get(region)
        return Placement.from_json(entry["best"]) if entry else None

    def default(self, region: str) -> Placement | None:
        entry = self._mine.get(region)
        return Placement.from_json(entry["default"]) if entry else None

    def measured(self, region: str) -> list[Placement]:
        return [Placement.from_json(p) for p in self._mine.get(region, {}).get("measured", [])]

    def tried(self, region: str) -> set[Candidate]:
        """The (rows, cols, kind, panel) candidates measured or found unfit for `region`."""
        entry = self._mine.get(region, {})
        return ({p.candidate for p in self.measured(region)}
                | {(int(s["rows"]), int(s["cols"]), _kind(s), _panel(s)) for s in entry.get("unfit", [])})

    def reject(self, region: str, rows: int, cols: int, kind: str, panel: int) -> None:
        """Record a candidate whose buffers overflow the region's PEs once distributed."""
        self._mine[region].setdefault("unfit", []).append({"rows": rows, "cols": cols, "kind": kind,
                                                           "panel": panel})

    def add(self, region: str, placement: Placement, default: Placement) -> None:
        """Record one simulated rectangle against the placement's own choice (`save` writes it)."""
        entry = self._mine.setdefault(region, {"default": asdict(default), "measured": []})
        entry["measured"].append(asdict(placement))
        self._pick_best(region)

    def confirm(self, region: str, candidate: Candidate, cycles: float | str) -> bool:
        """Record that a measured `candidate` of `region` takes `cycles` with the
        other regions on their best (the default too, where it is that
        candidate), or does not fit there (an error's text: unfit, but for the
        default, which stays); whether the region's best changed."""
        entry = self._mine[region]
        was = self.best(region).candidate
        if isinstance(cycles, str):
            if candidate != self.default(region).candidate:
                entry["measured"] = [p for p in entry["measured"] if Placement.from_json(p).candidate != candidate]
                self.reject(region, *candidate)
        else:
            for record in [*entry["measured"], entry["default"]]:
                if Placement.from_json(record).candidate == candidate:
                    record["cycles"] = cycles
        self._pick_best(region)
        return self.best(region).candidate != was

    def _pick_best(self, region: str) -> None:
        """Make the fastest of `region`'s default and measured candidates its best."""
        entry = self._mine[region]
        default = Placement.from_json(entry["default"])
        entry["best"] = asdict(min([default, *self.measured(region)], key=lambda p: p.cycles))


class ModeDatabase(_TuningFile):
    """The placement mode found fastest (fewest cycles per inference in steady
    state) for each model on one wafer, in a tuning file."""

    def __init__(self, path: str | Path, machine: str):
        super().__init__(path, "wse_modes", machine)

    def best(self, model: str) -> str | None:
        entry = self._mine.get(model)
        return entry["best"] if entry else None

    def add(self, model: str, periods: dict[str, float]) -> None:
        """Record each mode's tuned period of `model` (the modes that fit it), and write the file."""
        self._mine[model] = {"period": periods, "best": min(periods, key=periods.get)}
        self.save()
