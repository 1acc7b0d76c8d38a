"""wafer-serial-foralls: turn the `scf.forall` loops marked `wafer.serial` into serial loops."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import loop

from .pass_base import WaferPass, find_ops
from .transform_script import rematch_tagged, tag, transform_script

SERIAL = "wafer.serial"


@dataclass(frozen=True)
class SerialForalls(WaferPass):
    """Lower each bufferized `scf.forall` marked `wafer.serial` to an `scf.for` nest.

    wafer-fuse marks the tile loops of groups too small to pay for a fork
    and join of the threads, and wafer-serial-short-calls every loop of a
    call too short to pay for waking them: at threads > 1 they would
    otherwise become OpenMP parallel regions like every other `scf.forall`.
    Runs after bufferization: a forall with tensor `shared_outs` has no
    serial form.
    """

    name = "wafer-serial-foralls"
    summary = "Lower scf.forall loops marked wafer.serial to scf.for nests"

    def apply(self, module: ir.Operation) -> None:
        marked = find_ops(module, lambda op: op.name == "scf.forall" and SERIAL in op.attributes and not op.results)
        if not marked:
            return
        with transform_script(module) as root:
            for i, op in enumerate(marked):
                tag(op, f"serial{i}")
                rank = len(op.regions[0].blocks[0].arguments)
                loop.ForallToForOp([transform.AnyOpType.get()] * rank, rematch_tagged(root, f"serial{i}"))
