"""wafer-fence-in-place-selects: keep an in-place select a blend and a plain store, not a masked store."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import llvm, vector

from .pass_base import WaferPass, find_ops

_READS = ("vector.transfer_read", "vector.load")
_WRITES = ("vector.transfer_write", "vector.store")
# Ops whose x86 lowering is a select between their operands: a maximum's NaN lanes keep
# the operand, so `maximumf(x, 0)` written back over x is as foldable as the select.
_SELECTS = ("arith.select", "arith.maximumf", "arith.minimumf")


@dataclass(frozen=True)
class FenceInPlaceSelects(WaferPass):
    """Put `llvm.intr.arithmetic.fence` between a vector read and a select
    that is written back where the read came from.

    The bundled LLVM folds `store(select(mask, x, load(p)), p)` into a masked
    store of x (llvm/llvm-project#145176): with AVX2, `vmaskmovps`, which
    AMD's Zen 1-3 run as microcode and no later load can forward from. A ReLU
    applied in place to a tile, as wafer-fuse-epilogues applies it after a
    direct convolution whose bias is its init, wrote every row that way and
    took most of the convolution's time (llvm/llvm-project#213195 reports the
    fold's loss; its fix, #214187, is newer than this LLVM). The fence
    compiles to nothing: hidden from the fold, the select stays a blend (or an
    AND) and a plain store, which costs no more than a masked store with
    AVX-512's mask registers either, so the pass does not depend on the machine.
    """

    name = "wafer-fence-in-place-selects"
    summary = "Fence the read of a select written back in place, so LLVM emits no masked store"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name in _SELECTS):
            select = op.opview
            if not isinstance(select.results[0].type, ir.VectorType):
                continue
            places = [_place(use.owner, written=True) for use in select.results[0].uses
                      if use.owner.name in _WRITES and use.operand_number == 0]
            for operand in list(select.operands):
                if _read_place(operand) in places:
                    _fence(select, operand)


def _read_place(value: ir.Value) -> tuple | None:
    owner = value.owner
    if isinstance(owner, ir.OpView) and owner.name in _READS:
        return _place(owner, written=False)
    return None


def _place(op: ir.Operation, written: bool) -> tuple:
    """The buffer, indices and vector type a read or write accesses."""
    operands = list(op.operands)[1:] if written else list(op.operands)
    buffer = operands[0]
    rank = buffer.type.rank
    vector_type = op.operands[0].type if written else op.results[0].type
    return (buffer, tuple(operands[1:1 + rank]), vector_type)


def _fence(select: ir.OpView, value: ir.Value) -> None:
    """Replace `value` in `select` by its fenced copy (the fence takes 1-D vectors)."""
    shape = value.type.shape
    flat = ir.VectorType.get([math.prod(shape)], value.type.element_type)
    with ir.InsertionPoint(select), select.location:
        fenced = llvm.intr_arithmetic_fence(vector.shape_cast(flat, value) if len(shape) != 1 else value)
        if len(shape) != 1:
            fenced = vector.shape_cast(value.type, fenced)
    for i, operand in enumerate(select.operands):
        if operand == value:
            select.operands[i] = fenced
