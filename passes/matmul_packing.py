"""wafer-pack-matmul's data layout: operands packed into register-block panels
(`linalg.pack`), read or accumulated in place where a reshape holds the same
blocks, and the packs left lowered to vector copies."""

from __future__ import annotations

import math

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor, transform
from torch_mlir.dialects.transform import structured

from .linalg_builders import is_constant, largest_divisor, pad_high, reassociation
from .matmul_contraction import Contraction, in_parallel_loop
from .matmul_gathers import gathered_by
from .matmul_plan import Kernel
from .pass_base import find_ops
from .transform_script import annotate_tag, match_tagged, shuffle_transposes, tag, transform_script

PACKED = "wafer.packed"  # a packed contraction's name, from packing to tiling


def pack_operands(root: ir.Value, name: str, contraction: Contraction, kernel: Kernel) -> None:
    """Pack one contraction into register-block panels and mark the packed op `PACKED` = name."""
    any_op = transform.AnyOpType.get()
    pm, pn, pk = (contraction.primary[r] for r in "mnk")
    loops = range(len(contraction.roles))
    inner = {pm: kernel.mr, pn: kernel.nr}
    packed = structured.PackOp(any_op, match_tagged(root, name), [],
                               static_packed_sizes=[inner.get(d, 0) for d in loops]).packed_op
    # Outer dims of the A and B panels end in (m|n, k): each panel's K is contiguous.
    for operand, major in ((0, pm), (1, pn)):
        dims = contraction.operand_loops[operand]
        want = [d for d in dims if d not in (major, pk)] + [major, pk]
        perm = [dims.index(d) for d in want]
        if perm != sorted(perm):
            pack = transform.GetProducerOfOperand(any_op, packed, operand).result
            packed = structured.PackTransposeOp(any_op, any_op, any_op, pack, packed,
                                                outer_perm=perm).packed_op
    annotate_tag(packed, name, PACKED)


def unpack_accumulators(module: ir.Operation) -> None:
    """Let each packed contraction accumulate into C's own layout, reshaped.

    C[.., M, N] expanded to [.., M/mr, mr, N/nr, nr] (a reshape, no copy)
    holds the same blocks as the packed [.., M/mr, N/nr, mr, nr], and the
    kernel loads and stores each block once per K loop, so its rows of nr
    lanes may as well be strided. That leaves no unpack: a transpose plus a
    copy of all of C (a third of the non-kernel time of a ResNet block). A
    ragged M or N (a 7x7 image's 49 pixels, attention's 197 tokens) is padded
    to whole blocks in C's own layout the same way, and C is the slice of it
    without the padding: the unpack's transpose is gone, its copy of C is not.
    """
    for op in find_ops(module, lambda op: PACKED in op.attributes):
        pack, result = op.operands[2].owner, op.results[0]
        users = [use.owner for use in result.uses]
        if not _reshapes_in_place(pack, padded=True) or len(users) != 1 or users[0].name != "linalg.unpack":
            continue
        groups, expanded_type = _read_in_place(op.opview, 2)
        result.set_type(expanded_type)
        unpack = users[0]
        unpacked = unpack.results[0].type
        with ir.InsertionPoint(unpack), unpack.location:
            padded = ir.RankedTensorType.get([math.prod(expanded_type.shape[g] for g in group) for group in groups],
                                             unpacked.element_type)
            collapsed = tensor.CollapseShapeOp(padded, result, reassociation(*groups)).result
            if padded != unpacked:
                collapsed = tensor.extract_slice(unpacked, collapsed, [], [], [],
                                                 [0] * unpacked.rank, list(unpacked.shape), [1] * unpacked.rank)
        unpack.results[0].replace_all_uses_with(collapsed)
        unpack.erase()
        pack.operation.erase()


def read_rows_in_place(module: ir.Operation, names: set[str]) -> None:
    """Let the kernels of the contractions `names` read A's rows where they are.

    A packed into [M/mr][K][mr] panels makes each broadcast of the kernel
    read the next word, but costs a pass over A (FFN2 of a transformer layer
    at batch 32: its 32 MB input, 3% of the call). Expanded to [M/mr, mr, K]
    instead, each k step broadcasts mr words from mr rows, which LLVM loads
    straight from them as before. An A stored K-major (an oriented 1x1
    convolution's image, [K][pixels]) expands to [K, M/mr, mr]: each k step
    broadcasts mr neighbouring words of one row, where its pack copied them
    a few words at a time. Weights stay packed: that pack is free.
    """
    for op in find_ops(module, lambda op: PACKED in op.attributes
                       and ir.StringAttr(op.attributes[PACKED]).value in names):
        pack = op.operands[0].owner
        if not _reshapes_in_place(pack, permuted=True) or is_constant(pack.operands[0]):
            continue
        if pack.outer_dims_perm and gathered_by(pack.operands[0]) is not None:
            continue  # im2col columns: gather_into_panels copies them straight into the panels
        _read_in_place(op.opview, 0)
        pack.operation.erase()  # each contraction has packs of its own


