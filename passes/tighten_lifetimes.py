"""wafer-tighten-lifetimes: allocate each buffer at its first use, free it after its last."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass, block_order, find_ops


@dataclass(frozen=True)
class TightenLifetimes(WaferPass):
    """Move each `memref.dealloc` up to just after the last use of its buffer,
    and each static `memref.alloc` down to just before its first use.

    The ownership-based deallocation pipeline frees every buffer at the end
    of the block that allocated it, so a function holds all its temporaries
    until it returns: a chain of layers needs the sum of its activations,
    where the largest pair would do. Uses count through every alias (any op
    that takes the buffer and returns a memref: views, casts, loops) and
    through nested regions, at the op of the buffer's block that holds them.
    A buffer whose address escapes as an integer keeps its lifetime.
    """

    name = "wafer-tighten-lifetimes"
    summary = "Allocate buffers at their first use and free them after their last"

    def apply(self, module: ir.Operation) -> None:
        for dealloc in find_ops(module, lambda op: op.name == "memref.dealloc"):
            _free_after_last_use(dealloc)
        for alloc in find_ops(module, lambda op: op.name == "memref.alloc" and not op.operands):
            _allocate_before_first_use(alloc)


def _free_after_last_use(dealloc: ir.Operation) -> None:
    buffer = dealloc.operands[0]
    if not isinstance(buffer.owner, ir.OpView) or buffer.owner.operation.block != dealloc.block:
        return
    uses = _uses_in_block(buffer, dealloc.block, skip=dealloc.operation)
    if uses:
        dealloc.move_after(max(uses, key=block_order))


def _allocate_before_first_use(alloc: ir.Operation) -> None:
    uses = _uses_in_block(alloc.result, alloc.block)
    if uses:
        alloc.move_before(min(uses, key=block_order))


def _uses_in_block(buffer: ir.Value, block: ir.Block, skip: ir.Operation | None = None) -> list[ir.Operation]:
    """The ops of `block` that use `buffer` or an alias of it, themselves or
    in their regions; none when its address escapes as an integer."""
    users, pending = {}, [buffer]
    while pending:
        for use in pending.pop().uses:
            if use.owner.name == "memref.extract_aligned_pointer_as_index":
                return []
            user = _ancestor_in(use.owner.operation, block)
            if user is None or (skip is not None and user == skip) or user in users:
                continue
            users[user] = None
            pending.extend(r for r in user.results if isinstance(r.type, ir.MemRefType))
    return list(users)


def _ancestor_in(op: ir.Operation, block: ir.Block) -> ir.Operation | None:
    """`op` or the op that holds it in `block`; None if it is not under `block`."""
    while op.block != block:
        if op.parent is None or op.parent.name == "func.func":
            return None
        op = op.parent.operation
    return op
