"""wafer-zero-accumulators: register blocks start from zero vectors, not from the tile."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith

from .linalg_builders import is_named, is_zero_fill, splat
from .linalg_queries import constant_int
from .pass_base import WaferPass, find_ops


@dataclass(frozen=True)
class ZeroAccumulators(WaferPass):
    """Start each register block's accumulators from a zero vector.

    wafer-pack-matmul's kernel zeroes each cache tile of C, then each register
    block reads its accumulators from the tile, runs its K loop and writes
    them back. Where the blocks cover the tile once each (one block per trip
    of the loops around it, every loop index choosing its own dim) and each
    runs all of K, the values read are the fill's zeros: the read becomes a
    zero vector and the tile is not filled. A tile in the result itself (a
    convolution's NCHW output) was written twice and read once more: 1x1
    convolutions with a K of 16 or 32 on 112x112 images ran 0.85x as long
    without it.

    A K loop that starts from the values of another tile (a residual that
    wafer-pack-matmul accumulates onto, see `accumulate_onto_residual`, or
    the sums of the K blocks before) starts from zeros too, and the tile's
    values are read and added after it: the products are summed on their
    own, as torch's kernels sum them, not rounded one by one against the
    larger values of a residual stream.
    """

    name = "wafer-zero-accumulators"
    summary = "Start register blocks of a zero-filled tile from zero vectors instead of reading the tile"

    def apply(self, module: ir.Operation) -> None:
        for fill in find_ops(module, lambda op: op.name == "linalg.fill" and is_zero_fill(op.results[0])):
            read = _block_read(fill.results[0])
            if read is None:
                continue
            with ir.InsertionPoint(read), read.location:
                zero = splat(0.0, read.results[0].type)
            read.results[0].replace_all_uses_with(zero)
            read.erase()
            fill.results[0].replace_all_uses_with(fill.operands[1])
            fill.erase()
        for loop in find_ops(module, _accumulates_onto_read):
            _add_read_after(loop)


def _accumulates_onto_read(loop: ir.Operation) -> bool:
    """Whether `loop` is an scf.for whose one iter_arg, a vector read from a
    tile before it and read by nothing else, only accumulates the products
    of vector.contracts (their acc, or the yield of the last one)."""
    if (loop.name != "scf.for" or len(loop.results) != 1 or not isinstance(loop.results[0].type, ir.VectorType)
            or not isinstance(ir.VectorType(loop.results[0].type).element_type, ir.FloatType)):
        return False
    init = loop.operands[3]
    if not (is_named(init.owner, "vector.transfer_read") and len(list(init.uses)) == 1):
        return False
    value = loop.regions[0].blocks[0].arguments[1]
    while True:
        uses = list(value.uses)
        if len(uses) != 1:
            return False
        use = uses[0]
        if use.owner.name == "scf.yield":
            return True
        if not (use.owner.name == "vector.contract" and use.operand_number == 2
                and use.owner.attributes["kind"] == ir.Attribute.parse("#vector.kind<add>")):
            return False
        value = use.owner.results[0]


def _add_read_after(loop: ir.Operation) -> None:
    """Start `loop` from zeros and add its init's read to its result after it."""
    read = loop.operands[3].owner
    with ir.InsertionPoint(loop), loop.location:
        loop.operands[3] = splat(0.0, read.results[0].type)
    moved = read.clone(ir.InsertionPoint.after(loop))
    with ir.InsertionPoint.after(moved), loop.location:
        total = arith.addf(moved.results[0], loop.results[0])
    loop.results[0].replace_all_uses_except(total, total.owner.operation)
    read.erase()


def _loop_nest(tile: ir.Value) -> list[ir.Operation] | None:
    """The scf.for nest that carries `tile` as its one iter_arg, each loop's
    iter_arg only the init of the next one in, outermost first; None for none."""
    loops, value = [], tile
    while len(uses := list(value.uses)) == 1 and uses[0].owner.name == "scf.for" and uses[0].operand_number == 3 \
            and len(uses[0].owner.results) == 1:
        loops.append(uses[0].owner)
        value = loops[-1].regions[0].blocks[0].arguments[1]
    return loops or None


def _block_read(tile: ir.Value) -> ir.Operation | None:
    """The register block read of the loop nest over `tile`, if the nest visits each
    block of it once: in the innermost loop, one slice of the carried tile at
    offsets that are the loop indices (see `_covers_once`), written back to the
    same slice; it is either the tile of a nest of its own (a serial kernel's
    cache tile, whose loops go over register blocks), or read whole into the
    accumulators of a K loop."""
    loops = _loop_nest(tile)
    if loops is None:
        return None
    carried = loops[-1].regions[0].blocks[0].arguments[1]
    slices = [use.owner for use in carried.uses]
    if len(slices) != 2 or {s.name for s in slices} != {"tensor.extract_slice", "tensor.insert_slice"}:
        return None
    extract = next(s for s in slices if s.name == "tensor.extract_slice")
    if not _covers_once(extract.opview, loops, ir.RankedTensorType(tile.type).shape):
        return None
    block = extract.results[0]
    users = [use.owner for use in block.uses]
    if len(users) == 1 and users[0].name == "scf.for":
        return _block_read(block)
    reads = _reads_of(block)
    if len(reads) != 1:
        return None
    users = [use.owner for use in reads[0].results[0].uses]
    return reads[0] if len(users) == 1 and users[0].name == "scf.for" else None


def _reads_of(value: ir.Value) -> list[ir.Operation]:
    """The vector.transfer_read ops of `value`, through chains of unit-stride slices;
    [] if anything else reads it than those and one write back."""
    reads = []
    for use in value.uses:
        op = use.owner
        if op.name == "tensor.extract_slice":
            reads += _reads_of(op.results[0])
        elif op.name == "vector.transfer_read" and _whole(op):
            reads.append(op)
        elif op.name not in ("vector.transfer_write", "tensor.insert_slice"):
            return [op, op]  # read otherwise: not rewritten
    return reads


def _whole(read: ir.Operation) -> bool:
    """Whether a transfer_read reads its whole source from index 0."""
    source = ir.RankedTensorType(read.operands[0].type)
    indices = read.operands[1:1 + source.rank]
    zero_indices = all(constant_int(i) == 0 for i in indices)
    return zero_indices and ir.VectorType(read.results[0].type).shape == source.shape


def _covers_once(extract: ir.OpView, loops: list[ir.Operation], shape: list[int]) -> bool:
    """Whether the slice's dynamic offsets are the loops' indices, a dim each, each
    loop stepping by the slice's size from 0 to the tile's extent, and it takes
    the dims with a static offset whole."""
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    offsets = list(extract.attributes["static_offsets"])
    sizes = list(extract.attributes["static_sizes"])
    dynamic_offsets = iter(extract.operands[1:])
    indices = [loop.regions[0].blocks[0].arguments[0] for loop in loops]
    used = []
    for dim, offset in enumerate(offsets):
        if offset != dynamic:
            if offset != 0 or sizes[dim] != shape[dim]:
                return False
            continue
        value = next(dynamic_offsets)
        if value not in indices:
            return False
        loop = loops[indices.index(value)]
        if tuple(constant_int(v) for v in loop.operands[:3]) != (0, shape[dim], sizes[dim]):
            return False
        used.append(indices.index(value))
    return sorted(used) == list(range(len(loops)))
