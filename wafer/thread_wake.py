"""What a parallel loop costs a call whose workers slept, measured on this host.

The cpu pipeline's wafer-serial-short-calls keeps a call on one thread where
its parallel loops would save less than that. The cost is the host's, not
the ISA's: tens of microseconds on a virtual machine whose idle virtual CPU
the hypervisor has descheduled, a few on bare metal, about one where the user
has the workers spin between calls (KMP_BLOCKTIME). So a small module is
compiled the way the pipeline compiles a call (wafer-warm-threads included)
and timed, once a process.

It also depends on which CPU the caller runs on: on a 2-vCPU virtual machine
the wake-up took about 35 us from one and 70 us from the other, so a process
measured whichever the scheduler had put it on, and the same model compiled
serial in one process and parallel in the next (up to 1.4x slower either way,
bench/thread_wake.py). Nor does one CPU keep one figure: runs of calls near 35
us alternate with runs near 70. So the probe times it from each CPU the caller
may use, up to `PLACEMENTS` of them, and takes the mean of the middle half of
all its samples: the expected wake-up, which a median of a few samples was not.
"""

from __future__ import annotations

import ctypes
import functools
import os
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
PROBES = 20
_CLOCK_STEPS = 1_000_000  # 2 dependent adds each: a few hundred microseconds
# Independent FMA chains of the rate probe: more than the pipes times the FMA's
# latency on the x86 cores since Haswell and Zen 2 (2 x 4), fewer than AVX2's 16 registers.
_FMA_CHAINS = 12
_FMA_STEPS = 50_000

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
# CPUs of the caller's affinity mask the wake-up is timed from, spread over the mask.
PLACEMENTS = 4
_LATER_LOOPS = 64  # the later loops' cost is their time over one loop's, divided by their number
_LOWER = ("builtin.module(convert-scf-to-openmp{{num-threads={threads}}},canonicalize,"
          "wafer-warm-threads{{threads={threads}}},convert-scf-to-cf,finalize-memref-to-llvm,"
          "convert-vector-to-llvm,convert-arith-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,convert-openmp-to-llvm,"
          "reconcile-unrealized-casts)")
_PACKED = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _fma_probe(lanes: int) -> str:
    """@fmas(steps): `steps` of one FMA on each of `_FMA_CHAINS` independent
    vectors of `lanes` f32, the target's vector width."""
    vector = f"vector<{lanes}xf32>"
    chains = range(_FMA_CHAINS)
    sums = ", ".join(f"%a{i} = %zero" for i in chains)
    steps = "\n".join(f"    %b{i} = vector.fma %a{i}, %scale, %scale : {vector}" for i in chains)
    total = "\n".join(f"  %t{i} = arith.addf {'%r#0' if i == 1 else f'%t{i - 1}'}, %r#{i} : {vector}"
                      for i in chains[1:])
    return f"""
memref.global @vector_sink : memref<{lanes}xf32> = uninitialized
func.func @fmas(%steps: index) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant dense<0.0> : {vector}
  %scale = arith.constant dense<0.999> : {vector}
  %r:{_FMA_CHAINS} = scf.for %i = %c0 to %steps step %c1 iter_args({sums}) -> ({", ".join([vector] * _FMA_CHAINS)}) {{
{steps}
    scf.yield {", ".join(f"%b{i}" for i in chains)} : {", ".join([vector] * _FMA_CHAINS)}
  }}
{total}
  %sink = memref.get_global @vector_sink : memref<{lanes}xf32>
  vector.store %t{_FMA_CHAINS - 1}, %sink[%c0] : memref<{lanes}xf32>, {vector}
  return
}}
"""


@functools.cache
def wake_instructions(threads: int, lanes: int) -> int:
    """Vector instructions of `lanes` f32 one core runs in the time the first
    parallel loop of `threads` adds to a call whose workers slept: that time,
    at the measured clock and rate of such vector FMAs (see
    `ThreadProbe.vector_rate`); 0 (every call stays parallel) where the probe
    cannot run (no OpenMP runtime, say)."""
    try:
        probe = ThreadProbe(threads, lanes)
        return round(probe.first_loop_seconds() * probe.clock_hz() * probe.vector_rate())
    except Exception:  # a measurement that cannot run leaves every call parallel, as before it existed
        return 0


