"""wafer-stack-loop-temporaries: a parallel loop's small temporaries on its thread's stack."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import memref

from ..dialects.wse import buffer_bytes
from .pass_base import WaferPass, find_ops


def _small_static_alloc(op: ir.Operation, max_bytes: int) -> bool:
    return (op.name == "memref.alloc" and ir.MemRefType(op.results[0].type).has_static_shape
            and buffer_bytes(op.results[0].type) <= max_bytes)


def _stack_allocate(alloc: ir.OpView) -> None:
    """Replace `alloc` by an alloca of its type and alignment, and drop its deallocs."""
    for use in list(alloc.results[0].uses):
        if use.owner.name == "memref.dealloc":
            use.owner.erase()
    with ir.InsertionPoint(alloc), alloc.location:
        alignment = alloc.attributes["alignment"] if "alignment" in alloc.attributes else None
        stacked = memref.AllocaOp(alloc.results[0].type, [], [], alignment=alignment)
    alloc.results[0].replace_all_uses_with(stacked.result)
    alloc.operation.erase()


def _in_alloca_scope(body: ir.Block) -> None:
    """Move the ops of a loop body, but its terminator, into a `memref.alloca_scope`:
    each iteration's allocas are released at its end, not at the function's."""
    operations = list(body.operations)[:-1]
    with ir.InsertionPoint.at_block_begin(body), operations[0].location:
        scope = memref.AllocaScopeOp([])
        block = scope.regions[0].blocks.append()
    for op in operations:
        op.detach_from_parent()
        block.append(op)
    with ir.InsertionPoint(block), operations[0].location:
        memref.AllocaScopeReturnOp([])


@dataclass(frozen=True)
class StackLoopTemporaries(WaferPass):
    """Allocate each static temporary of at most `max-bytes` in the body of an
    `scf.parallel` loop on the stack, in an alloca scope per iteration.

    wafer-plan-buffers gives the temporaries of serial code fixed places in
    the function's arena, but those of a parallel loop's body stay mallocs:
    each iteration needs its own. Where an iteration is one tile of rows
    (wafer-fuse-rows' layer norms, a row of 768 features, and its 4-byte
    moments), a malloc and free per buffer per row made the two-thread loop
    slower than the one-thread one. A thread's stack pointer bump costs
    nothing, and the scope gives the bytes back at each iteration's end.

    Options:
      max-bytes: the largest temporary put on the stack (OpenMP workers'
        stacks are some megabytes; a tile's temporaries a few kilobytes).
    """

    name = "wafer-stack-loop-temporaries"
    summary = "Allocate small temporaries of parallel loop bodies on the stack"

    max_bytes: int = 1 << 15

    def apply(self, module: ir.Operation) -> None:
        for loop in find_ops(module, lambda op: op.name == "scf.parallel"):
            body = loop.regions[0].blocks[0]
            allocs = [op for op in body.operations if _small_static_alloc(op, self.max_bytes)]
            if not allocs:
                continue
            for alloc in allocs:
                _stack_allocate(alloc.opview)
            _in_alloca_scope(body)
