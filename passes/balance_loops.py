"""wafer-balance-loops: hand out a parallel loop's iterations in chunks, to whichever thread is free."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith

from .kernel_defaults import CHUNKS_PER_THREAD
from .linalg_queries import constant_int, trip_count
from .pass_base import OptionError, WaferPass, find_ops

_OPERAND_SEGMENTS = "operandSegmentSizes"
_CHUNK_SEGMENT = -1  # omp.wsloop's last operand group: the schedule's chunk size


@dataclass(frozen=True)
class BalanceLoops(WaferPass):
    """Give each OpenMP worksharing loop a dynamic schedule whose chunks are
    `chunks-per-thread` to a thread.

    convert-scf-to-openmp leaves the schedule static: each thread takes one
    contiguous share, decided before the loop starts, and the loop ends when
    the slower share does. Shares are rarely equal: a convolution's edge rows
    skip the taps that read padding, a packed matmul's last tile is ragged, a
    Winograd convolution's last block holds padding rows; and on a virtual
    machine one virtual CPU may run slower than the other for a while (its
    host core shared). With chunks taken from a shared counter, a thread that
    finishes early takes more. One chunk per iteration paid that counter on
    every iteration (a LeNet's 896 convolution rows of a few hundred cycles
    each ran slower than static); a few chunks a thread pay it a few times a
    loop and still even the shares out (kernel_defaults.CHUNKS_PER_THREAD).

    Runs on the OpenMP dialect, after convert-scf-to-openmp. A loop with
    non-constant bounds keeps its static schedule.

    Options:
      threads: the team size of the parallel loops.
      chunks-per-thread: chunks each thread takes on average; 0 leaves
        every schedule static.
    """

    name = "wafer-balance-loops"
    summary = "Give OpenMP worksharing loops a dynamic schedule of a few chunks per thread"

    threads: int = 2
    chunks_per_thread: int = CHUNKS_PER_THREAD

    def __post_init__(self):
        if self.threads < 1:
            raise OptionError(f"option {self.name}{{threads}}: expected 1 or more, got {self.threads}")
        if self.chunks_per_thread < 0:
            raise OptionError(f"option {self.name}{{chunks-per-thread}}: expected 0 (static) or more, "
                              f"got {self.chunks_per_thread}")

    def apply(self, module: ir.Operation) -> None:
        if self.threads == 1 or not self.chunks_per_thread:
            return
        for loop in find_ops(module, lambda op: op.name == "omp.wsloop" and "schedule_kind" not in op.attributes):
            trips = _trips(loop)
            if trips is not None:
                _schedule_dynamic(loop, max(1, math.ceil(trips / (self.threads * self.chunks_per_thread))))


def _trips(loop: ir.Operation) -> int | None:
    """The iterations of the wsloop's (collapsed) loop nest, if its bounds are constants."""
    nests = [op for op in loop.regions[0].blocks[0].operations if op.name == "omp.loop_nest"]
    if len(nests) != 1:
        return None
    bounds = [constant_int(value) for value in nests[0].operands]
    if None in bounds:
        return None
    rank = len(bounds) // 3
    lower, upper, step = bounds[:rank], bounds[rank:2 * rank], bounds[2 * rank:]
    return math.prod(trip_count(*loop_bounds) for loop_bounds in zip(lower, upper, step))


def _schedule_dynamic(loop: ir.Operation, chunk: int) -> None:
    """Rebuild `loop` with `schedule(dynamic = chunk)`: the chunk is an operand,
    which an op cannot gain in place."""
    segments = list(ir.DenseI32ArrayAttr(loop.attributes[_OPERAND_SEGMENTS]))
    segments[_CHUNK_SEGMENT] = 1
    attributes = {name: loop.attributes[name] for name in loop.attributes}
    attributes[_OPERAND_SEGMENTS] = ir.DenseI32ArrayAttr.get(segments)
    attributes["schedule_kind"] = ir.Attribute.parse("#omp<schedulekind dynamic>")
    with ir.InsertionPoint(loop), loop.location:
        size = arith.ConstantOp(ir.IntegerType.get_signless(32), chunk).result
        balanced = ir.Operation.create("omp.wsloop", operands=[*loop.operands, size], attributes=attributes,
                                       regions=1)
    loop.regions[0].blocks[0].append_to(balanced.regions[0])
    loop.erase()
