"""wafer-unshare-inits: give every destination its own tensor.empty or fill."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass, block_order, find_ops


@dataclass(frozen=True)
class UnshareInits(WaferPass):
    """Clone each `tensor.empty` and tensor `linalg.fill` once per use, just before the user.

    CSE merges identical ones, so unrelated ops (the packed outputs of two
    convolutions of one shape, say) end up writing into one init. One-Shot
    Bufferize then gives them one buffer, alive from the first op to the
    last, or copies a shared fill into a second buffer. Recomputing a fill
    costs what the copy costs; an empty costs nothing. Uses inside loops
    keep the original: a clone there would be allocated whole on every trip.
    """

    name = "wafer-unshare-inits"
    summary = "Clone tensor.empty and linalg.fill ops so each use has its own"

    def apply(self, module: ir.Operation) -> None:
        # Fills first: each cloned fill adds a use of its empty, unshared next.
        for name in ("linalg.fill", "tensor.empty"):
            for op in find_ops(module, lambda op, name=name: op.name == name and _is_tensor(op)):
                uses = sorted(
                    ((use.owner, use.operand_number) for use in op.results[0].uses
                     if use.owner.operation.block == op.block),
                    key=lambda use: block_order(use[0]),
                )
                for user, operand_number in uses[1:]:  # the first user keeps the original
                    clone = op.clone(ir.InsertionPoint(user))
                    user.operands[operand_number] = clone.results[0]


def _is_tensor(op: ir.Operation) -> bool:
    return len(op.results) == 1 and isinstance(op.results[0].type, ir.RankedTensorType)
