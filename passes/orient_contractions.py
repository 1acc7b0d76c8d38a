"""wafer-orient-contractions: swap a contraction's A and B where the packed kernel pads or copies less.

The packed kernel (wafer-pack-matmul) vectorizes N in nr-wide register blocks
(two or more vectors) and steps M in mr rows, mr a few times smaller than nr.
An im2col convolution is C[F, OH*OW] = W[F, K] x columns[K, OH*OW]: its spatial
extent is N, and late in a CNN that is 7x7 or 14x14, which nr pads by up to a
third (49 to 64), while F, a multiple of the vector width, would pad by
nothing. C^T = columns^T x W^T computes the same sums with the roles swapped:
the weights become B (packed at compile time) and the image rows A. C is
transposed in (its initial value, the bias) and out, because the kernel's
accumulator tiles are mr x nr only for C in (m, n) order.

The choice compares what each orientation costs besides the transposes: the
padded work (M and N rounded up to the register block each orientation
would get, weighed by how fast that block issues its multiply-adds) and the
copies into panels on every call: of B where it is a runtime value (a 1x1
convolution's image), and of A where it is one whose rows do not fill whole
register blocks (weights are packed at compile time, im2col columns are
gathered straight into panels either way, whole rows of A are read in place).
It swaps only when that saves more than transposing C in and out costs,
`transpose-cost` multiply-adds per element of C, and only to an N of whole
vectors: a ragged one is transposed back in narrow blocks, past its fused
epilogue, which the padded work undercounts (EfficientNet's 24-filter 1x1
convolutions at 56x56 ran slower swapped). A SqueezeNet squeeze (16 filters
over a 128-channel 55x55 image) swaps: its 16 x 3025 result is transposed
where 128 x 3025 pixels were copied. bench/orientation.py measures both
orientations of the zoo's layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .cpu_target import CpuTarget, TargetedPass
from .im2col import SWAP
from .kernel_defaults import CACHE_TILE, K_UNROLL
from .linalg_builders import is_constant, multiply_accumulate
from .matmul_contraction import Contraction, match_contraction
from .matmul_gathers import gathered_by
from .matmul_plan import choose_kernel, issue_overhead
from .matmul_split import rows_in_whole_blocks
from .pack_matmul import record_strategy
from .pass_base import find_ops

_ROLE_SWAP = {"m": "n", "n": "m", "k": "k", "b": "b"}


def swapped(contraction: Contraction) -> Contraction:
    """The same sums with A and B exchanged: C's m loops become n loops and back."""
    a, b, c = contraction.operand_loops
    roles = [_ROLE_SWAP[r] for r in contraction.roles]
    primary = {_ROLE_SWAP[r]: d for r, d in contraction.primary.items()}
    return Contraction(contraction.op, roles, contraction.extents, [b, a, c], primary, contraction.constant[::-1])


def _kernel(contraction: Contraction, cpu: CpuTarget):
    return choose_kernel(contraction, cpu.register_tile, cpu, K_UNROLL, CACHE_TILE, math.inf)


def padded_work(contraction: Contraction, cpu: CpuTarget) -> float:
    """Multiply-adds of the packed kernel, M and N rounded up to its register
    block, weighed by how fast that block issues them (see `issue_overhead`)."""
    kernel = _kernel(contraction, cpu)
    m, n, k = contraction.mnk
    others = math.prod(contraction.extents) // (m * n * k)
    padded = others * math.ceil(m / kernel.mr) * kernel.mr * math.ceil(n / kernel.nr) * kernel.nr * k
    return padded * issue_overhead(kernel.mr, kernel.nr, cpu)


def copied_into_panels(contraction: Contraction, a: ir.Value, b: ir.Value, cpu: CpuTarget) -> int:
    """Elements the packed kernel copies into panels on every call, with `a`
    and `b` as its A and B: none of a constant (packed at compile time) or of
    im2col columns (gathered straight into the panels); all of B otherwise,
    and all of A where its rows are not whole register blocks (see
    `rows_in_whole_blocks`): the pack pads them, where whole ones are read in
    place. A SqueezeNet squeeze at 13x13 (169 pixels as A, in padded blocks
    of 4 rows on AVX2) ran slower swapped at batch 8, where one at 27x27
    (729 pixels: 182 whole blocks and one row split off) ran faster."""
    def runtime_elements(value: ir.Value) -> int:
        if is_constant(value) or gathered_by(value) is not None:
            return 0
        return math.prod(ir.ShapedType(value.type).shape)

    padded_rows = not rows_in_whole_blocks(contraction, _kernel(contraction, cpu))
    return runtime_elements(b) + (runtime_elements(a) if padded_rows else 0)


