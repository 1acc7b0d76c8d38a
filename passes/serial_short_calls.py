"""wafer-serial-short-calls: run a call on one thread where waking a worker costs more than the threads save."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir

from .cpu_target import TargetedPass
from .linalg_queries import constant_int, loop_ranges, trip_count
from .pack_matmul import record_strategy
from .pass_base import OptionError, enclosing, find_ops
from .serial_foralls import SERIAL

# Ops that compute nothing at run time: views, constants, terminators.
_FREE = frozenset({
    "arith.constant", "ub.poison", "scf.yield", "scf.forall.in_parallel", "linalg.yield", "vector.yield",
    "memref.subview", "memref.expand_shape", "memref.collapse_shape", "memref.cast", "memref.reinterpret_cast",
    "memref.assume_alignment", "memref.get_global", "vector.shape_cast", "memref.alloca_scope.return",
})


@dataclass(frozen=True)
class SerialShortCalls(TargetedPass):
    """Mark every parallel loop of a function `wafer.serial` where, all
    together, they would save the caller less time than waking a worker takes.

    Between calls the OpenMP workers sleep (see `openmp_runtime`), and the
    call's first parallel loop waits for one to wake (wafer-warm-threads
    keeps it awake for the rest of the call): on a virtual machine that
    takes longer than a small model's whole call, which then ran several
    times slower on two threads than on one (bench/thread_wake.py).
    Each loop's share of the work is its instructions, counted over the
    static trip counts of its nest (a vector op is one instruction per
    vector register it fills); the threads save the part the caller would
    otherwise run itself. A loop whose work is not static (a dynamic trip
    count, a call) keeps the function parallel. Runs after bufferization,
    before wafer-serial-foralls lowers the marked loops.

    Options:
      threads: the team size of the parallel loops.
      wake-instructions: instructions one core runs while a sleeping worker
        wakes; -1 measures them on this host (wafer/thread_wake.py, once a
        process, and only for a module with parallel loops to weigh), 0
        keeps every function parallel.
    """

    name = "wafer-serial-short-calls"
    summary = "Run a function's parallel loops serially where waking a worker costs more than they save"

    threads: int = 2
    wake_instructions: int = -1

    def __post_init__(self):
        super().__post_init__()
        if self.threads < 1:
            raise OptionError(f"option {self.name}{{threads}}: expected 1 or more, got {self.threads}")
        if self.wake_instructions < -1:
            raise OptionError(f"option {self.name}{{wake-instructions}}: expected -1 (measured on this host), "
                              f"0 (always parallel) or more, got {self.wake_instructions}")

    def apply(self, module: ir.Operation) -> None:
        if self.threads == 1 or not self.wake_instructions:
            return
        functions = find_ops(module, lambda op: op.name == "func.func")
        for function in functions:
            loops = find_ops(function, lambda op: op.name == "scf.forall" and SERIAL not in op.attributes
                             and not op.results)
            outermost = [loop for loop in loops if enclosing(loop, "scf.forall") is None]
            saved = _sum_or_none(self._saved(loop) for loop in outermost)
            if not outermost or saved is None or saved >= self._wake():
                continue
            for loop in loops:
                loop.attributes[SERIAL] = ir.UnitAttr.get()
            record_strategy(outermost[0].opview, f"one thread: the parallel loops would save {saved} instructions, "
                                                 f"waking a worker takes {self._wake()}")

    def _wake(self) -> int:
        if self.wake_instructions >= 0:
            return self.wake_instructions
        from ..thread_wake import wake_instructions  # compiles and times a probe: once a process, when needed

        return wake_instructions(self.threads, self.cpu.lanes)

    def _saved(self, loop: ir.Operation) -> int | None:
        """Instructions the other threads take off the caller in `loop`: all but
        the caller's share of its iterations, each time the function runs it."""
        iterations, work = _forall_iterations(loop), _block_work(loop.regions[0].blocks[0], self.cpu.lanes)
        runs = _enclosing_trips(loop)
        if iterations is None or work is None or runs is None:
            return None
        own = math.ceil(iterations / self.threads)
        return runs * (iterations - own) * work


