"""wafer-fuse: fuse each contraction with its producers and consumers, tiled for the cache."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured

from .kernel_defaults import PARALLEL_ELEMENTS, VECTOR_TILE_ELEMENTS
from .linalg_builders import iterator_kinds, largest_divisor
from .linalg_queries import holds_assert, indexing_maps, loop_ranges, reduces_rows
from .pass_base import WaferPass, find_ops
from .serial_foralls import SERIAL
from .transform_script import rematch_tagged, tag, transform_script

# Marks an op of a loop body that wafer-vectorize takes whole, untiled.
WHOLE_TILE = "wafer.whole_tile"
# Named ops whose loops are the output dims in order, then the reduction dims.
_NAMED_ANCHOR_PREFIXES = ("linalg.matmul", "linalg.batch_matmul", "linalg.conv_",
                          "linalg.depthwise_conv_", "linalg.pooling_")
# Producers of an anchor's init that are cheap enough to recompute per tile.
_INIT_PRODUCERS = ("linalg.fill", "linalg.broadcast", "linalg.generic")


@dataclass(frozen=True)
class FusionGroup:
    """An anchor (a contraction), its init producer and its elementwise consumers.

    `root` is the last consumer: the op that is tiled. `producers` are fused
    into its loop nest in order, nearest first.
    """

    root: ir.OpView
    producers: list[ir.OpView] = field(default_factory=list)


def is_anchor(op: ir.OpView) -> bool:
    if op.name.startswith(_NAMED_ANCHOR_PREFIXES):
        return True
    return op.name == "linalg.generic" and "reduction" in iterator_kinds(op)


def _writes_by_loops(op: ir.OpView) -> bool:
    """Whether each result index is a loop (a projected permutation). A reduction
    that keeps unit dims as constant 0 indices (softmax's row sum, adaptive
    average pooling to 1x1) tiles, but cannot be fused into another op's loop nest."""
    if op.name != "linalg.generic":
        return True
    maps = op.attributes["indexing_maps"]
    return all(ir.AffineMapAttr(maps[len(maps) - 1 - i]).value.is_projected_permutation
               for i in range(len(op.results)))


def is_elementwise(op: ir.OpView) -> bool:
    return (
        op.name == "linalg.generic"
        and len(op.results) == 1
        and all(kind == "parallel" for kind in iterator_kinds(op))
    )


def _sole_user(value: ir.Value) -> ir.OpView | None:
    users = [use.owner for use in value.uses]
    return users[0] if len(users) == 1 and isinstance(users[0], ir.OpView) else None


def _producer(value: ir.Value) -> ir.OpView | None:
    return value.owner if isinstance(value.owner, ir.OpView) else None


def find_fusion_groups(block: ir.Block) -> list[FusionGroup]:
    """Walk a function body and grow one group per anchor.

    A consumer joins when it is the anchor's (or the previous consumer's) only
    user, is elementwise over the same shape and no earlier group took it (the
    difference of two reductions of one tensor reads both: it goes with the
    first); the anchor's init joins when the anchor is its only user.
    """
    groups, taken = [], []
    for op in block.operations:
        if not is_anchor(op) or len(op.results) != 1:
            continue
        chain = [op]
        user = _sole_user(chain[-1].results[0]) if _writes_by_loops(op) else None
        while (user is not None and is_elementwise(user) and user.results[0].type == op.results[0].type
               and not any(user.operation == t for t in taken)):
            chain.append(user)
            user = _sole_user(user.results[0])
        taken += [member.operation for member in chain[1:]]
        producers = list(reversed(chain[:-1]))
        init = _producer(op.operands[len(op.operands) - 1])
        if init is not None and init.name in _INIT_PRODUCERS and _sole_user(init.results[0]) is not None:
            producers.append(init)
        groups.append(FusionGroup(chain[-1], producers))
    return groups


def group_elements(group: FusionGroup) -> int:
    """Elements of the largest static operand of a group's ops: a proxy for its work."""
    largest = 0
    for op in [group.root, *group.producers]:
        for value in [*op.operands, *op.results]:
            shaped = value.type
            if isinstance(shaped, ir.RankedTensorType) and shaped.has_static_shape:
                largest = max(largest, math.prod(shaped.shape))
            elif isinstance(shaped, ir.RankedTensorType):
                return 1 << 62  # dynamic: assume it is big
    return largest


def find_loose_elementwise(block: ir.Block, groups: list[FusionGroup], min_elements: int) -> list[ir.OpView]:
    """Static elementwise ops and transposes of at least `min_elements` in `block` that belong to no group.

    Ops still holding a `cf.assert` (see wafer-split-asserts) stay whole: a
    check has no vector form, and a failed one must not return from a thread.
    """
    grouped = [g.root.operation for g in groups] + [p.operation for g in groups for p in g.producers]
    found = []
    for op in block.operations:
        if not (is_elementwise(op) or op.name == "linalg.transpose") or any(op.operation == g for g in grouped):
            continue
        shaped = ir.RankedTensorType(op.results[0].type)
        if not shaped.has_static_shape or math.prod(shaped.shape) < min_elements:
            continue
        if not holds_assert(op):
            found.append(op)
    return found


