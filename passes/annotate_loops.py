"""wafer-annotate-loops: tell LLVM not to unroll the loops Wafer already unrolled."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass, find_ops

_ROLLED = "#llvm.loop_annotation<unroll = <disable = true>>"


@dataclass(frozen=True)
class AnnotateLoops(WaferPass):
    """Mark loop back edges in the LLVM dialect with metadata that disables
    LLVM's loop unroller.

    Wafer's kernels reach LLVM unrolled as far as their registers allow; at -O2
    LLVM unrolls the small constant-trip loops around them once more, and the
    machine code of those copies was most of the JIT time (LeNet 0.52 -> 0.17 s,
    the transformer layer 1.14 -> 0.48 s, at the same speed). Left to LLVM: loops
    that fill a vector one lane per iteration (the 1-D strided transfers
    `convert-vector-to-scf` leaves), which only unrolling keeps in registers, and
    the loop vectorizer, which still pays on the scalar loops.

    A back edge is an `llvm.br` to a block that does not come after its own:
    `convert-scf-to-cf` puts a loop's header before its body, and every other
    branch of structured control flow goes forward. Runs on the LLVM dialect.
    """

    name = "wafer-annotate-loops"
    summary = "Disable LLVM's unrolling of loops Wafer already unrolled"

    def apply(self, module: ir.Operation) -> None:
        rolled = ir.Attribute.parse(_ROLLED)
        found = find_ops(module, lambda op: op.name in ("llvm.br", "llvm.insertelement"))
        # One walk, not one scan of each loop's blocks per enclosing loop as well.
        lane_blocks = {op.block for op in found if _inserts_a_lane(op)}
        position: dict[ir.Block, int] = {}  # each block's index in its region
        region_blocks: dict[ir.Block, list[ir.Block]] = {}  # each block's region, listed once
        for branch in (op for op in found if op.name == "llvm.br"):
            latch, header = branch.block, branch.successors[0]
            if latch not in position:
                blocks = list(latch.region.blocks)
                position.update((block, i) for i, block in enumerate(blocks))
                region_blocks.update((block, blocks) for block in blocks)
            if position[header] > position[latch]:
                continue
            if not lane_blocks.intersection(region_blocks[latch][position[header]:position[latch] + 1]):
                branch.attributes["loop_annotation"] = rolled


def _inserts_a_lane(op: ir.Operation) -> bool:
    """An insertelement at a position only known at run time: one lane per iteration."""
    if op.name != "llvm.insertelement":
        return False
    position = op.operands[2].owner
    return not (isinstance(position, ir.OpView) and position.name == "llvm.mlir.constant")