class ThreadProbe:
    """The probe compiled for `threads` (and FMAs of vectors of `lanes` f32);
    each timing is the mean of the middle half of `PROBES` calls (from each
    placement, for the first loop), each after the caller worked `between_s`
    (as a program does between two calls of a model)."""

    def __init__(self, threads: int, lanes: int):
        with make_context():
            module = ir.Module.parse(_PROBE.format(threads=threads) + _fma_probe(lanes))
            build_pass_manager(_LOWER.format(threads=threads), module.context).run(module.operation)
            self._engine = ExecutionEngine(module, opt_level=2, shared_libs=[openmp_runtime()])
        self._steps, self._loops, self._result = ctypes.c_int64(0), ctypes.c_int64(1), ctypes.c_int64(0)
        self._serial_args = (ctypes.c_void_p * 2)(ctypes.addressof(self._steps), ctypes.addressof(self._result))
        self._parallel_args = (ctypes.c_void_p * 2)(ctypes.addressof(self._steps), ctypes.addressof(self._loops))
        self._serial, self._parallel, self._fmas = (_PACKED(self._engine.raw_lookup(name))
                                                    for name in ("serial", "parallel", "fmas"))
        self._fma_steps = ctypes.c_int64(_FMA_STEPS)
        self._fma_args = (ctypes.c_void_p * 1)(ctypes.addressof(self._fma_steps))
        self._parallel(ctypes.addressof(self._parallel_args))  # creates the workers

    def clock_hz(self) -> float:
        """The core's clock: two dependent adds a cycle, the fastest of five spins."""
        self._steps.value = _CLOCK_STEPS
        seconds = min(self._timed(self._serial, self._serial_args, 0.0) for _ in range(5))
        self._steps.value = 0
        return 2 * _CLOCK_STEPS / seconds

    def vector_rate(self) -> float:
        """Vector FMAs a cycle, the fastest of five runs of independent chains:
        the rate the kernels' instruction counts (see wafer-serial-short-calls)
        run at. Two on most x86 cores; one on a Zen 4, whose 256-bit pipes
        take an AVX-512 FMA in two halves."""
        seconds = min(self._timed(self._fmas, self._fma_args, 0.0) for _ in range(5))
        return _FMA_CHAINS * _FMA_STEPS / (seconds * self.clock_hz())

    def first_loop_seconds(self, between_s: float = BETWEEN_S) -> float:
        """An empty parallel loop less a serial call: the workers' wake-up,
        timed from each of the caller's placements (see `_placements`)."""
        def sample() -> float:
            return (self._timed(self._parallel, self._parallel_args, between_s)
                    - self._timed(self._serial, self._serial_args, between_s))
        return _middle_mean([sample() for _ in _placements() for _ in range(PROBES)])

    def later_loop_seconds(self, between_s: float = BETWEEN_S) -> float:
        """What each of `_LATER_LOOPS` more loops in the call adds, its workers spinning."""
        def later() -> float:
            self._loops.value = 1 + _LATER_LOOPS
            many = self._timed(self._parallel, self._parallel_args, between_s)
            self._loops.value = 1
            return (many - self._timed(self._parallel, self._parallel_args, between_s)) / _LATER_LOOPS
        return _middle_mean([later() for _ in range(PROBES)])

    @staticmethod
    def _timed(function, args, between_s: float) -> float:
        _work_for(between_s)
        start = time.perf_counter()
        function(ctypes.addressof(args))
        return time.perf_counter() - start


def _placements():
    """Pin the calling thread to each of up to `PLACEMENTS` CPUs of its
    affinity mask in turn, yielding once on each; its mask is restored
    after. Where threads cannot be pinned, one placement: wherever it runs."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    mask = sorted(os.sched_getaffinity(0))
    step = max(1, len(mask) // PLACEMENTS)
    try:
        for cpu in mask[::step][:PLACEMENTS]:
            os.sched_setaffinity(0, {cpu})
            yield
    finally:
        os.sched_setaffinity(0, mask)


def _middle_mean(samples: list[float]) -> float:
    """The mean of the middle half of `samples` (the interquartile mean), at least 0."""
    ordered = sorted(samples)
    quarter = len(ordered) // 4
    return max(0.0, statistics.mean(ordered[quarter:len(ordered) - quarter]))


def _work_for(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