def swap_saving(contraction: Contraction, cpu: CpuTarget, copy_cost: int) -> float:
    """Multiply-adds that swapping A and B saves, before the transposes of C:
    padded work, plus `copy_cost` per element copied into panels."""
    a, b = contraction.op.operands[:2]
    other = swapped(contraction)
    before = padded_work(contraction, cpu) + copy_cost * copied_into_panels(contraction, a, b, cpu)
    after = padded_work(other, cpu) + copy_cost * copied_into_panels(other, b, a, cpu)
    return before - after


@dataclass(frozen=True)
class OrientContractions(TargetedPass):
    """Exchange A and B of each static f32 contraction whose padded work and
    panel copies that cuts by more than the transposes cost.

    An im2col contraction whose convolution's algorithm was chosen by the
    `conv-algorithm` option or measured by `wafer tune` (im2col or
    im2col-swapped, carried as `wafer.swap`) is swapped as that says.

    Options:
      machine: the CPU whose register block pads M and N (see cpu_target).
      transpose-cost: what moving one element of C to the swapped layout and
        back costs, in multiply-adds; 40 puts the break-even between the
        layers bench/orientation.py measured faster and slower swapped (AVX-512,
        Zen 4: any value from 35 to 41 splits them; with half the FMA width
        it errs towards not swapping).
      copy-cost: what copying one element of B into its panel costs, in
        multiply-adds: one move where a transpose in and out is two, so half
        of transpose-cost.
    """

    name = "wafer-orient-contractions"
    summary = "Swap a contraction's operands where the packed kernel pads or copies less that way"

    transpose_cost: int = 40
    copy_cost: int = 20

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name in ("linalg.matmul", "linalg.batch_matmul", "linalg.generic")):
            contraction = match_contraction(op.opview)
            if contraction is None:
                continue
            other = swapped(contraction)
            if SWAP in op.attributes:  # a convolution's algorithm, chosen by option or measured
                swap = ir.BoolAttr(op.attributes[SWAP]).value
                del op.attributes[SWAP]
            else:
                swap = (swap_saving(contraction, self.cpu, self.copy_cost)
                        > self.transpose_cost * math.prod(op.operands[2].type.shape)
                        and other.mnk[1] % self.cpu.lanes == 0)
            if swap:
                _rebuild(other)


def _rebuild(contraction: Contraction) -> None:
    """Replace the contraction's op by a generic with operands and maps in
    `contraction`'s order. The packed kernel's accumulator tile is mr x nr only
    when C's loops come in b, m, n order and are numbered so: the loops are
    renumbered, and C transposed in and out when its dims were in another order."""
    op = contraction.op
    order = {"b": 0, "m": 1, "n": 2, "k": 3}
    c_loops = contraction.operand_loops[2]
    loops = sorted(range(len(contraction.roles)), key=lambda d: (order[contraction.roles[d]], d))
    number = {d: i for i, d in enumerate(loops)}
    canonical = sorted(c_loops, key=number.get)
    permutation = [c_loops.index(d) for d in canonical]
    maps = [ir.AffineMap.get(len(loops), 0, [ir.AffineDimExpr.get(number[d]) for d in dims])
            for dims in (*contraction.operand_loops[:2], canonical)]
    kinds = ["reduction" if contraction.roles[d] == "k" else "parallel" for d in loops]
    with ir.InsertionPoint(op), op.location:
        init = _permuted(op.operands[2], permutation)
        generic = multiply_accumulate([op.operands[1], op.operands[0]], init, maps, kinds)
        result = _permuted(generic.results[0], [permutation.index(i) for i in range(len(permutation))])
    m, n, k = contraction.mnk
    record_strategy(generic, f"oriented {m}x{n}x{k}: A and B swapped, {m} rows of {n} columns")
    op.results[0].replace_all_uses_with(result)
    op.erase()


def _permuted(value: ir.Value, permutation: list[int]) -> ir.Value:
    """`value` with its dims in `permutation`'s order (itself for the identity)."""
    if permutation == sorted(permutation):
        return value
    source = ir.RankedTensorType(value.type)
    empty = tensor.EmptyOp([source.shape[p] for p in permutation], source.element_type)
    return linalg.transpose(value, outs=[empty.result], permutation=permutation).results[0]
