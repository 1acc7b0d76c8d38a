"""Where a call's time goes, kernel by kernel: the runtime side of wafer-profile-kernels."""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from pathlib import Path

from torch_mlir import ir

from .symbols import KERNEL_BEGIN, KERNEL_END, KERNELS_ATTR
from .trace_events import save_trace, slice_event, track_name

_KERNEL_HOOK = ctypes.CFUNCTYPE(None, ctypes.c_int64)


@dataclass(frozen=True)
class KernelProfile:
    """The timed calls of one function: each call's (start, end) and each kernel
    run's (kernel id, start, end), in `time.perf_counter_ns` nanoseconds;
    `kernels` names the ids (passes/profile_kernels.py)."""

    function: str
    kernels: tuple[str, ...]
    calls: tuple[tuple[int, int], ...]
    runs: tuple[tuple[int, int, int], ...]

    @property
    def call_ns(self) -> int:
        return sum(end - start for start, end in self.calls)

    def totals(self) -> list[tuple[int, int]]:
        """Per kernel id: how often it ran and its nanoseconds in all."""
        totals = [[0, 0] for _ in self.kernels]
        for kernel, start, end in self.runs:
            totals[kernel][0] += 1
            totals[kernel][1] += end - start
        return [(runs, ns) for runs, ns in totals]

    def table(self) -> str:
        """One row per kernel in program order, then the time between kernels and the whole."""
        call_ns = max(self.call_ns, 1)
        width = max((len(name) for name in self.kernels), default=0) + 4

        def row(number, name: str, runs, ns: int) -> str:
            return f"{number:>3}  {name:{width}} {runs:>6} {ns / 1e6:>9.3f} {ns / call_ns:>9.1%}"

        totals = self.totals()
        lines = [f"{'#':>3}  {'kernel':{width}} {'calls':>6} {'total ms':>9} {'% of call':>9}"]
        lines += [row(kernel, name, runs, ns) for kernel, (name, (runs, ns)) in enumerate(zip(self.kernels, totals))]
        lines.append(row("", "(between kernels)", "", call_ns - sum(ns for _, ns in totals)))
        lines.append(row("", f"@{self.function}", len(self.calls), call_ns))
        return "\n".join(lines)

    def save_trace(self, path: str | Path) -> None:
        """Write a Chrome trace (opens in Perfetto): each call a slice, its kernels nested in it."""
        origin = self.calls[0][0] if self.calls else 0
        events = [track_name(f"wafer cpu: @{self.function}"), track_name("calling thread", 0)]
        events += [slice_event(f"@{self.function}", 0, (start - origin) / 1e3, (end - start) / 1e3, {"call": i})
                   for i, (start, end) in enumerate(self.calls)]
        events += [slice_event(self.kernels[kernel], 0, (start - origin) / 1e3, (end - start) / 1e3, {"kernel": kernel})
                   for kernel, start, end in self.runs]
        save_trace(path, events)


class KernelTimers:
    """The hooks that code compiled with `profile=True` calls around each kernel;
    they record its runs while `profile` calls the function (a ctypes callback
    costs about 1 us, so the times include about 2 us per kernel)."""

    def __init__(self, kernels: tuple[str, ...]):
        self.kernels = kernels
        self._starts = [0] * len(kernels)
        self._runs: list[tuple[int, int, int]] | None = None  # a list only while profiling
        self.hooks = (_KERNEL_HOOK(self._begin), _KERNEL_HOOK(self._end))

    @classmethod
    def register(cls, module: ir.Module, engine) -> KernelTimers | None:
        """Timers for the kernels wafer-profile-kernels named in `module`, provided to
        `engine` (before it links), or None when the pass did not run."""
        if KERNELS_ATTR not in module.operation.attributes:
            return None
        names = tuple(ir.StringAttr(name).value for name in ir.ArrayAttr(module.operation.attributes[KERNELS_ATTR]))
        timers = cls(names)
        for symbol, hook in zip((KERNEL_BEGIN, KERNEL_END), timers.hooks):
            engine.register_runtime(symbol, hook)
        return timers

    def profile(self, function: str, call, repeat: int) -> KernelProfile:
        """Run `call()` (one call of @function) once to warm up, then `repeat` times,
        timing it and its kernels."""
        call()
        calls, runs = [], []
        self._runs = runs
        try:
            for _ in range(repeat):
                start = time.perf_counter_ns()
                call()
                calls.append((start, time.perf_counter_ns()))
        finally:
            self._runs = None
        return KernelProfile(function, self.kernels, tuple(calls), tuple(runs))

    def _begin(self, kernel: int) -> None:
        self._starts[kernel] = time.perf_counter_ns()

    def _end(self, kernel: int) -> None:
        if self._runs is not None:
            self._runs.append((kernel, self._starts[kernel], time.perf_counter_ns()))
