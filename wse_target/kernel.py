"""A PE's local linalg op seen as the DSD instruction loop it would compile to.

The kernel walks the output's innermost dim as the vector of each instruction (one
instruction per tile row, the shape of the SDK's gemm-collectives_2d `@fmacs` loop).
An input that does not vary along that dim is a scalar read per instruction (the A
element of an AXPY). Buffers sit in SRAM at their `offset`s, so which operands
collide in a bank follows (wse-align-banks lays them out to avoid it).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir

from ..dialects.wse import element_bytes
from ..passes.linalg_queries import indexing_maps, loop_ranges, map_dims
from .cost import compute_cycles, conflict_fraction, row_residues, simd_narrowing, unavoidable_conflicts
from .distribution import body_cost
from .machine import Dtype, Machine


@dataclass(frozen=True)
class Kernel:
    """One PE's instruction stream for a linalg op: `elements` datapath slots issued
    `vector_length` at a time, with or without a scalar operand, at `datapath`
    cycles per element (`datapath_cycles`)."""

    elements: float
    vector_length: int
    dtype: Dtype
    scalar_operand: bool
    datapath: float


def datapath_cycles(kinds: tuple[str, ...], dtype: Dtype, machine: Machine, strides: list[int],
                    conflicts: float) -> float:
    """Cycles per element of a body's instructions, averaged over them: each at
    its own SIMD width on `dtype`'s datapath (`Machine.simd_width`: a 16-bit max
    runs one element a cycle where a 16-bit FMA runs four), narrowed by the
    operands' strides and bank conflicts as that width is."""
    widths = [machine.simd_width(kind, dtype) for kind in kinds]
    return sum(1.0 / (width * simd_narrowing(width, strides, conflicts)) for width in widths) / len(widths)


def kernel_dtype(inputs: list[ir.Value], output: ir.Value, accumulates: bool) -> Dtype:
    """The datapath of a kernel: 16-bit when every float operand is (`@fmach`),
    mixed when it sums 16-bit products into 32 bits (`@fmachs`), else 32-bit.
    A conversion between widths (`@fh2s`, `@fs2h`) runs at one element per
    cycle on WSE-2 (SDK appendix), so it counts as 32-bit."""
    def narrow(value: ir.Value) -> bool:
        return isinstance(ir.ShapedType(value.type).element_type, (ir.F16Type, ir.BF16Type))

    floats = [v for v in inputs if isinstance(v.type, ir.ShapedType)
              and isinstance(ir.ShapedType(v.type).element_type, ir.FloatType)]
    if all(narrow(v) for v in floats):
        if narrow(output):
            return "fp16"
        if accumulates and floats:
            return "mixed"
    return "fp32"


def kernel_of(op: ir.Operation, machine: Machine, offsets: dict) -> Kernel:
    """The kernel of linalg `op`; `offsets` maps each buffer value to its SRAM byte
    address (values missing from it, e.g. block arguments, count as address 0)."""
    ranges = loop_ranges(op)
    maps = [map_dims(m) for m in indexing_maps(op)]
    output = (list(op.operands)[-1], maps[-1])
    vector, scalar, reads_out, dtype = _instructions(op, len(ranges))
    length = max(ranges[vector], 1) if vector is not None else 1
    body = body_cost(op)
    elements = body.slots * math.prod(ranges)
    sources = _vector_sources(op, maps, vector, reads_out)
    strides = [_stride(v, d, vector) for v, d in sources + [output] if vector in d]
    conflicts = 0.0
    if len(sources) >= 2:
        conflicts = conflict_fraction(*(_row_residues(v, d, vector, offsets) for v, d in sources[:2]))
    return Kernel(float(elements), length, dtype, scalar, datapath_cycles(body.kinds, dtype, machine, strides, conflicts))


def paired_operands(op: ir.Operation) -> list[ir.Value]:
    """The two operands each of `op`'s instructions reads as vectors, whose
    banks may collide (fewer than two: nothing can)."""
    maps = indexing_maps(op)
    vector, _, reads_out, _ = _instructions(op, maps[0].n_dims)
    return [value for value, _ in _vector_sources(op, [map_dims(m) for m in maps], vector, reads_out)[:2]]


def _vector_sources(op: ir.Operation, maps: list[list[int | None]], vector: int | None,
                    reads_out: bool) -> list[tuple[ir.Value, list[int | None]]]:
    """The operands each instruction of `op` reads as vectors (`_instructions`
    gives `vector` and `reads_out`), with their maps' dims: the accumulator
    (when the body reads it along the vector dim), then every input that varies
    along it."""
    operands = list(op.operands)
    if vector is None:
        return []
    sources = [(v, d) for v, d in zip(operands[:-1], maps[:-1]) if vector in d]
    if reads_out and vector in maps[-1]:
        sources.insert(0, (operands[-1], maps[-1]))
    return sources


