"""A compiled `wse` program: call it like the CPU target, and read its report."""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from ..signatures import Executable, Signature
from .machine import Machine
from .report import Report
from .simulator import estimate, execute


class WseExecutable(Executable):
    """`exe.fn(*arrays)` runs the simulator; `exe.report` is the last run's cost."""

    def __init__(self, module: ir.Module, signatures: dict[str, Signature], machine: Machine):
        super().__init__(signatures)
        self.module = module
        self.machine = machine
        self.report: Report | None = None

    def estimate(self, name: str = "forward", looked_up: dict | None = None) -> Report:
        """The timing report of `name` without running it: no input data needed
        (lookups at their worst case), or of a run that looked up `looked_up`."""
        self.signature(name)
        with self.module.context:
            return estimate(self.module, self.machine, name, looked_up)

    def invoke(self, name: str, *args):
        signature, arrays = self.checked_call(name, args)
        with self.module.context:
            looked_up = {}
            results = execute(self.module, name, arrays, looked_up)
        self.report = self.estimate(name, looked_up)  # costed for the rows this run looked up
        # A result may be a broadcast or a read-only view of a constant: the caller owns a writable copy.
        results = [np.require(r, dtype=spec.dtype, requirements=["W"]) for r, spec in zip(results, signature.results)]
        return results[0] if len(results) == 1 else tuple(results)
