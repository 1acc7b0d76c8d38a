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
from dataclasses import dataclass, field

import numpy as np
from torch_mlir import ir

from ..dialects.wse import element_bytes
from ..passes.linalg_queries import index_extent, indexing_maps, loop_ranges, map_dims, result_coefficients
from .cost import compute_cycles, conflict_fraction, simd_narrowing, start_residues, unavoidable_conflicts
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
    vector, scalar, reads_out, dtype = _instructions(op, len(ranges))
    length = max(ranges[vector], 1) if vector is not None else 1
    body = body_cost(op)
    elements = body.slots * math.prod(ranges)
    walks = [_Walk.of(affine_map, vector) for affine_map in indexing_maps(op)]
    shapes = [list(ir.ShapedType(value.type).shape) for value in op.operands]
    sources = _vector_sources(op, walks, reads_out)
    strides = [walks[i].stride(shapes[i]) for i in sources + [len(walks) - 1] if walks[i].walked]
    conflicts = 0.0
    if len(sources) >= 2:
        conflicts = conflict_fraction(*(walks[i].residues(shapes[i], ranges, _bytes(op.operands[i]),
                                                          offsets.get(op.operands[i], 0)) for i in sources[:2]))
    return Kernel(float(elements), length, dtype, scalar, datapath_cycles(body.kinds, dtype, machine, strides, conflicts))


def paired_operands(op: ir.Operation) -> list[ir.Value]:
    """The two operands each of `op`'s instructions reads as vectors, whose
    banks may collide (fewer than two: nothing can)."""
    maps = indexing_maps(op)
    vector, _, reads_out, _ = _instructions(op, maps[0].n_dims)
    walks = [_Walk.of(affine_map, vector) for affine_map in maps]
    return [op.operands[i] for i in _vector_sources(op, walks, reads_out)[:2]]


@dataclass(frozen=True)
class _Walk:
    """How an operand's index moves as an instruction walks its vector loop:
    per operand dim, each loop's factor in its index (`result_coefficients`;
    a window's oh * stride + kh), and the loop walked."""

    terms: tuple[tuple[tuple[int, int], ...], ...]
    vector: int | None

    @classmethod
    def of(cls, affine_map: ir.AffineMap, vector: int | None) -> _Walk:
        return cls(tuple(tuple(sorted(term.items())) for term in result_coefficients(affine_map)), vector)

    @property
    def walked(self) -> bool:
        """Whether the operand varies along the vector (else it is a scalar per instruction)."""
        return self.vector is not None and any(d == self.vector for term in self.terms for d, _ in term)

    def shape(self, ranges: list[int]) -> list[int]:
        """The extents the loop extents `ranges` read of each dim."""
        return [index_extent(term, ranges) for term in self.terms]

    def stride(self, shape: list[int]) -> int:
        """Elements between successive vector elements in a row-major buffer of `shape`."""
        axis, factor = next((axis, factor) for axis, term in enumerate(self.terms)
                            for d, factor in term if d == self.vector)
        return factor * math.prod(shape[axis + 1:])

    def residues(self, shape: list[int], ranges: list[int], element: int, offset: int) -> np.ndarray:
        """Where the rows each instruction reads of a buffer of `shape` at byte
        `offset` start, mod 8 (`start_residues`): one term per loop but the
        vector in each dim's index."""
        pitches = [element * math.prod(shape[axis + 1:]) for axis in range(len(shape))]
        return start_residues([(pitches[axis] * factor, ranges[d]) for axis, term in enumerate(self.terms)
                               for d, factor in term if d != self.vector], offset)


def _bytes(value: ir.Value) -> int:
    return element_bytes(ir.ShapedType(value.type).element_type)


def _vector_sources(op: ir.Operation, walks: list[_Walk], reads_out: bool) -> list[int]:
    """The operands each instruction of `op` reads as vectors (`_instructions`
    gives `reads_out`), by position, given each operand's `_Walk`: the
    accumulator (when the body reads it along the vector dim), then every
    input that varies along it."""
    sources = [i for i, walk in enumerate(walks[:-1]) if walk.walked]
    if reads_out and walks[-1].walked:
        sources.insert(0, len(walks) - 1)
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
    walked: tuple[_Walk, ...] = ()  # each operand read along `vector`
    paired: tuple[tuple[_Walk, int], ...] = ()  # `paired_operands`' walks and element bytes
    # local extents -> (strides, conflicts): placement costs each kernel on many shares, some many times
    _by_share: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, op: ir.Operation) -> LocalKernel:
        ranges = tuple(loop_ranges(op))
        vector, scalar, reads_out, dtype = _instructions(op, len(ranges))
        walks = [_Walk.of(affine_map, vector) for affine_map in indexing_maps(op)]
        walked = tuple(walk for walk in walks if walk.walked)
        paired = tuple((walks[i], _bytes(op.operands[i])) for i in _vector_sources(op, walks, reads_out)[:2])
        return cls(ranges, vector, scalar, dtype, body_cost(op).kinds, walked, paired)

    def cycles(self, local: list[int], machine: Machine, repeat: int = 1) -> float:
        """Cycles on one PE over local loop extents `local`, `repeat` times (once per SUMMA step)."""
        length = max(local[self.vector], 1) if self.vector is not None else 1
        elements = len(self.kinds) * math.prod(local)
        key = tuple(local)
        if key not in self._by_share:
            self._by_share[key] = [walk.stride(walk.shape(local)) for walk in self.walked], self._conflicts(local)
        datapath = datapath_cycles(self.kinds, self.dtype, machine, *self._by_share[key])
        return float(compute_cycles(machine, repeat * elements, length, self.dtype,
                                    scalar_operand=self.scalar_operand, datapath_cycles=datapath, kernels=repeat))

    def _conflicts(self, local: list[int]) -> float:
        """The fraction of instructions whose paired operands' rows collide in
        a bank pair however the later buffer is aligned, on the share `local`."""
        if len(self.paired) < 2:
            return 0.0
        return _unavoidable_conflicts(tuple(local), *self.paired)


@functools.cache
def _unavoidable_conflicts(local: tuple[int, ...], first: tuple[_Walk, int], second: tuple[_Walk, int]) -> float:
    """`cost.unavoidable_conflicts` of two operands, each (walk, element bytes), over loop extents `local`."""
    return unavoidable_conflicts(*(walk.residues(walk.shape(list(local)), list(local), size, 0)
                                   for walk, size in (first, second)))


def vector_loop(output_dims: list[int | None], loops: int) -> int | None:
    """The loop each instruction walks: the output's innermost dim, else the innermost loop."""
    if output_dims and output_dims[-1] is not None:
        return output_dims[-1]
    return loops - 1 if loops else None


def _instructions(op: ir.Operation, loops: int) -> tuple[int | None, bool, bool, Dtype]:
    """How `op` issues: the loop each instruction walks (the output's innermost
    dim), whether an input is a scalar per instruction (it does not vary along
    that loop), whether the body reads the accumulator, and the datapath."""
    maps = indexing_maps(op)
    operands = list(op.operands)
    vector = vector_loop(map_dims(maps[-1]), loops)
    scalar = vector is not None and not all(_Walk.of(affine_map, vector).walked for affine_map in maps[:-1])
    block = op.regions[0].blocks[0]
    reads_out = any(True for _ in block.arguments[len(block.arguments) - 1].uses)
    return vector, scalar, reads_out, kernel_dtype(operands[:-1], operands[-1], reads_out)
