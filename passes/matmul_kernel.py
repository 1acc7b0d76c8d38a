"""wafer-pack-matmul's micro-kernel: a packed contraction tiled into cache tiles
(threads), register blocks and K steps, each step a vector.contract (broadcast-FMA
outer products from wafer-lower-contractions on)."""

from __future__ import annotations

import math

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured, vector
from torch_mlir.dialects.transform import tensor as tensor_transform

from .matmul_contraction import Contraction
from .matmul_gathers import copy_windows, panel_chunk, window_tiles
from .matmul_packing import PACKED
from .matmul_plan import Kernel, packed_extents
from .transform_script import mark_for_hoisting, match_tagged


def emit_kernel(root: ir.Value, name: str, contraction: Contraction, kernel: Kernel, per_tile: bool,
                gather: ir.OpView | None, row: int) -> None:
    """Tile and vectorize one packed contraction; B is packed `per_tile` (see `packs_b_per_tile`)."""
    any_op = transform.AnyOpType.get()
    pm, pn, pk = (contraction.primary[r] for r in "mnk")
    loops = range(len(contraction.roles))
    packed = match_tagged(root, name, PACKED)
    # A B computed per call (im2col columns) is packed inside each parallel cache tile,
    # by that tile's thread and while its panel is in cache, when one column of tiles
    # covers M (else each M tile would pack it again). A constant B (weights) is
    # folded below instead; a serial kernel's B keeps its own parallel pack loop.
    # Else, with K in blocks, each cache tile packs its rows of A per block instead.
    per_tile_pack = transform.GetProducerOfOperand(any_op, packed, 1).result if per_tile else None
    if kernel.k_block:
        packed, per_tile_pack = _split_k(packed, contraction, kernel)
    # One cache tile per forall iteration (a serial loop when the matmul is too small
    # to pay for waking a thread); every other m, n or batch loop steps by one.
    cache = {pm: kernel.tm, pn: kernel.tn}
    cache_sizes = [cache.get(d, 0 if contraction.roles[d] == "k" else 1) for d in loops]
    if kernel.parallel:
        cache_tiles = structured.TileUsingForallOp(any_op, any_op, packed, tile_sizes=cache_sizes)
        cache_loop, tile = cache_tiles.forall_op, cache_tiles.tiled_op
    else:  # loops of one trip are not made (see below)
        trips = [math.ceil(e / t) if t else 1 for e, t in zip(packed_extents(contraction, kernel), cache_sizes)]
        cache_tiles = structured.TileUsingForOp(
            packed, sizes=[t if n > 1 else 0 for t, n in zip(cache_sizes, trips)])
        cache_loop, tile = (cache_tiles.loops[-1] if cache_tiles.loops else None), cache_tiles.tiled_linalg_op
    if per_tile_pack is not None and cache_loop is not None:
        cache_loop = structured.FuseIntoContainingOp(per_tile_pack, cache_loop).new_containing_op
        columns = kernel.tn * kernel.nr
        if gather is not None and per_tile and row and columns % row == 0 and contraction.extents[pn] % columns == 0:
            # Each tile's columns are whole image rows: the slice of the collapsed
            # columns becomes a slice of the gather, copied right there.
            bubble = transform.ApplyPatternsOp(cache_loop)
            with ir.InsertionPoint(bubble.patterns):
                tensor_transform.ApplyBubbleUpExtractSlicePatternsOp()
            fused = structured.FuseIntoContainingOp(match_tagged(root, f"{name}.gather"), cache_loop)
            cache_loop = fused.new_containing_op
            if panel_chunk(gather, kernel.nr) is None:  # else gather_into_panels copies it
                window = structured.TileUsingForOp(fused.fused_op, sizes=window_tiles(gather)).tiled_linalg_op
                copy_windows(window, gather)
    if kernel.k_tile:  # K in blocks inside the tile (see `k_tiled`)
        k_sizes = [kernel.k_tile if d == pk else 0 for d in loops]
        k_tiles = structured.TileUsingForOp(tile, sizes=k_sizes)
        mark_for_hoisting(k_tiles.loops[0])  # the cache tile's accumulator, out of the K blocks
        tile = k_tiles.tiled_linalg_op
    # Then one register block per step, K innermost. A loop of one trip is not made at
    # all, so the pattern rewrites below never fold away a loop whose handle is live.
    depth = kernel.k_tile or kernel.k_block or contraction.extents[pk]
    trips = {pm: kernel.tm, pn: kernel.tn, pk: depth // kernel.kc}
    step = {pm: 1, pn: 1, pk: kernel.kc}
    sizes = [0 if trips.get(d, contraction.extents[d] if contraction.roles[d] == "k" else 1) == 1
             else step.get(d, 1) for d in loops]
    # Rows of register blocks outer: the kernel walks C along its rows, which the
    # hardware prefetcher follows, and keeps a row's A panel in L1 (transformer
    # b32: 2-4% faster than columns outer; with K in blocks, which brings C back
    # once per block, 10%).
    rank = {pm: 1, pn: 2, pk: 4}
    order = sorted(loops, key=lambda d: rank.get(d, 3 if contraction.roles[d] == "k" else 0))
    tiled = structured.TileUsingForOp(tile, sizes=sizes, interchange=order)
    k_loop = tiled.loops[-1] if tiled.loops else cache_loop
    if k_loop is None:  # a single register block and K step: tiny, left to scalar loops
        return
    mark_for_hoisting(k_loop)
    fold = transform.ApplyPatternsOp(k_loop)
    with ir.InsertionPoint(fold.patterns):
        structured.ApplyFoldUnitExtentDimsViaSlicesPatternsOp()
    # The folded block keeps (k, mi, ni) minus unit dims; put k last for the outer-product lowering.
    kept = [d for d, size in (("k", kernel.kc), ("m", kernel.mr), ("n", kernel.nr)) if size > 1]
    block = structured.MatchOp.match_op_names(k_loop, ["linalg.generic"]).result
    if kept and kept[0] == "k" and len(kept) > 1:
        block = structured.InterchangeOp(block, iterator_interchange=list(range(1, len(kept))) + [0]).result
    structured.VectorizeOp(block)


def _split_k(packed: ir.Value, contraction: Contraction, kernel: Kernel) -> tuple[ir.Value, ir.Value | None]:
    """Loop over K blocks and pack B's block, and A's unless it is constant, in each.

    Returns the packed op of one block and A's pack in the loop (for the
    cache tiles to take their own rows of), if any.
    """
    any_op = transform.AnyOpType.get()
    pack_a, pack_b = (transform.GetProducerOfOperand(any_op, packed, operand).result for operand in (0, 1))
    sizes = [kernel.k_block if d == contraction.primary["k"] else 0 for d in range(len(contraction.roles))]
    blocks = structured.TileUsingForOp(packed, sizes=sizes)
    loop = structured.FuseIntoContainingOp(pack_b, blocks.loops[0]).new_containing_op
    if contraction.constant[0]:  # folded with the weights instead
        return blocks.tiled_linalg_op, None
    return blocks.tiled_linalg_op, structured.FuseIntoContainingOp(pack_a, loop).fused_op


def to_contractions(funcs: ir.Value) -> None:
    """Each vectorized K step's multiply-reduce -> one vector.contract."""
    for populate in (vector.ApplyTransferPermutationPatternsOp, vector.ApplyVectorReductionToContractPatternsOp):
        patterns = transform.ApplyPatternsOp(funcs)
        with ir.InsertionPoint(patterns.patterns):
            populate()
