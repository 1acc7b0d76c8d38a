"""What a simulated run cost: per-op cycles, whole-grid heatmaps and a Perfetto trace."""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wafer.trace_events import save_trace, slice_event, track_name
from wafer.wse_target.cost import Rect
from wafer.wse_target.machine import Dtype, Machine


@dataclass(frozen=True)
class OpRow:
    """One operation placed on the region `(x, y, w, h)`, starting at `start_cycle`.

    Its PEs spend `compute_cycles` computing and `comm_cycles` communicating,
    one after the other.
    """

    name: str
    kind: str
    region: Rect
    compute_cycles: float
    comm_cycles: float
    flops: float
    start_cycle: float

    @property
    def cycles(self) -> float:
        return self.compute_cycles + self.comm_cycles

    @property
    def end_cycle(self) -> float:
        return self.start_cycle + self.cycles


@dataclass(frozen=True, eq=False)
class Report:
    """The cost of one run of a compiled program on `machine`.

    `pe_busy_cycles`, `sram_high_water` (bytes) and `link_load` (wavelets a router
    sends, e.g. `LinkLoads.total()`) are (H, W) arrays over the grid. `dtype` is the
    precision peak is measured against; `pipeline_throughput` is inferences per second
    in steady state, or None when the program is not pipelined.
    """

    machine: Machine
    ops: list[OpRow]
    pe_busy_cycles: np.ndarray
    sram_high_water: np.ndarray
    link_load: np.ndarray
    dtype: Dtype = "fp16"
    pipeline_throughput: float | None = None

    def __post_init__(self) -> None:
        grid = (self.machine.height, self.machine.width)
        for name in ("pe_busy_cycles", "sram_high_water", "link_load"):
            shape = np.shape(getattr(self, name))
            if shape != grid:
                raise ValueError(f"{name} has shape {shape}, expected the grid's {grid}")

    @property
    def cycles(self) -> float:
        """Makespan: the last op's end."""
        return max((op.end_cycle for op in self.ops), default=0.0)

    @property
    def seconds(self) -> float:
        return self.cycles / self.machine.clock_hz

    @property
    def flops(self) -> float:
        return sum(op.flops for op in self.ops)

    @property
    def period_cycles(self) -> float:
        """Cycles between inferences in steady state: a pipeline starts one per
        stage time; anything else runs them back to back."""
        if self.pipeline_throughput:
            return self.machine.clock_hz / self.pipeline_throughput
        return self.cycles

    @property
    def flops_per_second(self) -> float:
        """Achieved in steady state: one inference's FLOPs per period."""
        period = self.period_cycles / self.machine.clock_hz
        return self.flops / period if period else 0.0

    @property
    def peak_fraction(self) -> float:
        peak = self.period_cycles * self.machine.peak_flops_per_cycle(self.dtype)
        return self.flops / peak if peak else 0.0

    @property
    def pes_in_use(self) -> int:
        """PEs inside at least one op's region: the grid a program occupies, counted once
        when whole-wafer slots reuse it (the simulator's work scales with this)."""
        used = np.zeros((self.machine.height, self.machine.width), dtype=bool)
        for op in self.ops:
            x, y, w, h = op.region
            used[y:y + h, x:x + w] = True
        return int(used.sum())

    @property
    def sram_high_water_max(self) -> int:
        return int(np.max(self.sram_high_water))

    def table(self, unit: str = "inference") -> str:
        """A fixed-width summary and one row per op; `unit` names what one call
        computes ("token" for a decode step) in its rates."""
        m = self.machine
        sram = self.sram_high_water_max
        lines = [
            f"{m.name}: {m.width}x{m.height} PEs at {m.clock_hz / 1e9:g} GHz",
            f"  cycles      {self.cycles:,.0f} ({self.seconds * 1e6:,.2f} us)",
            f"  throughput  {_flops_per_second(self.flops_per_second)}, "
            f"{self.peak_fraction:.1%} of {self.dtype} peak",
            f"  SRAM        {sram:,} of {m.sram_bytes:,} B per PE at high water "
            f"({sram / m.sram_bytes:.1%})",
        ]
        if self.cycles:
            lines.append(f"  rate        {1 / self.seconds:,.1f} {unit}s/s, one call at a time")
        if self.pipeline_throughput is not None:
            lines.append(f"  pipeline    {self.pipeline_throughput:,.1f} {unit}s/s, a call in every stage")
        # Each op's share of the period: of a pipeline's stage time, how long
        # that stage is busy (the slowest at 100%); else of the inference.
        header = (
            f"{'op':<20} {'kind':<12} {'region':<20} {'start':>10} "
            f"{'compute':>10} {'%':>6} {'comm':>10} {'%':>6} {'period %':>9}"
        )
        lines += ["", header, "-" * len(header)]
        period = self.period_cycles or 1.0
        for op in self.ops:
            total = op.cycles or 1.0
            parts = (op.compute_cycles, op.comm_cycles)
            lines.append(
                f"{op.name:<20.20} {op.kind:<12.12} {str(op.region):<20} {op.start_cycle:>10,.0f}"
                + "".join(f" {c:>10,.0f} {c / total:>6.1%}" for c in parts) + f" {op.cycles / period:>9.1%}"
            )
        return "\n".join(lines)

    def save_heatmap(self, path: str | Path, *, max_pixels: int = 1000) -> None:
        """Write a PNG of PE utilization (busy / total cycles) and link load.

        Grids larger than `max_pixels` on a side are block-max downsampled, so hot
        spots survive and a full wafer renders in well under a second.
        """
        from matplotlib.figure import Figure

        utilization = self.pe_busy_cycles / max(self.cycles, 1.0)
        panels = (
            ("PE utilization (busy / total cycles)", utilization, "viridis", 1.0),
            ("Link load (wavelets sent per router)", self.link_load, "magma", None),
        )
        fig = Figure(figsize=(12, 5), layout="constrained")
        for ax, (title, grid, cmap, vmax) in zip(fig.subplots(1, 2), panels):
            image = ax.imshow(
                _block_max(np.asarray(grid, dtype=np.float64), max_pixels),
                cmap=cmap,
                vmin=0.0,
                vmax=vmax,
                interpolation="nearest",
                aspect="auto",
                extent=(0, self.machine.width, self.machine.height, 0),
            )
            ax.set(title=title, xlabel="x (column)", ylabel="y (row)")
            fig.colorbar(image, ax=ax)
        fig.suptitle(f"{self.machine.name}: {self.cycles:,.0f} cycles")
        fig.savefig(path, format="png")

    def save_trace(self, path: str | Path) -> None:
        """Write Chrome trace-event JSON (opens in Perfetto): one track per op.

        Each op is an "X" slice with its comm and compute phases nested inside,
        timed in microseconds at the machine clock.
        """
        us = 1e6 / self.machine.clock_hz  # per cycle
        events: list[dict] = [track_name(self.machine.name)]
        for tid, op in enumerate(self.ops):
            events.append(track_name(f"{op.name} {op.region}", tid))
            args = {"kind": op.kind, "region": op.region, "flops": op.flops}
            events.append(slice_event(op.name, tid, op.start_cycle * us, op.cycles * us, args))
            start = op.start_cycle
            for phase, cycles in (("comm", op.comm_cycles), ("compute", op.compute_cycles)):
                if cycles:
                    events.append(slice_event(phase, tid, start * us, cycles * us, {}))
                start += cycles
        save_trace(path, events)


def _flops_per_second(rate: float) -> str:
    for unit, scale in (("PFLOP/s", 1e15), ("TFLOP/s", 1e12), ("GFLOP/s", 1e9)):
        if rate >= scale:
            return f"{rate / scale:.2f} {unit}"
    return f"{rate / 1e9:.3g} GFLOP/s"


def _block_max(grid: np.ndarray, max_pixels: int) -> np.ndarray:
    """Downsample `grid` by the max over square blocks until no side exceeds max_pixels."""
    block = math.ceil(max(grid.shape) / max_pixels)
    if block <= 1:
        return grid
    h, w = grid.shape
    padded = np.pad(grid, ((0, -h % block), (0, -w % block)), mode="edge")
    return padded.reshape(padded.shape[0] // block, block, -1, block).max(axis=(1, 3))
