"""wafer-pack-matmul's ragged edges: a contraction whose M or N is not a whole
number of register blocks is split into the whole blocks and the remainder."""

from __future__ import annotations

import math
from collections.abc import Callable

from torch_mlir import ir
from torch_mlir.dialects import arith
from torch_mlir.dialects.transform import structured

from .constant_pack import ConstantReader
from .kernel_defaults import K_UNROLL
from .linalg_builders import is_constant
from .matmul_contraction import Contraction
from .matmul_plan import Kernel
from .pass_base import find_ops
from .split_inits import give_parts_their_own_fills
from .transform_script import match_tagged, tag, transform_script


# Cache tiles of whole register blocks a split must gain, at least: the remainder is a
# kernel of its own. MobileNet's and EfficientNet's 28x28 and 14x14 images (2-7 tiles)
# ran 2-3% slower split; SqueezeNet's 55x55 ones (24 tiles) ran 16-50% faster.
MIN_TILES = 8
# A K with no divisor up to the k unroll but itself (attention's 197 tokens) is
# unrolled whole, a step of that many FMAs per register block: ViT's 12x197x197x64
# product ran 3.6x slower than a 192-deep one. Past this step K splits too; up to it
# (a 17-token attention's K) the whole step costs less than a second pass over C.
MAX_K_STEP = 4 * K_UNROLL


def ragged_split(contraction: Contraction, kernel: Kernel) -> tuple[int, int] | None:
    """The loop and the extent at which `contraction` splits into whole cache
    tiles and a remainder, if its N is ragged, else into whole register
    blocks and a remainder, if its M is, or into whole k-unroll steps and a
    remainder, if its K has no step up to `MAX_K_STEP` (the remainder
    accumulates into the first part's sums); None otherwise.

    Padded whole, a ragged contraction pays far more than its padding: C is
    copied into a padded packed buffer and back, and each cache tile gets
    dynamic sizes, whose zero fills and copies of B's columns run as scalar
    loops (a 55x55 image's 1x1 conv ran 2.2x slower than a 56x56 one's).
    Split, the whole blocks keep static tiles and C and A in place; the
    remainder is a small contraction of its own, whose register block fits
    it (see `choose_kernel`). N splits at whole cache tiles, so that the
    first part's last tile is not ragged either: wafer-fuse-epilogues fuses
    a consumer (a convolution's ReLU, see wafer-split-epilogues) only into
    static tiles. M splits at whole blocks: its remainder (up to a cache
    tile of rows otherwise) runs the slower short-M kernel. N goes first;
    the whole-tile part's M is split next, when it is matched again.

    A dim of fewer than `MIN_TILES` cache tiles stays whole: a remainder would
    read the other operand once more (all of B, for a few rows of M) and run
    as one more kernel, which only many static tiles pay back.
    """
    for role in "nm":
        whole = _whole_part(contraction, kernel, role)
        if whole is not None:
            return contraction.primary[role], whole
    dim = contraction.primary["k"]
    if kernel.kc > MAX_K_STEP:
        return dim, contraction.extents[dim] - contraction.extents[dim] % K_UNROLL
    return None


def rows_in_whole_blocks(contraction: Contraction, kernel: Kernel) -> bool:
    """Whether the packed kernel runs `contraction`'s M in whole register blocks
    of `kernel`: M is a whole number of them, or its whole blocks split from
    the remainder (see `ragged_split`). Else A is padded into panels."""
    return contraction.mnk[0] % kernel.mr == 0 or _whole_part(contraction, kernel, "m") is not None


def _whole_part(contraction: Contraction, kernel: Kernel, role: str) -> int | None:
    """The extent of the first part where `role`'s ragged dim (n or m) splits:
    whole cache tiles of N, whole register blocks of M; None where it stays whole."""
    block, tile = (kernel.nr, kernel.tn) if role == "n" else (kernel.mr, kernel.tm)
    extent = contraction.extents[contraction.primary[role]]
    if extent % block and math.ceil(extent / block) > MIN_TILES * tile:
        return extent - extent % (block * tile if role == "n" else block)
    return None


def split_ragged(module: ir.Operation, match: Callable[[], list[Contraction]],
                 plan: Callable[[Contraction], Kernel]) -> None:
    """Split each contraction `match` finds where `ragged_split` says, until none is ragged.

    `transform.structured.split` makes the two parts, each on its slices of
    the operands, the remainder accumulating into the first part's result.
    A slice of a weight becomes a constant of its own, so each part's weight
    pack is still folded at compile time.
    """
    for _ in range(3):  # N, then the parts' M, then their K
        splits = [(c, s) for c in match() if (s := ragged_split(c, plan(c))) is not None]
        if not splits:
            return
        with transform_script(module) as root:
            for i, (contraction, (dim, extent)) in enumerate(splits):
                tag(contraction.op.operation, f"ragged{i}")
                structured.SplitOp(match_tagged(root, f"ragged{i}"), dim, extent)
        give_parts_their_own_fills(module)
        _fold_constant_slices(module)


def _fold_constant_slices(module: ir.Operation) -> None:
    """Replace each static `tensor.extract_slice` of a constant by the sliced constant."""
    reader = ConstantReader(module)
    dynamic = ir.ShapedType.get_dynamic_size()
    for op in find_ops(module, lambda op: op.name == "tensor.extract_slice" and is_constant(op.operands[0])):
        op = op.opview
        bounds = [list(op.static_offsets), list(op.static_sizes), list(op.static_strides)]
        source = reader.array(op.source)
        if source is None or len(op.operands) != 1 or dynamic in sum(bounds, []):
            continue
        window = tuple(slice(o, o + n * s, s) for o, n, s in zip(*bounds))
        result_type = op.result.type
        with ir.InsertionPoint(op), op.location:
            attr = ir.DenseElementsAttr.get(source[window].reshape(result_type.shape).copy(),
                                            type=result_type.element_type)
            constant = arith.ConstantOp(result_type, attr).result
        op.result.replace_all_uses_with(constant)
        op.operation.erase()