def _sum_or_none(values) -> int | None:
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def _block_work(block: ir.Block, lanes: int) -> int | None:
    return _sum_or_none(_op_work(op, lanes) for op in block.operations)


def _op_work(op: ir.Operation, lanes: int) -> int | None:
    """Instructions one run of `op` takes, None where they are not static."""
    name = op.name
    if name in _FREE:
        return 0
    if name == "scf.for":
        trips, body = _for_trips(op), _block_work(op.regions[0].blocks[0], lanes)
        return None if trips is None or body is None else trips * body
    if name == "scf.forall":
        iterations, body = _forall_iterations(op), _block_work(op.regions[0].blocks[0], lanes)
        return None if iterations is None or body is None else iterations * body
    if name == "scf.if":
        branches = [_block_work(region.blocks[0], lanes) if region.blocks else 0 for region in op.regions]
        return None if None in branches else max(branches)
    if name == "memref.alloca_scope":
        return _block_work(op.regions[0].blocks[0], lanes)
    if name.startswith("linalg."):
        points = _linalg_points(op)
        body = len(op.regions[0].blocks[0].operations) if op.regions else 1
        return None if points is None else points * body
    if name == "vector.contract":
        ranges = loop_ranges(op)
        return None if ranges is None else _vectors(math.prod(ranges), lanes)
    if name == "vector.outerproduct":
        left, right = (ir.VectorType(value.type) for value in op.operands[:2])
        return _vectors(math.prod(left.shape) * math.prod(right.shape), lanes)
    if name == "memref.copy":
        source = ir.MemRefType(op.operands[0].type)
        return _vectors(math.prod(source.shape), lanes) if source.has_static_shape else None
    if op.regions or name == "func.call":
        return None  # a loop of its own (scf.while), or a body elsewhere: not counted here
    widest = max((math.prod(ir.VectorType(value.type).shape) for value in [*op.results, *op.operands]
                  if isinstance(value.type, ir.VectorType)), default=0)
    return _vectors(widest, lanes) if widest else 1


def _linalg_points(op: ir.Operation) -> int | None:
    """A linalg op's loop iterations: its loops' extents, or for a named op
    without maps (fill, copy, broadcast) its largest operand."""
    if "indexing_maps" in op.attributes:
        ranges = loop_ranges(op)
        return None if ranges is None else math.prod(ranges)
    shaped = [ir.ShapedType(value.type) for value in op.operands if isinstance(value.type, ir.ShapedType)]
    if not shaped or not all(value.has_static_shape for value in shaped):
        return None
    return max(math.prod(value.shape) for value in shaped)


def _vectors(elements: int, lanes: int) -> int:
    return -(-elements // lanes)


def _for_trips(loop: ir.Operation) -> int | None:
    lower, upper, step = (constant_int(value) for value in loop.operands[:3])
    if None in (lower, upper, step):
        return None
    return trip_count(lower, upper, step)


def _forall_iterations(loop: ir.Operation) -> int | None:
    bounds = [list(ir.DenseI64ArrayAttr(loop.attributes[key]))
              for key in ("staticLowerBound", "staticUpperBound", "staticStep")]
    if ir.ShapedType.get_dynamic_size() in [value for values in bounds for value in values]:
        return None
    return math.prod(trip_count(*loop_bounds) for loop_bounds in zip(*bounds))


def _enclosing_trips(op: ir.Operation) -> int | None:
    """How many times one call of the function runs `op`: the trips of the
    loops around it; None where one is not static."""
    runs, parent = 1, op.parent
    while parent.name != "func.func":
        if parent.name == "scf.for":
            trips = _for_trips(parent)
            if trips is None:
                return None
            runs *= trips
        elif parent.name in ("scf.while", "scf.parallel"):
            return None
        parent = parent.parent
    return runs
