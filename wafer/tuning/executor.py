"""Where the tuner's jobs run: here, one at a time, or as Ray tasks (ray_executor.py).

An executor takes jobs and hands back each one's result as it finishes, in
any order; `slots` is how many it runs at once, so the tuner keeps that many
in flight and records each result as it arrives. A job is what its `run`
function takes: by default a `Job` (measure.py: build and time one
candidate against the default kernel, giving a `Measurement`); the wse
placement search's is a `PlacementJob` (placement.py: cost one round of
rectangles on the simulator).
"""

from __future__ import annotations

import importlib.util
from typing import Callable, Protocol

from ..diagnostics import WaferError
from .measure import measure

EXECUTORS = ("local", "ray")
RAY_VERSION = "2.60.0"  # pyproject.toml's `tune` extra


class Executor(Protocol):
    """Runs jobs, `slots` of them at once, and hands back each as it finishes."""

    slots: int

    def submit(self, job) -> None: ...

    def next_done(self) -> tuple:
        """Wait for a submitted job to finish; that job and its result."""

    def close(self) -> None:
        """Drop the jobs still running."""


class LocalExecutor:
    """Runs each job in this process when its result is asked for."""

    slots = 1

    def __init__(self, run: Callable = measure):
        self._run = run
        self._queued: list = []

    def submit(self, job) -> None:
        self._queued.append(job)

    def next_done(self) -> tuple:
        job = self._queued.pop(0)
        return job, self._run(job)

    def close(self) -> None:
        self._queued.clear()


def check_executor(name: str, ray_address: str | None = None) -> None:
    """Refuse an unknown executor, a Ray address without Ray, and Ray where it is not installed."""
    if name not in EXECUTORS:
        raise WaferError(f"error: unknown executor '{name}' (known: {', '.join(EXECUTORS)})")
    if ray_address is not None and name != "ray":
        raise WaferError("error: a Ray address needs the ray executor")
    if name == "ray" and importlib.util.find_spec("ray") is None:
        raise WaferError(f"error: the ray executor needs Ray: pip install 'wafer[tune]' (or ray=={RAY_VERSION})")


def make_executor(name: str, threads: int, ray_address: str | None = None, run: Callable = measure) -> Executor:
    """The executor `name` of jobs that `run` runs, on `threads` threads each."""
    check_executor(name, ray_address)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(threads, ray_address, run)
    return LocalExecutor(run)
