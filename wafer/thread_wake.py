"""What a parallel loop costs a call whose workers slept, measured on this host.

The cpu pipeline's wafer-serial-short-calls keeps a call on one thread where
its parallel loops would save less than that. The cost is the host's, not
the ISA's: tens of microseconds on a virtual machine whose idle virtual CPU
the hypervisor has descheduled, a few on bare metal, about one where the user
has the workers spin between calls (KMP_BLOCKTIME). So a small module is
compiled the way the pipeline compiles a call (wafer-warm-threads included)
and timed, once a process.
"""

from __future__ import annotations

import ctypes
import functools
import statistics
import time

from torch_mlir import ir
from torch_mlir.execution_engine import ExecutionEngine

from .context import make_context
from .cpu_runtime import openmp_runtime
from .pass_pipeline import build_pass_manager

# Between two probes the caller works this long, as a program does between two
# calls: long enough for the worker to sleep and for an idle virtual CPU to be
# descheduled (bench/thread_wake.py times the wake-up after gaps of 0.2 to 5 ms).
BETWEEN_S = 0.002
PROBES = 12
# Instructions a core retires per cycle in the loops the estimate counts: the
# two vector FMA or load pipes of the x86 cores since Haswell and Zen 2.
INSTRUCTIONS_PER_CYCLE = 2
_CLOCK_STEPS = 1_000_000  # 2 dependent adds each: a few hundred microseconds

# @spin runs `steps` of two dependent 1-cycle integer ops; @parallel runs it on
# each thread of `loops` parallel loops, one after the other, as a compiled
# call's would: the first wakes the workers, the others find them spinning.
_PROBE = """
memref.global "private" @sink : memref<{threads}xi64> = uninitialized
func.func private @spin(%steps: index, %seed: i64) -> i64 {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %steps step %c1 iter_args(%a = %seed) -> i64 {{
    %b = arith.addi %a, %seed : i64
    %c = arith.xori %b, %seed : i64
    scf.yield %c : i64
  }}
  return %r : i64
}}
func.func @serial(%steps: index) -> i64 {{
  %seed = arith.constant 7 : i64
  %r = func.call @spin(%steps, %seed) : (index, i64) -> i64
  return %r : i64
}}
func.func @parallel(%steps: index, %loops: index) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant {threads} : index
  %seed = arith.constant 7 : i64
  %sink = memref.get_global @sink : memref<{threads}xi64>
  scf.for %t = %c0 to %loops step %c1 {{
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {{
      %r = func.call @spin(%steps, %seed) : (index, i64) -> i64
      memref.store %r, %sink[%i] : memref<{threads}xi64>
      scf.reduce
    }}
  }}
  return
}}
"""
_LATER_LOOPS = 64  # the later loops' cost is their time over one loop's, divided by their number
_LOWER = ("builtin.module(convert-scf-to-openmp{{num-threads={threads}}},canonicalize,"
          "wafer-warm-threads{{threads={threads}}},convert-scf-to-cf,finalize-memref-to-llvm,"
          "convert-arith-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,convert-openmp-to-llvm,"
          "reconcile-unrealized-casts)")
_PACKED = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@functools.cache
def wake_instructions(threads: int) -> int:
    """Instructions one core runs in the time the first parallel loop of
    `threads` adds to a call whose workers slept: that time, at the measured
    clock, `INSTRUCTIONS_PER_CYCLE`; 0 (every call stays parallel) where the
    probe cannot run (no OpenMP runtime, say)."""
    try:
        probe = ThreadProbe(threads)
        return round(probe.first_loop_seconds() * probe.clock_hz() * INSTRUCTIONS_PER_CYCLE)
    except Exception:  # a measurement that cannot run leaves every call parallel, as before it existed
        return 0


class ThreadProbe:
    """The probe compiled for `threads`; each timing is the median of `PROBES`
    calls, each after the caller worked `between_s` (as a program does between
    two calls of a model)."""

    def __init__(self, threads: int):
        with make_context():
            module = ir.Module.parse(_PROBE.format(threads=threads))
            build_pass_manager(_LOWER.format(threads=threads), module.context).run(module.operation)
            self._engine = ExecutionEngine(module, opt_level=2, shared_libs=[openmp_runtime()])
        self._steps, self._loops, self._result = ctypes.c_int64(0), ctypes.c_int64(1), ctypes.c_int64(0)
        self._serial_args = (ctypes.c_void_p * 2)(ctypes.addressof(self._steps), ctypes.addressof(self._result))
        self._parallel_args = (ctypes.c_void_p * 2)(ctypes.addressof(self._steps), ctypes.addressof(self._loops))
        self._serial, self._parallel = (_PACKED(self._engine.raw_lookup(name)) for name in ("serial", "parallel"))
        self._parallel(ctypes.addressof(self._parallel_args))  # creates the workers

    def clock_hz(self) -> float:
        """The core's clock: two dependent adds a cycle, the fastest of five spins."""
        self._steps.value = _CLOCK_STEPS
        seconds = min(self._timed(self._serial, self._serial_args, 0.0) for _ in range(5))
        self._steps.value = 0
        return 2 * _CLOCK_STEPS / seconds

    def first_loop_seconds(self, between_s: float = BETWEEN_S) -> float:
        """An empty parallel loop less a serial call: the workers' wake-up."""
        return self._median(lambda: self._timed(self._parallel, self._parallel_args, between_s)
                            - self._timed(self._serial, self._serial_args, between_s))

    def later_loop_seconds(self, between_s: float = BETWEEN_S) -> float:
        """What each of `_LATER_LOOPS` more loops in the call adds, its workers spinning."""
        def later() -> float:
            self._loops.value = 1 + _LATER_LOOPS
            many = self._timed(self._parallel, self._parallel_args, between_s)
            self._loops.value = 1
            return (many - self._timed(self._parallel, self._parallel_args, between_s)) / _LATER_LOOPS
        return self._median(later)

    @staticmethod
    def _median(sample) -> float:
        return max(0.0, statistics.median(sample() for _ in range(PROBES)))

    @staticmethod
    def _timed(function, args, between_s: float) -> float:
        _work_for(between_s)
        start = time.perf_counter()
        function(ctypes.addressof(args))
        return time.perf_counter() - start


def _work_for(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
