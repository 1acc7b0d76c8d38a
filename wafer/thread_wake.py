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
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.execution_engine import ExecutionEngine

from .context import make_context
from .cpu_runtime import openmp_runtime
from .diagnostics import WaferError
from .pass_pipeline import build_pass_manager

# Between two probes the caller works this long, as a program does between two
# calls: long enough for the worker to sleep and for an idle virtual CPU to be
# descheduled (on the 2-core VM of bench/thread_wake.py the wake-up rose between
# gaps of 1 and 2 ms and stayed there at 5).
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


@dataclass(frozen=True)
class ThreadWake:
    """What a parallel loop costs a call: the first, whose workers slept
    (`seconds`), and a later one, whose workers spin (`loop_seconds`); and
    the clock the core ran at."""

    seconds: float
    loop_seconds: float
    clock_hz: float

    @property
    def instructions(self) -> int:
        """Instructions one core runs while the first loop wakes the workers."""
        return round(self.seconds * self.clock_hz * INSTRUCTIONS_PER_CYCLE)


@functools.cache
def wake_instructions(threads: int) -> int:
    """Instructions one core runs in the time a parallel loop of `threads` adds
    to a call whose workers slept; 0 (every call stays parallel) where no
    OpenMP runtime loads."""
    try:
        return measure_wake(threads).instructions
    except (WaferError, OSError):
        return 0


def measure_wake(threads: int, between_s: float = BETWEEN_S) -> ThreadWake:
    """Compile the probe and time it, each call after the caller worked
    `between_s`: the median of `PROBES` calls of an empty parallel loop less
    a serial call's time, and of `_LATER_LOOPS` more loops (per loop); and the
    clock, from the fastest of five serial spins."""
    with make_context():
        module = ir.Module.parse(_PROBE.format(threads=threads))
        build_pass_manager(_LOWER.format(threads=threads), module.context).run(module.operation)
        engine = ExecutionEngine(module, opt_level=2, shared_libs=[openmp_runtime()])
    steps, loops, result = ctypes.c_int64(0), ctypes.c_int64(1), ctypes.c_int64(0)
    serial_args = (ctypes.c_void_p * 2)(ctypes.addressof(steps), ctypes.addressof(result))
    parallel_args = (ctypes.c_void_p * 2)(ctypes.addressof(steps), ctypes.addressof(loops))
    serial, parallel = (_PACKED(engine.raw_lookup(name)) for name in ("serial", "parallel"))

    def timed(function, args, times: int = 1) -> float:
        loops.value = times
        _work_for(between_s)
        start = time.perf_counter()
        function(ctypes.addressof(args))
        return time.perf_counter() - start

    steps.value = _CLOCK_STEPS
    clock_hz = 2 * _CLOCK_STEPS / min(timed(serial, serial_args) for _ in range(5))
    steps.value = 0
    timed(parallel, parallel_args)  # creates the workers
    first = [timed(parallel, parallel_args) - timed(serial, serial_args) for _ in range(PROBES)]
    later = [(timed(parallel, parallel_args, 1 + _LATER_LOOPS) - timed(parallel, parallel_args)) / _LATER_LOOPS
             for _ in range(PROBES)]
    return ThreadWake(max(0.0, statistics.median(first)), max(0.0, statistics.median(later)), clock_hz)


def _work_for(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
