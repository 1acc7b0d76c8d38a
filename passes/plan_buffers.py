"""wafer-plan-buffers: place a function's temporaries at fixed offsets of one static arena."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, func, memref, scf

from ..dialects.wse import buffer_bytes
from ..symbols import ARENA_BYTES
from .pass_base import WaferPass
from .resource_blobs import ALIGNMENT, aligned_size

ON_EXIT = "wafer.on_exit"  # on an op that every way out of its function must run (wafer-lower-assert)


@dataclass(frozen=True)
class Temporary:
    """One buffer: its alloc, its dealloc, and the positions in the function's
    body between which it lives."""

    alloc: ir.Operation
    dealloc: ir.Operation
    start: int
    end: int
    bytes: int


@dataclass(frozen=True)
class PlanBuffers(WaferPass):
    """Put each static temporary of a function at an offset of one arena, an
    uninitialized global, so that buffers whose lifetimes do not overlap
    share memory and a call allocates nothing.

    After wafer-tighten-lifetimes each temporary of the function's body lives
    from its `memref.alloc` to its `memref.dealloc`, in a serial loop's body
    too (each iteration reuses its bytes; see `_temporaries`). A parallel
    loop's iterations keep their own. Offsets are chosen
    greedily, largest buffer first, each at the lowest offset clear of every
    placed buffer it is live with (TFLite's arena planner, "greedy by size").
    Each alloc becomes a `memref.view` of the arena.

    Through malloc a model's hundreds of temporaries each cost a search of
    the allocator's bins, in chunk headers no longer in cache. The arena is
    a global, not one malloc per call: an arena past malloc's mmap threshold
    would come back as fresh pages on every call. Its pages stay mapped and
    warm from call to call. A call that finds the arena taken (another
    thread is in the same function) allocates a private one instead: the
    function calls a helper that takes the arena with an atomic exchange on
    a flag, and one that gives it back, marked `wafer.on_exit`, which
    wafer-lower-assert repeats on the early return of a failed runtime
    check. The helpers keep the function itself free of branches: glue that
    LLVM compiles without optimizing (wafer-unoptimized-glue).
    """

    name = "wafer-plan-buffers"
    summary = "Place a function's temporaries at fixed offsets of one static arena"

    def apply(self, module: ir.Operation) -> None:
        body = module.regions[0].blocks[0]
        for op in list(body.operations):
            if op.operation.name == "func.func" and len(op.regions[0].blocks) == 1:
                _plan(op)


def _plan(function: ir.OpView) -> None:
    block = function.regions[0].blocks[0]
    temporaries = _temporaries(block)
    if not temporaries:
        return
    offsets = assign_offsets([(t.start, t.end, t.bytes) for t in temporaries])
    arena_bytes = max(offset + t.bytes for offset, t in zip(offsets, temporaries))
    name = ir.StringAttr(function.attributes["sym_name"]).value
    arena_type = ir.MemRefType.get([arena_bytes], ir.IntegerType.get_signless(8))
    take, give_back = _declare_arena(function, arena_type, f"wafer_arena_{name}")
    first = block.operations[0]
    with ir.InsertionPoint(first), first.location:
        owned, arena = func.CallOp([ir.IntegerType.get_signless(1), arena_type], take, []).results
    for offset, temporary in zip(offsets, temporaries):
        alloc = temporary.alloc
        with ir.InsertionPoint(alloc), alloc.location:
            start = arith.ConstantOp(ir.IndexType.get(), offset).result
            view = memref.ViewOp(alloc.results[0].type, arena, start, []).result
        alloc.results[0].replace_all_uses_with(view)
        alloc.erase()
        temporary.dealloc.erase()
    terminator = block.operations[len(block.operations) - 1]
    with ir.InsertionPoint(terminator), terminator.location:
        call = func.CallOp([], give_back, [owned, arena])
    call.attributes[ON_EXIT] = ir.UnitAttr.get()
    function.attributes[ARENA_BYTES] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), arena_bytes)


def _declare_arena(function: ir.OpView, arena_type: ir.MemRefType, prefix: str) -> tuple[str, str]:
    """Before `function`: the arena global, its flag (1 while a call holds it),
    and the functions that take and give back the arena; their names."""
    arena, flag, take, give_back = prefix, f"{prefix}_taken", f"{prefix}_take", f"{prefix}_give_back"
    i1, i32 = ir.IntegerType.get_signless(1), ir.IntegerType.get_signless(32)
    flag_type = ir.MemRefType.get([], i32)
    alignment = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), ALIGNMENT)
    with ir.InsertionPoint(function), function.location:
        memref.GlobalOp(arena, arena_type, sym_visibility="private", initial_value=ir.UnitAttr.get(),
                        alignment=alignment)
        memref.GlobalOp(flag, flag_type, sym_visibility="private",
                        initial_value=ir.DenseElementsAttr.get_splat(ir.RankedTensorType.get([], i32),
                                                                     ir.IntegerAttr.get(i32, 0)))
        # Whether this call took the global arena (the flag was clear), and the
        # arena it computes in: that one, or a private one.
        taker = func.FuncOp(take, ir.FunctionType.get([], [i1, arena_type]), visibility="private")
        with ir.InsertionPoint(taker.add_entry_block()):
            taken = memref.GetGlobalOp(flag_type, flag).result
            before = memref.AtomicRMWOp(arith.AtomicRMWKind.assign, arith.ConstantOp(i32, 1).result, taken, []).result
            owned = arith.CmpIOp(arith.CmpIPredicate.eq, before, arith.ConstantOp(i32, 0).result).result
            choice = scf.IfOp(owned, [arena_type], has_else=True)
            with ir.InsertionPoint(choice.then_block):
                scf.YieldOp([memref.GetGlobalOp(arena_type, arena).result])
            with ir.InsertionPoint(choice.else_block):
                scf.YieldOp([memref.AllocOp(arena_type, [], [], alignment=alignment).result])
            func.ReturnOp([owned, choice.results[0]])
        giver = func.FuncOp(give_back, ir.FunctionType.get([i1, arena_type], []), visibility="private")
        entry = giver.add_entry_block()
        with ir.InsertionPoint(entry):
            owned, buffer = entry.arguments
            branch = scf.IfOp(owned, [], has_else=True)
            with ir.InsertionPoint(branch.then_block):
                clear = arith.ConstantOp(i32, 0).result
                memref.AtomicRMWOp(arith.AtomicRMWKind.assign, clear, memref.GetGlobalOp(flag_type, flag).result, [])
                scf.YieldOp([])
            with ir.InsertionPoint(branch.else_block):
                memref.DeallocOp(buffer)
                scf.YieldOp([])
            func.ReturnOp([])
    return take, give_back


def _temporaries(block: ir.Block) -> list[Temporary]:
    """The static, identity-layout allocs that a dealloc of their own block
    frees, in `block` or in serial loops under it, each living from its alloc
    to its dealloc in the order the ops are written (nested bodies in place).

    One in a loop body is made again by each iteration and freed before the
    next: it shares memory with the body's other temporaries that it is not
    live with, and with nothing live across the loop. A group of attention
    heads' scores, probabilities and packed operands (wafer-attention-head-
    groups) take one group's memory, not a region apiece for the whole loop."""
    position: dict[ir.Operation, int] = {}

    def number(op: ir.Operation) -> ir.WalkResult:
        position[op] = len(position)
        return ir.WalkResult.ADVANCE

    for op in block.operations:
        op.operation.walk(number, ir.WalkOrder.PRE_ORDER)
    temporaries = []
    for op in position:
        if op.name == "memref.alloc" and not op.operands and _fits_the_arena(op.opview) \
                and _serial_ancestor_in(op, block) is not None:
            frees = [use.owner.operation for use in op.results[0].uses
                     if use.owner.name == "memref.dealloc" and use.owner.operation.block == op.block]
            if len(frees) == 1:
                size = aligned_size(buffer_bytes(op.results[0].type))
                temporaries.append(Temporary(op, frees[0], position[op], position[frees[0]], size))
    return temporaries