def kernel_cycles(kernel: Kernel, machine: Machine, repeat: int = 1) -> float:
    """Cycles of `kernel` run `repeat` times (once per step) on one PE."""
    return float(compute_cycles(machine, repeat * kernel.elements, kernel.vector_length, kernel.dtype,
                                scalar_operand=kernel.scalar_operand, datapath_cycles=kernel.datapath,
                                kernels=repeat))


@dataclass(frozen=True)
class LocalKernel:
    """What placement needs of a tensor-level linalg op to cost it on one PE's
    share: `kernel_of`'s instruction stream before any buffer is laid out. Its
    operands' strides follow from the share's extents, and so do its bank
    conflicts, as few as wse-align-banks can leave by placing the later of
    the two paired buffers one word on (`cost.unavoidable_conflicts`): rows
    of a 16-bit buffer an odd number of elements long start on every bank."""

    ranges: tuple[int, ...]  # the op's loop extents
    vector: int | None  # the loop each instruction walks
    scalar_operand: bool
    dtype: Dtype
    kinds: tuple[str, ...]  # the instruction of each datapath slot of an iteration (BodyCost)
    walked: tuple[tuple[int | None, ...], ...] = ()  # the dims of each operand read along `vector`
    paired: tuple[tuple[tuple[int | None, ...], int], ...] = ()  # `paired_operands`' dims and element bytes

    @classmethod
    def of(cls, op: ir.Operation) -> LocalKernel:
        ranges = tuple(loop_ranges(op))
        maps = [map_dims(m) for m in indexing_maps(op)]
        vector, scalar, reads_out, dtype = _instructions(op, len(ranges))
        walked = tuple(tuple(dims) for dims in maps if vector in dims)
        paired = tuple((tuple(dims), element_bytes(ir.ShapedType(value.type).element_type))
                       for value, dims in _vector_sources(op, maps, vector, reads_out)[:2])
        return cls(ranges, vector, scalar, dtype, body_cost(op).kinds, walked, paired)

    def cycles(self, local: list[int], machine: Machine, repeat: int = 1) -> float:
        """Cycles on one PE over local loop extents `local`, `repeat` times (once per SUMMA step)."""
        length = max(local[self.vector], 1) if self.vector is not None else 1
        elements = len(self.kinds) * math.prod(local)
        strides = [math.prod(local[d] for d in dims[dims.index(self.vector) + 1:] if d is not None)
                   for dims in self.walked]
        datapath = datapath_cycles(self.kinds, self.dtype, machine, strides, self._conflicts(local))
        return float(compute_cycles(machine, repeat * elements, length, self.dtype,
                                    scalar_operand=self.scalar_operand, datapath_cycles=datapath, kernels=repeat))

    def _conflicts(self, local: list[int]) -> float:
        """The fraction of instructions whose paired operands' rows collide in
        a bank pair however the later buffer is aligned, on the share `local`."""
        if len(self.paired) < 2:
            return 0.0
        return _unavoidable_conflicts(*((tuple(local[d] if d is not None else 1 for d in dims),
                                         dims.index(self.vector), size) for dims, size in self.paired))


@functools.cache
def _unavoidable_conflicts(rows0: tuple[tuple[int, ...], int, int], rows1: tuple[tuple[int, ...], int, int]) -> float:
    """`cost.unavoidable_conflicts` of two buffers given as (shape, vector axis, element bytes)."""
    return unavoidable_conflicts(row_residues(*rows0), row_residues(*rows1))


def vector_loop(output_dims: list[int | None], loops: int) -> int | None:
    """The loop each instruction walks: the output's innermost dim, else the innermost loop."""
    if output_dims and output_dims[-1] is not None:
        return output_dims[-1]
    return loops - 1 if loops else None


def _instructions(op: ir.Operation, loops: int) -> tuple[int | None, bool, bool, Dtype]:
    """How `op` issues: the loop each instruction walks (the output's innermost
    dim), whether an input is a scalar per instruction (it does not vary along
    that loop), whether the body reads the accumulator, and the datapath."""
    maps = [map_dims(m) for m in indexing_maps(op)]
    operands = list(op.operands)
    vector = vector_loop(maps[-1], loops)
    scalar = vector is not None and any(vector not in dims for dims in maps[:-1])
    block = op.regions[0].blocks[0]
    reads_out = any(True for _ in block.arguments[len(block.arguments) - 1].uses)
    return vector, scalar, reads_out, kernel_dtype(operands[:-1], operands[-1], reads_out)


def _stride(value: ir.Value, dims: list[int | None], vector: int) -> int:
    """Elements between successive vector elements of a row-major buffer."""
    shape = ir.ShapedType(value.type).shape
    return math.prod(shape[dims.index(vector) + 1:])


def _row_residues(value: ir.Value, dims: list[int | None], vector: int, offsets: dict) -> np.ndarray:
    """Where the rows of `value` each instruction reads start, mod 8 (`row_residues`)."""
    shaped = ir.ShapedType(value.type)
    return row_residues(shaped.shape, dims.index(vector), element_bytes(shaped.element_type), offsets.get(value, 0))