def _reshapes_in_place(pack: ir.OpView, padded: bool = False, permuted: bool = False) -> bool:
    """A `linalg.pack` without padding unless `padded`, and without outer
    permutation unless `permuted`: a reshape of its source (padded to whole
    tiles) holds the same tiles, split the other way round (and, permuted,
    its outer dims in the source's order). The source must be static: the
    reshape's sizes are its dims over the tiles."""
    return (isinstance(pack, ir.OpView) and pack.name == "linalg.pack" and (padded or len(pack.operands) == 2)
            and (permuted or not pack.outer_dims_perm) and pack.operands[0].type.has_static_shape)


def _read_in_place(op: ir.OpView, index: int) -> tuple[list[list[int]], ir.Type]:
    """Make operand `index` of a packed op the reshaped source of its pack (a
    fill of it, for a zero C), padded to whole tiles as the pack pads it,
    reindexed to match; returns the reshape's groups and type."""
    pack = op.operands[index].owner
    positions, tiles = list(pack.inner_dims_pos), list(pack.static_inner_tiles)
    source = pack.operands[0]
    shape, groups, padding = [], [], []
    for dim, size in enumerate(source.type.shape):
        tile = tiles[positions.index(dim)] if dim in positions else 0
        split = [-(-size // tile), tile] if tile else [size]
        padding.append(math.prod(split) - size)
        groups.append(list(range(len(shape), len(shape) + len(split))))
        shape += split
    maps = list(op.attributes["indexing_maps"])
    packed_map = ir.AffineMapAttr(maps[index]).value
    packed_outer, inner = list(packed_map.results)[:len(groups)], list(packed_map.results)[len(groups):]
    # Packed outer dim i is source dim order[i].
    order = list(pack.outer_dims_perm) if pack.outer_dims_perm else list(range(len(groups)))
    outer = [packed_outer[order.index(dim)] for dim in range(len(groups))]
    exprs = [e for dim, o in enumerate(outer) for e in ([o, inner[positions.index(dim)]] if dim in positions else [o])]
    maps[index] = ir.AffineMapAttr.get(ir.AffineMap.get(packed_map.n_dims, 0, exprs))
    expanded_type = ir.RankedTensorType.get(shape, source.type.element_type)
    with ir.InsertionPoint(op), op.location:
        fill = source.owner
        if isinstance(fill, ir.OpView) and fill.name == "linalg.fill":  # a fresh zero C, in the new shape
            operand = linalg.fill(fill.operands[0], outs=[tensor.EmptyOp(shape, expanded_type.element_type).result])
        else:
            if any(padding):
                source = pad_high(source, padding, pack.operands[2])
            operand = tensor.ExpandShapeOp(expanded_type, source, reassociation(*groups), [],
                                           static_output_shape=shape).result
    op.operation.operands[index] = operand
    op.attributes["indexing_maps"] = ir.ArrayAttr.get(maps)
    return groups, expanded_type


def fuse_accumulator_fills(module: ir.Operation) -> None:
    """Zero each parallel cache tile's accumulator inside the tile.

    A fill of the whole packed C before the kernel is one more pass over
    memory (1 MB for a 128x2048 result); inside the tile it writes what
    the kernel reads next, in cache. What `transform.structured.fuse_into_containing_op`
    does for a producer of a shared output, rewritten here directly: that
    transform took 0.1 s per fill on ViT-B/16's 77k-op module.
    """
    fills = find_ops(module, lambda op: op.name == "linalg.fill" and len(list(op.results[0].uses)) == 1
                     and next(iter(op.results[0].uses)).owner.name == "scf.forall")
    for fill in fills:
        use = next(iter(fill.results[0].uses))
        loop = use.owner
        outputs = len(loop.results)
        shared = use.operand_number - (len(loop.operands) - outputs)
        tile_arg = loop.regions[0].blocks[0].arguments[len(loop.regions[0].blocks[0].arguments) - outputs + shared]
        slices = [u.owner for u in tile_arg.uses if u.owner.name == "tensor.extract_slice"]
        if len(slices) != 1:
            continue
        tile = slices[0].results[0]
        with ir.InsertionPoint.after(slices[0]), fill.location:
            zeroed = linalg.fill(fill.operands[0], outs=[tile])
        tile.replace_all_uses_except(zeroed, zeroed.owner.operation)
        loop.operands[use.operand_number] = fill.operands[1]
        fill.erase()


def fold_reshaping_packs(module: ir.Operation) -> None:
    """Replace each pack that moves no data by a `tensor.expand_shape`.

    An operand already laid out in panels (wafer-winograd writes its
    transformed input so) is packed into the same order of values, plus a
    unit dim; lowered, that is still a copy of the whole operand.
    """
    for pack in find_ops(module, lambda op: op.name == "linalg.pack" and len(op.operands) == 2):
        pack = pack.opview
        groups = _reshape_groups(pack)
        if groups is None:
            continue
        with ir.InsertionPoint(pack), pack.location:
            expanded = tensor.ExpandShapeOp(pack.result.type, pack.source, reassociation(*groups), [],
                                            static_output_shape=pack.result.type.shape).result
        pack.result.replace_all_uses_with(expanded)
        pack.operation.erase()


def _reshape_groups(pack: ir.OpView) -> list[list[int]] | None:
    """The packed dims of each source dim if the pack only splits dims and inserts
    unit dims, keeping every value where it was; None if it moves any."""
    if not pack.source.type.has_static_shape:  # a partial cache tile's slice: its size is not known here
        return None
    shape = pack.source.type.shape
    tiles = dict(zip(pack.inner_dims_pos, pack.static_inner_tiles))
    if any(shape[dim] % tile for dim, tile in tiles.items()):
        return None
    outer = list(pack.outer_dims_perm) if pack.outer_dims_perm else list(range(len(shape)))
    # Each packed dim as (source dim, 0 for its outer part or 1 for its tile, extent).
    parts = [(d, 0, shape[d] // tiles.get(d, 1)) for d in outer] + [(d, 1, t) for d, t in tiles.items()]
    groups, current, last = [[] for _ in shape], 0, (-1, -1)
    for position, (dim, part, extent) in enumerate(parts):
        if extent > 1:
            if (dim, part) < last:
                return None
            current, last = dim, (dim, part)
        groups[current].append(position)
    return groups if all(groups) else None


def _op_types(*names: str) -> list[ir.Type]:
    return [transform.OperationType.get(name) for name in names]


# Packs and unpacks of at least this many elements (256 KB) run as parallel loops.
_PARALLEL_RELAYOUT = 1 << 16


def lower_relayouts(module: ir.Operation, lanes: int) -> None:
    """Lower each pack and unpack left to a transpose, copied in vector tiles.

    A transpose lowered to scalar loops costs as much as a third of a
    64x3136x576 matmul; tiles of up to 8 rows of one vector move as vector
    loads, one shuffle and stores instead, and big ones are split over the threads.
    Only a padded C is left to unpack (see `unpack_accumulators`).
    """
    relayouts = [op.opview for op in find_ops(module, lambda op: op.name in ("linalg.pack", "linalg.unpack"))]
    if not relayouts:
        return
    with transform_script(module) as root:
        for i, op in enumerate(relayouts):
            tag(op.operation, f"relayout{i}")
            if op.name == "linalg.pack":
                packed_type = op.results[0].type
                transpose = structured.LowerPackOp(
                    *_op_types("tensor.pad", "tensor.expand_shape", "linalg.transpose"),
                    match_tagged(root, f"relayout{i}")).transpose_op
            else:
                packed_type = op.operands[0].type
                transpose = structured.LowerUnPackOp(
                    *_op_types("tensor.empty", "linalg.transpose", "tensor.collapse_shape",
                               "tensor.extract_slice", "linalg.copy"),
                    match_tagged(root, f"relayout{i}")).transpose_op
            *outer, rows, cols = _transpose_shape(op, packed_type)
            sizes = [1] * len(outer) + [largest_divisor(rows, 8), largest_divisor(cols, lanes)]
            if math.prod(packed_type.shape) >= _PARALLEL_RELAYOUT and not in_parallel_loop(op):
                # spread big copies over the threads
                tiled = structured.TileUsingForallOp(transform.AnyOpType.get(), transform.AnyOpType.get(),
                                                     transpose, tile_sizes=sizes).tiled_op
            else:
                tiled = structured.TileUsingForOp(transpose, sizes=sizes).tiled_linalg_op
            structured.VectorizeOp(tiled)
        shuffle_transposes(root)  # A's 8x8 blocks
    _forward_copies_into_empty(module)


def _forward_copies_into_empty(module: ir.Operation) -> None:
    """An unpack ends by copying into its destination; on tensors that copy is
    the identity on values, whatever the destination held (a bias broadcast
    the packed C was initialized from), so its source is used instead and
    bufferization makes no extra pass over the result."""
    copies = find_ops(module, lambda op: (
        op.name == "linalg.copy" and len(op.operands) == 2 and op.operands[0].type == op.results[0].type))
    for copy in copies:
        copy.results[0].replace_all_uses_with(copy.operands[0])
        copy.erase()


def _transpose_shape(op: ir.OpView, packed_type: ir.Type) -> list[int]:
    """The output shape of the transpose a pack or unpack lowers to.

    A pack writes the packed tensor; an unpack's transpose writes it with
    each inner tile moved next to its outer dim.
    """
    shape = list(packed_type.shape)
    if op.name == "linalg.pack":
        return shape
    rank = len(shape) - len(op.inner_dims_pos)
    outer, inner = shape[:rank], shape[rank:]
    perm = list(op.outer_dims_perm) if op.outer_dims_perm else list(range(rank))
    source_outer = [0] * rank
    for position, dim in enumerate(perm):
        source_outer[dim] = outer[position]
    result = []
    for dim in range(rank):
        result.append(source_outer[dim])
        if dim in op.inner_dims_pos:
            result.append(inner[list(op.inner_dims_pos).index(dim)])
    return result
