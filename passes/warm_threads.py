"""wafer-warm-threads: keep OpenMP workers awake between a call's parallel loops, asleep after it."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..symbols import public_functions
from .pass_base import WaferPass, find_ops

WARM, REST = "wafer_warm_threads", "wafer_rest_threads"


def _helpers(threads: int, block_ms: int) -> str:
    """kmp_set_blocktime sets the calling thread's teams' block time (ms); a worker reads
    it at each join, so the empty loop of @rest sends the warm worker straight to sleep.
    The loop's body is an asm side effect: LLVM's OpenMPOpt deletes a region without one."""
    return f"""
func.func private @kmp_set_blocktime(i32)
func.func private @{WARM}() {{
  %ms = arith.constant {block_ms} : i32
  func.call @kmp_set_blocktime(%ms) : (i32) -> ()
  return
}}
func.func private @{REST}() {{
  %zero = arith.constant 0 : i32
  func.call @kmp_set_blocktime(%zero) : (i32) -> ()
  %threads = arith.constant {threads} : i32
  omp.parallel num_threads(%threads : i32) {{
    llvm.inline_asm has_side_effects "", "" : () -> ()
    omp.terminator
  }}
  return
}}
"""


@dataclass(frozen=True)
class WarmThreads(WaferPass):
    """Let the workers spin between the parallel loops of one call, and sleep after it.

    The runtime runs with a block time of 0 (see `openmp_runtime`), so an
    idle worker never steals a core from whatever runs between two calls;
    but then a thread that waits at all sleeps at once: each parallel loop
    wakes a sleeping worker, and within one loop whichever thread reaches
    its closing barrier first sleeps there until the other wakes it, so a
    call paid the wake-up twice even for a single loop (bench/thread_wake.py
    times such calls). A public function that runs a parallel loop, in its
    body or in a function it calls, now sets a short block time on entry,
    so the threads spin at the barriers and from one parallel loop to the
    next, and before it returns sets it back to 0 and runs an empty
    parallel loop, after which the worker sleeps at once (a few
    microseconds while it is still spinning). Runs on the OpenMP dialect,
    before its lowering to LLVM.

    Options:
      threads: the team size of the parallel loops (convert-scf-to-openmp's
        num-threads): the empty loop must reach the same worker.
      block-ms: how long a worker spins for the next loop (ms). 1 ms covers
        the gaps between LeNet's or the transformer's loops; after a longer
        serial stretch (the ResNet block's batch norm) the worker sleeps, as
        a spinning worker loses its share of a core that other processes
        want (200 ms ran the ResNet block 10% slower on a loaded machine).
    """

    name = "wafer-warm-threads"
    summary = "Keep OpenMP workers spinning within a call and put them to sleep before it returns"

    threads: int = 2
    block_ms: int = 1

    def apply(self, module: ir.Operation) -> None:
        body = module.regions[0].blocks[0]
        functions = {ir.StringAttr(f.attributes["sym_name"]).value: f
                     for f in body.operations if f.operation.name == "func.func"}
        warmed = [f for f in public_functions(module) if _runs_parallel_loops(f, functions, set())]
        if not warmed:
            return
        helpers = ir.Module.parse(_helpers(self.threads, self.block_ms))  # alive until its ops have moved
        for op in list(helpers.body.operations):
            body.append(op)
        for function in warmed:
            entry = function.regions[0].blocks[0]
            with ir.InsertionPoint.at_block_begin(entry), function.location:
                _call(WARM)
            for ret in find_ops(function.operation, lambda op: op.name == "func.return"):
                with ir.InsertionPoint(ret), ret.location:
                    _call(REST)


def _runs_parallel_loops(function: ir.OpView, functions: dict[str, ir.OpView], seen: set[str]) -> bool:
    """Whether a call of `function` runs a parallel loop, in its body or in a
    function it calls: a callee runs within its caller's warm stretch, and
    warmed itself it would put the workers to sleep at each return."""
    calls = []
    for op in find_ops(function.operation, lambda op: op.name in ("omp.parallel", "func.call")):
        if op.name == "omp.parallel":
            return True
        calls.append(ir.FlatSymbolRefAttr(op.attributes["callee"]).value)
    seen.add(ir.StringAttr(function.attributes["sym_name"]).value)
    return any(callee in functions and callee not in seen and _runs_parallel_loops(functions[callee], functions, seen)
               for callee in calls)


def _call(name: str) -> None:
    ir.Operation.create("func.call", attributes={"callee": ir.FlatSymbolRefAttr.get(name)})
