"""Where the tuner's jobs run: here, one at a time, or as Ray tasks (ray_executor.py).

An executor takes `Job`s (measure.py: build and time one candidate against
the default kernel) and hands back each one's `Measurement` as it finishes,
in any order; `slots` is how many it runs at once, so the tuner keeps that
many in flight and records each result as it arrives.
"""

from __future__ import annotations

import importlib.util
from typing import Protocol

from ..diagnostics import WaferError
from .database import Measurement
from .measure import Job, measure

EXECUTORS = ("local", "ray")
RAY_VERSION = "2.60.0"  # pyproject.toml's `tune` extra


class Executor(Protocol):
    """Runs jobs, `slots` of them at once, and hands back each as it finishes."""

    slots: int

    def submit(self, job: Job) -> None: ...

    def next_done(self) -> tuple[Job, Measurement]:
        """Wait for a submitted job to finish; that job and its measurement."""

    def close(self) -> None:
        """Drop the jobs still running."""


class LocalExecutor:
    """Runs each job in this process when its result is asked for."""

    slots = 1

    def __init__(self):
        self._queued: list[Job] = []

    def submit(self, job: Job) -> None:
        self._queued.append(job)

    def next_done(self) -> tuple[Job, Measurement]:
        job = self._queued.pop(0)
        return job, measure(job)

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


def make_executor(name: str, threads: int, ray_address: str | None = None) -> Executor:
    """The executor `name`, for jobs whose kernels run on `threads` threads."""
    check_executor(name, ray_address)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(threads, ray_address)
    return LocalExecutor()
