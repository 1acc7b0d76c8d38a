"""A compiled `wse` program: call it like the CPU target, and read its report."""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from ..cpu_runtime import Signature
from ..diagnostics import WaferError
from .machine import Machine
from .report import Report
from .simulator import estimate, execute


class WseExecutable:
    """`exe.fn(*arrays)` runs the simulator; `exe.report` is the last run's cost."""

    def __init__(self, module: ir.Module, signatures: dict[str, Signature], machine: Machine):
        self.module = module
        self.machine = machine
        self._signatures = signatures
        self.report: Report | None = None

    @property
    def functions(self) -> list[str]:
        return list(self._signatures)

    def estimate(self, name: str = "forward") -> Report:
        """The timing report of `name` without running it: no input data needed."""
        with self.module.context:
            return estimate(self.module, self.machine, name)

    def invoke(self, name: str, *args):
        signature = self._signatures.get(name)
        if signature is None:
            raise WaferError(f"error: no public function @{name} (have: {', '.join(self._signatures)})")
        if len(args) != len(signature.args):
            raise WaferError(f"error: @{name} takes {len(signature.args)} arguments, got {len(args)}")
        arrays = [np.asarray(a, dtype=spec.dtype) for a, spec in zip(args, signature.args)]
        with self.module.context:
            results = execute(self.module, name, arrays)
        self.report = self.estimate(name)
        results = [np.asarray(r, dtype=spec.dtype) for r, spec in zip(results, signature.results)]
        return results[0] if len(results) == 1 else tuple(results)

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in self._signatures:
            raise AttributeError(name)
        return lambda *args: self.invoke(name, *args)
