"""Public micro-benchmark results next to what the cost model predicts for the same case.

Each `Case` names a measured figure, where it was published, and how to predict it
with `cost`; CALIBRATION.md explains them, bench/wse.py prints them, and
test_calibration.py holds the predictions to `TOLERANCE`. Application-level results
(whole GEMMs, models) are not here: they validate the model, they do not set it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .cost import LinkLoads, compute_cycles
from .machine import WSE2, Machine

# Relative error a prediction may have against its measurement.
TOLERANCE = 0.02

_LOG = ("Wang-oss-tech/csl-experiments gemm/summa_manual_multicasting_pipelined_doubleColor/"
        "REFINED_COMPUTE_MODEL.md, SDK simulator instruction log, WSE-2")
_PERF = ("Wang-oss-tech/csl-experiments gemm/summa_manual_multicasting_pipelined_doubleColor/"
         "performance_model.md, SDK simulator task timeline, WSE-2")


@dataclass(frozen=True)
class Case:
    name: str
    measured: float
    source: str
    predict: Callable[[Machine], float]

    def predicted(self, machine: Machine = WSE2) -> float:
        return float(self.predict(machine))

    def error(self, machine: Machine = WSE2) -> float:
        return self.predicted(machine) / self.measured - 1.0


def _loop_only(machine: Machine) -> Machine:
    """`machine` without the per-call set-up: the cost of the instructions alone."""
    return replace(machine, kernel_setup_cycles=0)


def _bare(machine: Machine) -> Machine:
    """`machine` without loop, scalar or set-up costs: one DSD instruction alone."""
    return replace(machine, kernel_setup_cycles=0, row_loop_cycles=0, scalar_operand_cycles=0)


def _row_broadcast(machine: Machine) -> float:
    links = LinkLoads(replace(machine, width=4, height=1))
    links.add_row_multicast(0, 1, 0, 0, 4, 196)
    return links.phase_cycles()


CASES = (
    Case("@fmacs over 14 fp32 elements (issue + elements)", 15, _LOG,
         lambda m: compute_cycles(_bare(m), 14, 14, "fp32")),
    Case("AXPY loop iteration: scalar load, @fmacs of 14, offset increment", 58, _LOG,
         lambda m: compute_cycles(_loop_only(m), 14, 14, "fp32", scalar_operand=True)),
    Case("local GEMM call, 14x14x14 fp32 (one SUMMA step)", 45_783 / 4, _PERF,
         lambda m: compute_cycles(m, 14**3, 14, "fp32", scalar_operand=True)),
    Case("compute phase of a 4x4-PE SUMMA, 4 steps of 14x14x14", 45_783, _PERF,
         lambda m: compute_cycles(m, 4 * 14**3, 14, "fp32", scalar_operand=True, kernels=4)),
    Case("196-wavelet tile multicast along a row of 4 PEs", 201, _LOG, _row_broadcast),
)
