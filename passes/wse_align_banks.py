"""wse-align-banks: lay each region's buffers out in SRAM so that the two vector
operands of an instruction read from different bank pairs.

A PE reads two SRAM operands per cycle only when they come from banks four
apart (SDK appendix, 'SIMD Mode'): with both 32-bit aligned, their addresses
must differ by 4 mod 8 (`cost.conflict_fraction`). wse-distribute packs the
buffers word after word in the order it makes them, so whether an
accumulator and the panel an AXPY streams past it collide is an accident of
the sizes before them. A colliding SIMD instruction (16-bit ones, a 32-bit
add) takes two cycles per SIMD group; a 32-bit FMA is one element a cycle
either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import WORD_BYTES, buffer_bytes, fabric_of, i64_attr, int_attr, next_word, regions_of
from ..wse_target.kernel import kernel_cycles, kernel_of, paired_operands
from ..wse_target.machine import Machine, kernel_costs_of
from .pass_base import WaferPass


def _kernels(block: ir.Block, repeat: int = 1) -> list[tuple[ir.Operation, int]]:
    """Every local linalg op of a region's body, with how often it runs (its
    enclosing wse.steps' counts)."""
    found = []
    for op in block.operations:
        op = op.operation
        if op.name == "wse.steps":
            found += _kernels(op.regions[0].blocks[0], repeat * int_attr(op, "count"))
        elif op.name == "wse.compute":
            found += [(inner.operation, repeat) for inner in op.regions[0].blocks[0].operations
                      if inner.operation.name.startswith("linalg.")]
    return found


@dataclass(frozen=True)
class WseAlignBanks(WaferPass):
    """Give every buffer, in declaration order, the next word or the one after
    it, whichever makes the kernels it completes (those whose two vector
    operands it is the later of) take the fewest cycles; the next word on a
    tie, so a region with nothing to gain keeps wse-distribute's packing."""

    name = "wse-align-banks"
    summary = "Offset wse.buffers in SRAM so an instruction's two vector operands do not share a bank"

    def apply(self, module: ir.Operation) -> None:
        for region in regions_of(module):
            self._lay_out(region, kernel_costs_of(fabric_of(region).name))

    @staticmethod
    def _lay_out(region: ir.Operation, machine: Machine) -> None:
        body = region.regions[0].blocks[0]
        buffers = [op.operation for op in body.operations if op.operation.name == "wse.buffer"]
        order = {op.results[0]: i for i, op in enumerate(buffers)}
        completes: dict[int, list] = {}  # buffer index -> the kernels whose later paired operand it is
        for op, repeat in _kernels(body):
            paired = [order[v] for v in paired_operands(op) if v in order]
            if len(paired) == 2:
                completes.setdefault(max(paired), []).append((op, repeat))
        offsets, end = {}, 0
        for i, buffer in enumerate(buffers):
            value = buffer.results[0]
            first = next_word(end)

            def cycles(offset: int) -> float:
                offsets[value] = offset
                return sum(kernel_cycles(kernel_of(op, machine, offsets), machine, repeat)
                           for op, repeat in completes.get(i, ()))

            offsets[value] = min((first, first + WORD_BYTES), key=cycles)
            end = offsets[value] + buffer_bytes(value.type)
            buffer.attributes["offset"] = i64_attr(offsets[value])