def _is_elementwise_in_forall(op: ir.Operation) -> bool:
    """A static elementwise op of a parallel loop's own body (wafer-fuse-inverted-residual's
    activations), which one thread applies to its whole tile: tiled here in a serial loop,
    so that wafer-vectorize turns each tile into vector code. Not one marked `WHOLE_TILE`
    (wafer-fuse-rows' tiles of rows): wafer-vectorize takes it whole, where tiles of
    ragged rows (197 keys) would be dynamic, scalar code."""
    return (is_elementwise(op.opview) and op.parent.name == "scf.forall" and WHOLE_TILE not in op.attributes
            and ir.RankedTensorType(op.results[0].type).has_static_shape
            and not holds_assert(op))


def output_tile_sizes(shape: list[int], inner: tuple[int, ...]) -> list[int]:
    """Tile the innermost output dims by `inner` (aligned right), the rest by 1."""
    sizes = [1] * len(shape)
    for offset, size in enumerate(reversed(inner)):
        dim = len(shape) - 1 - offset
        if dim < 0:
            break
        extent = shape[dim]
        sizes[dim] = size if extent == ir.ShapedType.get_dynamic_size() else min(size, extent)
    return sizes


def loop_tile_sizes(root: ir.OpView, inner: tuple[int, ...]) -> list[int]:
    """Tile sizes over the root's loops: output dims tiled, reductions left whole."""
    result_type = ir.RankedTensorType(root.results[0].type)
    out_sizes = output_tile_sizes(list(result_type.shape), inner)
    if root.name != "linalg.generic":
        return out_sizes  # named ops: output loops come first
    out_map = ir.AffineMapAttr(root.attributes["indexing_maps"][len(root.operands) - 1]).value
    position = {expr.position: i for i, expr in enumerate(out_map.results) if isinstance(expr, ir.AffineDimExpr)}
    return [
        out_sizes[position[d]] if kind == "parallel" and d in position else 0
        for d, kind in enumerate(iterator_kinds(root))
    ]


def _dividing(sizes: list[int], op: ir.OpView) -> list[int]:
    """`sizes` shrunk to divide the static loop extents of `op`. A ragged last
    tile (8 of attention's 197 rows, 8 of a 14x14 image's 14) has dynamic
    sizes, which wafer-vectorize leaves as scalar loops: an elementwise SiLU
    over 8x672x14x14 ran 10x slower so. A row reduction's tile is reduced a row
    at a time anyway, so fewer rows per tile cost nothing there."""
    if op.name == "linalg.generic":
        ranges = loop_ranges(op)
    else:  # a named op tiled here (a transpose) loops over its result's dims
        result = ir.RankedTensorType(op.results[0].type)
        ranges = list(result.shape) if result.has_static_shape else None
    if ranges is None:
        return sizes
    return [largest_divisor(extent, size) if size else 0 for size, extent in zip(sizes, ranges)]


def _dividing_rows(sizes: list[int], op: ir.OpView) -> list[int]:
    """`_dividing` but for the innermost loop, whose tile keeps its size: a lane
    tile shrunk to divide (96 channels as two 48s) has its per-row broadcast
    reads (a layer norm's mean) vectorized lane by lane, which ran ConvNeXt's
    layer norms 10x slower than LLVM's loop over the ragged tile."""
    return _dividing(sizes, op)[:-1] + sizes[-1:]