def _serial_ancestor_in(op: ir.Operation, block: ir.Block) -> ir.Operation | None:
    """The op of `block` that is `op` or holds it within `scf.for` loops only;
    None under anything else (a parallel loop's iterations each need their own)."""
    while op.block != block:
        parent = op.parent
        if parent is None or parent.name != "scf.for":
            return None
        op = parent.operation
    return op


def _fits_the_arena(alloc: ir.OpView) -> bool:
    """Whether a `memref.view` of the arena can stand for `alloc`: an identity
    layout, the default memory space, an integer or float element, and an
    alignment the arena's offsets keep."""
    kind = ir.MemRefType(alloc.results[0].type)
    alignment = ir.IntegerAttr(alloc.attributes["alignment"]).value if "alignment" in alloc.attributes else 1
    return (kind.layout == ir.AffineMapAttr.get(ir.AffineMap.get_identity(kind.rank))
            and kind.memory_space is None and isinstance(kind.element_type, (ir.IntegerType, ir.FloatType))
            and ALIGNMENT % alignment == 0)


def assign_offsets(buffers: list[tuple[int, int, int]]) -> list[int]:
    """Byte offsets for (start, end, bytes) buffers such that two buffers live at
    once (their [start, end] intervals meet) never overlap: largest first, each
    at the lowest offset that clears every placed buffer it is live with."""
    placed: list[tuple[int, int, int, int]] = []  # start, end, offset, bytes
    offsets = [0] * len(buffers)
    for index in sorted(range(len(buffers)), key=lambda i: (-buffers[i][2], buffers[i][0])):
        start, end, size = buffers[index]
        offset = 0
        for _, _, other, other_size in sorted((p for p in placed if p[0] <= end and start <= p[1]),
                                              key=lambda p: p[2]):
            if offset + size <= other:
                break
            offset = max(offset, other + other_size)
        offsets[index] = offset
        placed.append((start, end, offset, size))
    return offsets
