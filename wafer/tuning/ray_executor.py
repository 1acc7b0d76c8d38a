"""Jobs as Ray tasks, on a cluster of identical machines or on a local Ray instance.

Each job is one task that compiles and times its candidate and the default
kernel on the worker it lands on, so both times come from the same machine.
A task asks for as many CPUs as its kernels' threads: a machine runs as many
jobs at once as it has room for, and with `--threads` at a machine's core
count, one. Every worker needs Wafer installed, at the driver's version.
"""

from __future__ import annotations

import logging
from typing import Callable

from ..diagnostics import WaferError
from .measure import measure


class RayExecutor:
    """Connects to the Ray cluster at `address`, or starts a local instance with
    no address; a Ray already started in this process is used as it is."""

    def __init__(self, threads: int, address: str | None = None, run: Callable = measure):
        import ray

        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            try:
                # A cluster keeps its own dashboard setting; a local instance goes without one.
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR,
                         **({} if address else {"include_dashboard": False}))
            except (ConnectionError, ValueError, RuntimeError) as err:
                where = f"the Ray cluster at '{address}'" if address else "a local Ray instance"
                raise WaferError(f"error: cannot start {where}: {err}".splitlines()[0]) from None
        cpus = max(1, threads)
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))
        # A crashed worker is a failed candidate, not a task to run again.
        self._measure = ray.remote(run).options(num_cpus=cpus, max_retries=0)
        self._running: dict = {}  # ObjectRef -> Job

    def submit(self, job) -> None:
        self._running[self._measure.remote(job)] = job

    def next_done(self) -> tuple:
        (ref,), _ = self._ray.wait(list(self._running), num_returns=1)
        job = self._running.pop(ref)
        try:
            return job, self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as err:
            if isinstance(err.cause, WaferError):
                raise err.cause from None
            raise

    def close(self) -> None:
        if self._started:  # stopping the instance stops its tasks
            self._ray.shutdown()
        else:  # on a cluster of others' too: interrupt ours
            for ref in self._running:
                self._ray.cancel(ref)
        self._running.clear()