def _streaming_tile_sizes(op: ir.OpView, inner: tuple[int, ...]) -> list[int] | None:
    """Tiles of whole rows, one contiguous run of memory each, for an elementwise
    op that reads and writes every operand in the same order (identity maps)
    and whose rows are wider than `inner`'s: a tile of 8 rows x 64 walked
    eight streams at once through memory, which a 25 MB ReLU ran 1.4x behind
    ONNX Runtime's one stream (bench/activations.py). Rows of more than
    VECTOR_TILE_ELEMENTS are cut into runs dividing them, whole multiples of
    `inner`'s (wafer-vectorize cuts them in vectors); None for others."""
    maps = indexing_maps(op) if op.name == "linalg.generic" else []
    if not maps or any(m != ir.AffineMap.get_identity(m.n_dims) for m in maps):
        return None
    ranges, width = loop_ranges(op), inner[-1]
    if ranges is None or len(ranges) < 2 or ranges[-1] <= width or ranges[-1] % width:
        return None
    run = width * largest_divisor(ranges[-1] // width, VECTOR_TILE_ELEMENTS // width)
    rows = largest_divisor(ranges[-2], max(1, VECTOR_TILE_ELEMENTS // ranges[-1]))
    return [1] * (len(ranges) - 2) + [rows, run]


@dataclass(frozen=True)
class Fuse(WaferPass):
    """Fuse contractions with their init producers and elementwise consumers.

    For each anchor (matmul, conv, pooling, reduction) the group's last
    elementwise consumer is tiled with `scf.forall` and the anchor, its
    consumers and its init (fill, bias broadcast) are fused into that loop
    nest, so conv + bias + activation become one loop nest whose output tile
    stays in cache. Tiles are chosen over the output dims.

    Elementwise ops and transposes outside every group with at least
    `loose-elements` elements (batch norm after a packed conv at batch 32, a
    residual add, the transformer's head transposes) are tiled alone the same
    way, so their tiles spread over the threads and become vector code;
    smaller ones stay whole loops, which LLVM vectorizes as well and which
    take less time than a fork and join of the threads. (Transformer b32 at
    2 threads: its six 4 MB transposes ran serially, 5% of the call.) One
    that reads every operand as it writes (identity maps) with rows wider
    than the tile takes tiles of whole rows, each one run of memory.

    An elementwise op of a parallel loop's own body (a fused inverted residual
    block's activations, which one thread applies to its whole tile) is tiled
    the same way in a serial loop, so that wafer-vectorize turns it into
    vector code rather than leaving LLVM a loop over the whole tile.

    Options:
      tile-sizes: tile of the innermost output dims, aligned right (outer dims
        get 1). The default 8,64 keeps a tile's output (2 KB) and its row of
        inputs in L1/L2 while leaving 64 contiguous lanes to vectorize.
      parallel-elements: groups whose largest operand is smaller loop over
        their tiles serially: a fork and join of the threads costs more than
        such a group's whole work (see kernel_defaults.PARALLEL_ELEMENTS).
      loose-elements: elementwise ops outside groups are tiled from this
        many elements on.
    """

    name = "wafer-fuse"
    summary = "Tile contraction + elementwise groups with scf.forall and fuse them into one loop nest"

    tile_sizes: tuple[int, ...] = (8, 64)
    parallel_elements: int = PARALLEL_ELEMENTS
    loose_elements: int = PARALLEL_ELEMENTS

    def apply(self, module: ir.Operation) -> None:
        groups, loose, nested = [], [], []
        for func in module.regions[0].blocks[0].operations:
            if func.operation.name == "func.func" and func.regions[0].blocks:
                block = func.regions[0].blocks[0]
                found = find_fusion_groups(block)
                groups += found
                loose += find_loose_elementwise(block, found, self.loose_elements)
                nested += find_ops(func, _is_elementwise_in_forall)
        if not groups and not loose and not nested:
            return
        with transform_script(module, outline=[f"fuse{i}" for i in range(len(groups))]) as root_handle:
            for i, group in enumerate(groups):
                self._tile_and_fuse(root_handle, f"fuse{i}", group)
            for i, op in enumerate(loose):
                tag(op.operation, f"loose{i}")
                any_op = transform.AnyOpType.get()
                sizes = (_streaming_tile_sizes(op, self.tile_sizes)
                         or _dividing_rows(loop_tile_sizes(op, self.tile_sizes), op))
                structured.TileUsingForallOp(any_op, any_op, rematch_tagged(root_handle, f"loose{i}"),
                                             tile_sizes=sizes)
            for i, op in enumerate(nested):
                tag(op.operation, f"nested{i}")
                structured.TileUsingForOp(rematch_tagged(root_handle, f"nested{i}"),
                                          sizes=_dividing_rows(loop_tile_sizes(op, self.tile_sizes), op))

    def _tile_and_fuse(self, root_handle: ir.Value, name: str, group: FusionGroup) -> None:
        sizes = loop_tile_sizes(group.root, self.tile_sizes)
        if not any(sizes):  # nothing to tile: a full reduction to a scalar has no parallel loop
            return
        if reduces_rows(group.root):
            sizes = _dividing(sizes, group.root)
        tag(group.root.operation, f"{name}.root")
        for j, producer in enumerate(group.producers):
            tag(producer.operation, f"{name}.p{j}")
        tiled = structured.TileUsingForallOp(rematch_tagged(root_handle, f"{name}.root"), tile_sizes=sizes)
        loop = tiled.forall_op
        for j in range(len(group.producers)):
            loop = structured.FuseIntoContainingOp(
                rematch_tagged(root_handle, f"{name}.p{j}"), loop
            ).new_containing_op
        if group_elements(group) < self.parallel_elements:  # too little work for a fork and join
            transform.AnnotateOp(loop, SERIAL)
