"""wafer-pack-matmul: data-tile matmuls (the mmt4d layout) and lower them to a register-blocked FMA kernel."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from torch_mlir import ir
from torch_mlir.dialects import affine, arith, linalg, scf, tensor, transform
from torch_mlir.dialects import vector as vector_ops
from torch_mlir.dialects.transform import structured, vector
from torch_mlir.dialects.transform import tensor as tensor_transform

from ..diagnostics import WaferError
from ..tuning.database import KernelChoice, TuningDatabase, cpu_key
from ..tuning.signature import ContractionSignature
from .constant_pack import fold_constant_packs
from .cpu_target import TargetedPass, host_flags
from .kernel_defaults import CACHE_TILE, K_BLOCK, K_UNROLL
from .linalg_builders import index_constant, is_constant, largest_divisor, reassociation
from .linalg_queries import dim_coefficients, indexing_maps, is_projected_map, map_dims
from .pass_base import PassFailure, find_ops
from .transform_script import (
    hoist_loop_invariant_subsets,
    match_tagged,
    remove_tags,
    tag,
    transform_script,
)

STRATEGY = "wafer.strategy"
PACKED = "wafer.packed"  # a packed contraction's name, from packing to tiling
IM2COL_ROW = "wafer.im2col_row"  # on an im2col gather (wafer-im2col): its output row length OW
_CONTRACTIONS = ("linalg.matmul", "linalg.batch_matmul", "linalg.generic")
_MATMUL_BODY = ["arith.mulf", "arith.addf", "linalg.yield"]
# Loops of A, B and C for named ops that print no maps: (m, n, k) and (b, m, n, k).
_NAMED_LOOPS = {
    "linalg.matmul": [[0, 2], [2, 1], [0, 1]],
    "linalg.batch_matmul": [[0, 1, 3], [0, 3, 2], [0, 1, 2]],
}


@dataclass(frozen=True)
class Contraction:
    """A static f32 op C[b.., m.., n..] += A[b.., m.., k..] * B[b.., k.., n..].

    Each loop has a role: batch (in A, B and C), m (A and C), n (B and C) or
    k (A and B). Several loops may share a role (torch-mlir leaves unit dims
    and split heads around); the longest loop of each of m, n and k is the
    `primary` one that the kernel packs and vectorizes, the others are
    stepped one at a time. `operand_loops` lists the loops indexing A, B, C.
    """

    op: ir.OpView
    roles: list[str]
    extents: list[int]
    operand_loops: list[list[int]]
    primary: dict[str, int]
    constant: tuple[bool, bool]  # whether A and B are constants (weights); `op` is gone once packed

    def extent(self, role: str) -> int:
        return math.prod(e for r, e in zip(self.roles, self.extents) if r == role)

    @property
    def mnk(self) -> tuple[int, int, int]:
        return tuple(self.extents[self.primary[r]] for r in "mnk")


@dataclass(frozen=True)
class Kernel:
    """Tile sizes of one contraction: mr x nr register block (the packed
    inner tiles), kc k steps unrolled per loop iteration, and a cache tile
    of tm x tn register blocks that is one `scf.forall` iteration, or one
    iteration of a serial loop when the matmul is too small for threads.
    A nonzero `k_block` splits K into blocks of that many steps, each
    packing its own part of the operands (see `k_blocked`)."""

    mr: int
    nr: int
    kc: int
    tm: int
    tn: int
    parallel: bool  # cache tiles as an scf.forall (threads), or a serial loop
    k_block: int = 0

    def describe(self, contraction: Contraction) -> str:
        batch = f"{contraction.extent('b')}x" if "b" in contraction.roles else ""
        m, n, k = (contraction.extent(r) for r in "mnk")
        return (f"packed matmul {batch}{m}x{n}x{k}: register block {self.mr}x{self.nr}, "
                f"k unroll {self.kc}, cache tile {self.tm * self.mr}x{self.tn * self.nr}"
                + (f", k block {self.k_block}" if self.k_block else "") + ("" if self.parallel else ", serial"))


def _role(in_a: bool, in_b: bool, in_c: bool) -> str | None:
    return {(1, 1, 1): "b", (1, 0, 1): "m", (0, 1, 1): "n", (1, 1, 0): "k"}.get((in_a, in_b, in_c))


def match_contraction(op: ir.OpView) -> Contraction | None:
    """Recognize a multiply-accumulate over f32 tensors with static shapes."""
    if op.name not in _CONTRACTIONS or len(op.operands) != 3 or len(op.results) != 1:
        return None
    types = [v.type if isinstance(v.type, ir.RankedTensorType) else None for v in op.operands]
    if any(t is None or not t.has_static_shape or str(t.element_type) != "f32" for t in types):
        return None
    if "indexing_maps" in op.attributes:
        if op.name == "linalg.generic" and [o.name for o in op.regions[0].blocks[0].operations] != _MATMUL_BODY:
            return None
        operand_loops = [map_dims(m) if is_projected_map(m) else [None] for m in indexing_maps(op)]
        if any(None in loops for loops in operand_loops):  # only loop dims, no constant
            return None
    elif op.name in _NAMED_LOOPS:
        operand_loops = _NAMED_LOOPS[op.name]
    else:
        return None
    a, b, c = (set(loops) for loops in operand_loops)
    count = len(a | b | c)
    roles = [_role(d in a, d in b, d in c) for d in range(count)]
    if None in roles or not {"m", "n", "k"} <= set(roles):
        return None
    extents = [0] * count
    for loops, t in zip(operand_loops, types):
        for position, size in zip(loops, t.shape):
            extents[position] = size
    primary = {r: max((d for d in range(count) if roles[d] == r), key=lambda d: (extents[d], d)) for r in "mnk"}
    return Contraction(op, roles, extents, operand_loops, primary,
                       (is_constant(op.operands[0]), is_constant(op.operands[1])))


def record_strategy(op: ir.OpView, text: str) -> None:
    """Append `text` to the `wafer.strategy` list of the function holding `op`.

    The function outlives every loop the strategy makes, so the choice stays
    visible in each later IR dump and in the compile report.
    """
    func = op.operation.parent
    while func.name != "func.func":
        func = func.parent
    known = list(func.attributes[STRATEGY]) if STRATEGY in func.attributes else []
    func.attributes[STRATEGY] = ir.ArrayAttr.get(known + [ir.StringAttr.get(text)])


def _k_step(k: int, limit: int) -> int:
    """The largest divisor of k up to `limit`, but never 1 when k > 1.

    A step of 1 would fold the K dim away with the unit dims and leave a
    multiply and an add instead of a contraction (no FMA); a prime K is
    unrolled whole instead.
    """
    step = largest_divisor(k, limit)
    return step if step > 1 or k == 1 else next(d for d in range(2, k + 1) if k % d == 0)


def choose_kernel(contraction: Contraction, register_tile: tuple[int, int], lanes: int, k_unroll: int,
                  cache_tile: tuple[int, int], parallel_flops: int, row: int = 0) -> Kernel:
    """Keep the register tile's mr*nr/lanes accumulators busy whatever M is.

    A short M (batch 1: a matrix-vector product) gets a wide N block instead
    of rows of zero padding; nr stays a multiple of the vector lanes and no
    wider than N rounded up to whole vectors. kc divides K so every tile is static.
    """
    m, n, k = contraction.mnk
    mr_max, nr_default = register_tile
    mr = min(mr_max, m)
    accumulators = mr_max * nr_default
    nr = max(lanes, min(accumulators // mr // lanes * lanes, math.ceil(n / lanes) * lanes))
    kc = _k_step(k, k_unroll)
    tm = max(1, min(cache_tile[0] // mr, math.ceil(m / mr)))
    tn = max(1, min(cache_tile[1] // nr, math.ceil(n / nr)))
    if row:
        tn = _row_aligned(tn, nr, n, row)
    return Kernel(mr, nr, kc, tm, tn, 2 * math.prod(contraction.extents) >= parallel_flops)


def k_blocked(kernel: Kernel, contraction: Contraction, limit: int) -> Kernel:
    """`kernel` with K split into blocks of up to `limit` steps, for a B packed at run time.

    Packing such a B whole holds a copy of it (and of A) as large as the
    operands themselves; packed one K block at a time (BLIS's kc x N panel,
    and a cache tile's rows of A per block) only one block is alive. A cache
    tile then spans all of N, so each tile packs its rows of A once per block.
    The block is a multiple of kc dividing K, at least half of `limit`;
    K up to `limit` stays whole.
    """
    k, n = contraction.extents[contraction.primary["k"]], contraction.extents[contraction.primary["n"]]
    blocks = [b for b in range(kernel.kc, limit + 1, kernel.kc) if k % b == 0 and 2 * b >= limit]
    if k <= limit or not blocks:
        return kernel
    return replace(kernel, k_block=blocks[-1], tn=math.ceil(n / kernel.nr))


def plan_kernel(contraction: Contraction, choice: KernelChoice, lanes: int, parallel_flops: int,
                row: int = 0) -> tuple[Kernel, bool]:
    """The kernel `choice` gives `contraction`, and whether B is packed per cache
    tile (see `_packs_b_per_tile`); else a B packed at run time goes in K blocks."""
    kernel = choose_kernel(contraction, choice.register_tile, lanes, choice.k_unroll, choice.cache_tile,
                           parallel_flops, row)
    per_tile = kernel.parallel and _packs_b_per_tile(contraction, kernel)
    if kernel.parallel and not per_tile and not contraction.constant[1]:
        kernel = k_blocked(kernel, contraction, choice.k_block)
    return kernel, per_tile


def _row_aligned(tn: int, nr: int, n: int, row: int) -> int:
    """The number of nr-blocks per cache tile nearest `tn` (up to twice it) that
    makes each tile whole rows of an image (n = image rows x row) and divides n
    into whole tiles, so a tile's im2col columns are one rectangular window of
    rows; `tn` itself when there is none."""
    step = row // math.gcd(row, nr)
    fits = [t for t in range(step, 2 * tn + 1, step) if n % (t * nr) == 0]
    return min(fits, key=lambda t: (abs(t - tn), t)) if fits else tn


def im2col_gather(contraction: Contraction) -> ir.OpView | None:
    """The wafer-im2col gather whose columns are B, if any."""
    source = contraction.op.operands[1].owner
    if isinstance(source, ir.OpView) and source.name == "tensor.collapse_shape":
        gather = source.operands[0].owner
        if isinstance(gather, ir.OpView) and IM2COL_ROW in gather.attributes:
            return gather
    return None


def im2col_row(gather: ir.OpView | None) -> int:
    """The output row length of an im2col gather; 0 for no gather."""
    return ir.IntegerAttr(gather.attributes[IM2COL_ROW]).value if gather is not None else 0


def tuning_signature(contraction: Contraction, threads: int) -> ContractionSignature | None:
    """The key of `contraction`'s records in a tuning database; None inside a
    parallel loop, whose blocks `wafer tune` does not measure (one thread's work)."""
    if _in_parallel_loop(contraction.op):
        return None
    return ContractionSignature.of(contraction, im2col_row(im2col_gather(contraction)), threads)


def packed_extents(contraction: Contraction, kernel: Kernel) -> list[int]:
    """Loop extents of the packed op's outer loops (m and n counted in register blocks)."""
    blocks = {contraction.primary["m"]: kernel.mr, contraction.primary["n"]: kernel.nr}
    return [math.ceil(e / blocks.get(d, 1)) for d, e in enumerate(contraction.extents)]


@dataclass(frozen=True)
class PackMatmul(TargetedPass):
    """Pack matmul operands into register-block panels and emit an FMA micro-kernel.

    Each static f32 matmul, batch matmul or matmul-like generic (any operand
    layout, e.g. the transposed weights of wafer-fold-transpose) is data-tiled
    with `linalg.pack`: A into [M/mr][K][mr] panels, B into [N/nr][K][nr],
    C into [M/mr][N/nr][mr][nr], so the inner loop streams both operands
    contiguously. Where M and N need no padding, C is accumulated in place
    (`unpack_accumulators`), and A, unless it is a constant, is read in place
    (`read_rows_in_place`). The packed op is tiled with `scf.forall` over cache tiles
    (one per thread), then over register blocks, then over K in steps of
    `kc`; each step becomes kc broadcast-FMA outer products on an mr x nr
    accumulator that stays in registers across the K loop. Packs of
    constants (weights) are folded at compile time; a B computed per call is
    packed inside each parallel cache tile when one tile spans M, else one
    K block at a time, A then per tile and block (see `k_blocked`). When B is
    a wafer-im2col gather, cache tiles are whole rows of the image where
    that fits, and each tile gathers its own columns too, so the column
    matrix never goes to memory (in vector runs straight into the packed
    panels where they fit, see `gather_into_panels`); other gathers are
    copied window by window, a vector row at a time. The choice is recorded in the function's
    `wafer.strategy` attribute.

    Options:
      machine: the CPU whose registers and caches size the kernel (see
        cpu_target): `host`, or a preset such as `avx2`.
      register-tile: mr,nr for M >= mr; empty (the default) takes the
        target's register tile. Shorter M gets a proportionally wider nr.
      k-unroll: largest number of k steps per loop iteration (a divisor of
        K; a prime K is unrolled whole).
      cache-tile: rows,cols of C per forall iteration. 64,128 keeps a tile's
        B panels in L2 while its rows of register blocks go by (784 deep:
        400 KB), and its 32 KB of C in cache for the fused epilogue; side by
        side it ran 1-9% faster than 64,256 on every benchmark model.
      parallel-flops: smaller matmuls loop over their cache tiles serially:
        4 MFLOP is ~50 us on one core, where waking a second thread (tens
        of microseconds when idle) stops paying.
      tuning: a tuning database (wafer/tuning, written by `wafer tune`); a
        contraction with a record for this CPU takes the record's register
        tile, cache tile, k-unroll and k-block instead of the options, and
        its strategy says "tuned". Empty: none.
      threads: the worker threads the kernels run on; a record applies only
        at the thread count it was measured with.
      k-block: K steps per block when B is packed at run time and not per
        cache tile (see `k_blocked`). 128 keeps an 8x32 kernel's kc x nr
        panel of B (16 KB) in half of a 32 KB L1; with AVX2's 4x16 kernel
        it was as fast as 256 and held less (bench/kernel_tiles.py).
    """

    name = "wafer-pack-matmul"
    summary = "Data-tile matmuls with linalg.pack and lower them to a register-blocked FMA kernel"

    register_tile: tuple[int, ...] = ()
    k_unroll: int = K_UNROLL
    cache_tile: tuple[int, ...] = CACHE_TILE
    parallel_flops: int = 4_000_000
    k_block: int = K_BLOCK
    tuning: str = ""
    threads: int = 1

    def apply(self, module: ir.Operation) -> None:
        found = [c for c in (match_contraction(op.opview) for op in find_ops(module, lambda op: True))
                 if c is not None]
        if not found:
            return
        database = self._database(module)
        plans = []
        with transform_script(module) as root:
            for i, contraction in enumerate(found):
                gather = im2col_gather(contraction)
                row = im2col_row(gather)
                # A contraction inside a parallel loop (wafer-winograd's blocks) is one thread's work.
                parallel_flops = math.inf if _in_parallel_loop(contraction.op) else self.parallel_flops
                signature = tuning_signature(contraction, self.threads)
                tuned = database.lookup(signature) if database is not None and signature is not None else None
                choice = tuned.choice if tuned is not None else self._options_choice()
                kernel, per_tile = plan_kernel(contraction, choice, self.cpu.lanes, parallel_flops, row)
                record_strategy(contraction.op, ("tuned " if tuned is not None else "") + kernel.describe(contraction))
                tag(contraction.op.operation, f"mm{i}")
                self._pack(root, f"mm{i}", contraction, kernel)
                plans.append((contraction, kernel, per_tile, gather, row))
        unpack_accumulators(module)
        # With K in blocks, each cache tile packs its rows of A per block instead.
        read_rows_in_place(module, {f"mm{i}" for i, (_, kernel, *_) in enumerate(plans) if not kernel.k_block})
        with transform_script(module) as root:
            for i, (contraction, kernel, per_tile, gather, row) in enumerate(plans):
                if gather is not None:
                    tag(gather.operation, f"mm{i}.gather")
                self._emit(root, f"mm{i}", contraction, kernel, per_tile, gather, row)
            funcs = structured.MatchOp.match_op_names(root, ["func.func"]).result
            _lower_to_fma(funcs)
            # A pack fused into a loop writes a slice of the whole packed tensor; make
            # that slice a tensor of its own, so only the tile's panels are allocated.
            empty = transform.ApplyPatternsOp(funcs)
            with ir.InsertionPoint(empty.patterns):
                tensor_transform.ApplyFoldTensorEmptyPatternsOp()
            hoist_loop_invariant_subsets(root)  # the accumulator stays in registers across K
        remove_tags(module, PACKED)
        gather_into_panels(module)
        fold_constant_packs(module)  # weights are packed once, here, not on every call
        fold_reshaping_packs(module)
        fuse_accumulator_fills(module)
        lower_relayouts(module, self.cpu.lanes)
        lower_gathers(module)

    def _options_choice(self) -> KernelChoice:
        """The kernel this pass's options ask for, where no tuned record applies."""
        return KernelChoice(tuple(self.register_tile or self.cpu.register_tile), tuple(self.cache_tile),
                            self.k_unroll, self.k_block)

    def _database(self, module: ir.Operation) -> TuningDatabase | None:
        """This CPU's records in the `tuning` file, if one is given."""
        if not self.tuning:
            return None
        if not Path(self.tuning).is_file():
            raise PassFailure(module.location, f"no tuning database '{self.tuning}' (wafer tune writes one)")
        try:
            return TuningDatabase(self.tuning, cpu_key(self.cpu, host_flags()))
        except WaferError as err:
            raise PassFailure(module.location, str(err).removeprefix("error: ")) from None

    @staticmethod
    def _pack(root: ir.Value, name: str, contraction: Contraction, kernel: Kernel) -> None:
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
        transform.AnnotateOp(packed, PACKED,
                             param=transform.ParamConstantOp(transform.AnyParamType.get(),
                                                             ir.StringAttr.get(name)).param)

    @staticmethod
    def _emit(root: ir.Value, name: str, contraction: Contraction, kernel: Kernel, per_tile: bool,
              gather: ir.OpView | None, row: int) -> None:
        """Tile and vectorize one packed contraction; B is packed `per_tile` (see `_packs_b_per_tile`)."""
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
            packed, per_tile_pack = PackMatmul._split_k(packed, contraction, kernel)
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
            if per_tile and row and contraction.extents[pn] % (kernel.tn * kernel.nr) == 0:
                # Each tile's columns are whole image rows: the slice of the collapsed
                # columns becomes a slice of the gather, copied right there.
                bubble = transform.ApplyPatternsOp(cache_loop)
                with ir.InsertionPoint(bubble.patterns):
                    tensor_transform.ApplyBubbleUpExtractSlicePatternsOp()
                fused = structured.FuseIntoContainingOp(match_tagged(root, f"{name}.gather"), cache_loop)
                cache_loop = fused.new_containing_op
                if _panel_chunk(gather, kernel.nr) is None:  # else gather_into_panels copies it
                    window = structured.TileUsingForOp(fused.fused_op, sizes=[1, 1, 1, 1, 0, 0]).tiled_linalg_op
                    copy_windows(window, unit_stride(gather))
        # Then one register block per step, K innermost. A loop of one trip is not made at
        # all, so the pattern rewrites below never fold away a loop whose handle is live.
        trips = {pm: kernel.tm, pn: kernel.tn, pk: (kernel.k_block or contraction.extents[pk]) // kernel.kc}
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
        fold = transform.ApplyPatternsOp(k_loop)
        with ir.InsertionPoint(fold.patterns):
            structured.ApplyFoldUnitExtentDimsViaSlicesPatternsOp()
        # The folded block keeps (k, mi, ni) minus unit dims; put k last for the outer-product lowering.
        kept = [d for d, size in (("k", kernel.kc), ("m", kernel.mr), ("n", kernel.nr)) if size > 1]
        block = structured.MatchOp.match_op_names(k_loop, ["linalg.generic"]).result
        if kept and kept[0] == "k" and len(kept) > 1:
            block = structured.InterchangeOp(block, iterator_interchange=list(range(1, len(kept))) + [0]).result
        structured.VectorizeOp(block)

    @staticmethod
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


def _in_parallel_loop(op: ir.OpView) -> bool:
    """Whether `op` is nested in an scf.forall, whose iterations the threads already share."""
    parent = op.operation.parent
    while parent.name != "func.func":
        if parent.name == "scf.forall":
            return True
        parent = parent.parent
    return False


def _packs_b_per_tile(contraction: Contraction, kernel: Kernel) -> bool:
    """Whether B's pack moves into the cache-tile loop: B is no constant and one
    tile spans all of M, so every part of B is packed exactly once."""
    m_loops = [d for d, role in enumerate(contraction.roles) if role == "m"]
    single_m_tile = all(
        math.ceil(contraction.extents[d] / kernel.mr) <= kernel.tm if d == contraction.primary["m"]
        else contraction.extents[d] == 1 for d in m_loops)
    return single_m_tile and not contraction.constant[1]


def _lower_to_fma(funcs: ir.Value) -> None:
    """vector.contract -> broadcast-FMA outer products, in the order the patterns need."""
    for populate in (
        [vector.ApplyTransferPermutationPatternsOp],
        [vector.ApplyVectorReductionToContractPatternsOp],
        [lambda: vector.ApplyLowerContractionPatternsOp(
            lowering_strategy=vector.VectorContractLowering.OuterProduct),
         vector.ApplyTransferPermutationPatternsOp, vector.ApplyLowerOuterProductPatternsOp,
         transform.ApplyCanonicalizationPatternsOp],
    ):
        patterns = transform.ApplyPatternsOp(funcs)
        with ir.InsertionPoint(patterns.patterns):
            for make in populate:
                make()


def unpack_accumulators(module: ir.Operation) -> None:
    """Let each packed contraction accumulate into C's own layout, reshaped.

    Register blocks tile C exactly when no padding is needed: C[.., M, N]
    expanded to [.., M/mr, mr, N/nr, nr] (a reshape, no copy) holds the same
    blocks as the packed [.., M/mr, N/nr, mr, nr], and the kernel loads and
    stores each block once per K loop, so its rows of nr lanes may as well be
    strided. That leaves no unpack: a transpose plus a copy of all of C
    (a third of the non-kernel time of a ResNet block).
    """
    for op in find_ops(module, lambda op: PACKED in op.attributes):
        pack, result = op.operands[2].owner, op.results[0]
        users = [use.owner for use in result.uses]
        if not _reshapes_in_place(pack) or len(users) != 1 or users[0].name != "linalg.unpack":
            continue  # padded (a ragged M or N): the packed C stays
        groups, expanded_type = _read_in_place(op.opview, 2)
        result.set_type(expanded_type)
        unpack = users[0]
        with ir.InsertionPoint(unpack), unpack.location:
            collapsed = tensor.CollapseShapeOp(unpack.results[0].type, result, reassociation(*groups)).result
        unpack.results[0].replace_all_uses_with(collapsed)
        unpack.erase()
        pack.operation.erase()


def read_rows_in_place(module: ir.Operation, names: set[str]) -> None:
    """Let the kernels of the contractions `names` read A's rows where they are.

    A packed into [M/mr][K][mr] panels makes each broadcast of the kernel
    read the next word, but costs a pass over A (FFN2 of a transformer layer
    at batch 32: its 32 MB input, 3% of the call). Expanded to [M/mr, mr, K]
    instead, each k step broadcasts mr words from mr rows, which LLVM loads
    straight from them as before. Weights stay packed: that pack is free.
    """
    for op in find_ops(module, lambda op: PACKED in op.attributes
                       and ir.StringAttr(op.attributes[PACKED]).value in names):
        pack = op.operands[0].owner
        if _reshapes_in_place(pack) and not is_constant(pack.operands[0]):
            _read_in_place(op.opview, 0)
            pack.operation.erase()  # each contraction has packs of its own


def _reshapes_in_place(pack: ir.OpView) -> bool:
    """A `linalg.pack` without padding or outer permutation: a reshape of its
    source holds the same tiles, split the other way round. The source must be
    static: the reshape's sizes are its dims over the tiles."""
    return (isinstance(pack, ir.OpView) and pack.name == "linalg.pack" and len(pack.operands) == 2
            and not pack.outer_dims_perm and pack.operands[0].type.has_static_shape)


def _read_in_place(op: ir.OpView, index: int) -> tuple[list[list[int]], ir.Type]:
    """Make operand `index` of a packed op the reshaped source of its pack (a
    fill of it, for a zero C), reindexed to match; returns the reshape's
    groups and type."""
    pack = op.operands[index].owner
    positions, tiles = list(pack.inner_dims_pos), list(pack.static_inner_tiles)
    source = pack.operands[0]
    shape, groups = [], []
    for dim, size in enumerate(source.type.shape):
        split = [size // tiles[positions.index(dim)], tiles[positions.index(dim)]] if dim in positions else [size]
        groups.append(list(range(len(shape), len(shape) + len(split))))
        shape += split
    maps = list(op.attributes["indexing_maps"])
    packed_map = ir.AffineMapAttr(maps[index]).value
    outer, inner = list(packed_map.results)[:len(groups)], list(packed_map.results)[len(groups):]
    exprs = [e for dim, o in enumerate(outer) for e in ([o, inner[positions.index(dim)]] if dim in positions else [o])]
    maps[index] = ir.AffineMapAttr.get(ir.AffineMap.get(packed_map.n_dims, 0, exprs))
    expanded_type = ir.RankedTensorType.get(shape, source.type.element_type)
    with ir.InsertionPoint(op), op.location:
        fill = source.owner
        if isinstance(fill, ir.OpView) and fill.name == "linalg.fill":  # a fresh zero C, in the new shape
            operand = linalg.fill(fill.operands[0], outs=[tensor.EmptyOp(shape, expanded_type.element_type).result])
        else:
            operand = tensor.ExpandShapeOp(expanded_type, source, reassociation(*groups), [],
                                           static_output_shape=shape).result
    op.operation.operands[index] = operand
    op.attributes["indexing_maps"] = ir.ArrayAttr.get(maps)
    return groups, expanded_type


def fuse_accumulator_fills(module: ir.Operation) -> None:
    """Zero each parallel cache tile's accumulator inside the tile.

    A fill of the whole packed C before the kernel is one more pass over
    memory (1 MB for a 128x2048 result); inside the tile it writes what
    the kernel reads next, in cache.
    """
    fills = find_ops(module, lambda op: op.name == "linalg.fill" and len(list(op.results[0].uses)) == 1
                     and next(iter(op.results[0].uses)).owner.name == "scf.forall")
    if not fills:
        return
    with transform_script(module) as root:
        for i, fill in enumerate(fills):
            tag(fill, f"fill{i}")
            tag(next(iter(fill.results[0].uses)).owner, f"fill{i}.tiles")
            structured.FuseIntoContainingOp(match_tagged(root, f"fill{i}"), match_tagged(root, f"fill{i}.tiles"))


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
            if math.prod(packed_type.shape) >= _PARALLEL_RELAYOUT and not _in_parallel_loop(op):
                # spread big copies over the threads
                tiled = structured.TileUsingForallOp(transform.AnyOpType.get(), transform.AnyOpType.get(),
                                                     transpose, tile_sizes=sizes).tiled_op
            else:
                tiled = structured.TileUsingForOp(transpose, sizes=sizes).tiled_linalg_op
            structured.VectorizeOp(tiled)
        funcs = structured.MatchOp.match_op_names(root, ["func.func"]).result
        # Transposes that only move unit dims become shape casts first; the real
        # ones (A's 8x8 blocks) become one flat shuffle each.
        for populate in (
            [vector.ApplyTransferPermutationPatternsOp, vector.ApplyCastAwayVectorLeadingOneDimPatternsOp,
             vector.ApplyDropUnitDimWithShapeCastPatternsOp, transform.ApplyCanonicalizationPatternsOp],
            [lambda: vector.ApplyLowerTransposePatternsOp(lowering_strategy=vector.VectorTransposeLowering.Shuffle1D)],
        ):
            patterns = transform.ApplyPatternsOp(funcs)
            with ir.InsertionPoint(patterns.patterns):
                for make in populate:
                    make()
    _forward_copies_into_empty(module)


# Gathers of at least this many elements (1 MB) spread their windows over the threads.
_PARALLEL_GATHER = 1 << 18


def lower_gathers(module: ir.Operation) -> None:
    """Copy each im2col gather left whole one (n, c, kh, kw) window at a time.

    The windows are the iterations of an `scf.forall` (threads) for big
    gathers, else of serial loops; see `copy_windows` for each window.
    """
    gathers = [op.opview for op in find_ops(
        module, lambda op: IM2COL_ROW in op.attributes and op.parent.name == "func.func" and _used(op))]
    if not gathers:
        return
    with transform_script(module) as root:
        for i, gather in enumerate(gathers):
            tag(gather.operation, f"gather{i}")
            handle, windows = match_tagged(root, f"gather{i}"), [1, 1, 1, 1, 0, 0]
            if math.prod(gather.results[0].type.shape) >= _PARALLEL_GATHER:
                any_op = transform.AnyOpType.get()
                window = structured.TileUsingForallOp(any_op, any_op, handle, tile_sizes=windows).tiled_op
            else:
                window = structured.TileUsingForOp(handle, sizes=windows).tiled_linalg_op
            copy_windows(window, unit_stride(gather))

    def unmark(op: ir.Operation) -> ir.WalkResult:
        if IM2COL_ROW in op.attributes:
            del op.attributes[IM2COL_ROW]
        return ir.WalkResult.ADVANCE

    module.walk(unmark)


def _panel_chunk(gather: ir.OpView, nr: int) -> int | None:
    """The run of pixels (a divisor of both the row and the panel width, at
    least 8 lanes) that `gather_into_panels` copies as one vector, if any."""
    chunk = math.gcd(ir.IntegerAttr(gather.attributes[IM2COL_ROW]).value, nr)
    return chunk if unit_stride(gather) and chunk % 8 == 0 else None


def gather_into_panels(module: ir.Operation) -> None:
    """Copy each cache tile's im2col columns straight into its packed B panels.

    A tile's gather wrote [K][pixels] (half a megabyte for 224 pixels of a
    K=576 conv) and the pack then read it all back to write [panels][K][nr].
    For a fixed window (c, kh, kw) a run of `chunk` pixels is contiguous both
    in the input row and in a panel row, so each run is one vector copy from
    the input to the panel, in a K loop and a loop over image rows; one row's
    runs are unrolled. (Unrolled over all of a whole-image pack's pixels, the
    runs were 784 writes in one loop body, and One-Shot Bufferize's analysis
    of that chain took 92 s of a 1x1 conv's compile.)
    """
    for pack in find_ops(module, lambda op: op.name == "linalg.pack" and _gathered_columns(op.opview) is not None):
        pack = pack.opview
        gather = _gathered_columns(pack)
        _, channels, kh, kw, rows, row = gather.results[0].type.shape
        nr = list(pack.static_inner_tiles)[0]
        chunk = _panel_chunk(gather, nr)
        window = gather.operands[0]
        read = indexing_maps(gather)[0]
        f32 = window.type.element_type
        with ir.InsertionPoint(pack), pack.location:
            zero, one, pad = index_constant(0), index_constant(1), arith.ConstantOp(f32, 0.0).result
            over_c = scf.ForOp(zero, index_constant(channels), one, [pack.operands[1]])
            with ir.InsertionPoint(over_c.body):
                over_h = scf.ForOp(zero, index_constant(kh), one, over_c.inner_iter_args)
                with ir.InsertionPoint(over_h.body):
                    over_w = scf.ForOp(zero, index_constant(kw), one, over_h.inner_iter_args)
                    with ir.InsertionPoint(over_w.body):
                        over_r = scf.ForOp(zero, index_constant(rows), one, over_w.inner_iter_args)
                        with ir.InsertionPoint(over_r.body):
                            c, h, w, r = (loop.induction_variable for loop in (over_c, over_h, over_w, over_r))
                            k = arith.addi(arith.muli(arith.addi(arith.muli(c, index_constant(kh)), h),
                                                      index_constant(kw)), w)
                            panels = over_r.inner_iter_args[0]
                            for start in range(0, row, chunk):
                                at = [zero, c, h, w, r, index_constant(start)]
                                source = [affine.AffineApplyOp(ir.AffineMap.get(6, 0, [e]), at).result
                                          for e in read.results]
                                run = vector_ops.TransferReadOp(ir.VectorType.get([chunk], f32), window, source,
                                                                ir.AffineMap.get_minor_identity(4, 1), pad, [True])
                                pixel = ir.AffineDimExpr.get(0) * row + start  # of the tile, row r's run
                                panel_at = [zero, _apply(ir.AffineExpr.get_floor_div(pixel, nr), r), k, _apply(pixel % nr, r)]
                                panels = vector_ops.TransferWriteOp(panels.type, run.result, panels, panel_at,
                                                                    ir.AffineMap.get_minor_identity(4, 1),
                                                                    [True]).result
                            scf.YieldOp([panels])
                        scf.YieldOp(over_r.results)
                    scf.YieldOp(over_w.results)
                scf.YieldOp(over_h.results)
            result = over_c.results[0]
        collapse = pack.operands[0].owner
        pack.results[0].replace_all_uses_with(result)
        pack.erase()
        collapse.erase()
        gather.erase()


def _apply(expr: ir.AffineExpr, *dims: ir.Value) -> ir.Value:
    """The index `expr` of `dims` (d0, d1, ...)."""
    return affine.AffineApplyOp(ir.AffineMap.get(len(dims), 0, [expr]), list(dims)).result


def _gathered_columns(pack: ir.OpView) -> ir.OpView | None:
    """The im2col gather whose collapsed columns `pack` packs into [1][panels][K][nr]
    panels inside a cache tile, when its windows are copied by `gather_into_panels`."""
    collapse = pack.operands[0].owner
    if len(pack.operands) != 2 or list(pack.outer_dims_perm or []) != [0, 2, 1]:
        return None
    if not isinstance(collapse, ir.OpView) or collapse.name != "tensor.collapse_shape":
        return None
    gather = collapse.operands[0].owner
    if not isinstance(gather, ir.OpView) or IM2COL_ROW not in gather.attributes:
        return None
    shape = gather.results[0].type.shape
    tile_ok = shape[0] == 1 and list(pack.inner_dims_pos) == [2]
    if not tile_ok or _panel_chunk(gather, list(pack.static_inner_tiles)[0]) is None:
        return None
    return gather


def _used(op: ir.Operation) -> bool:
    """Whether any result reaches a use other than dead reshapes (a gather fused into its tiles)."""
    return any(not use.owner.name.startswith("tensor.") or _used(use.owner) for r in op.results for use in r.uses)


def unit_stride(gather: ir.OpView) -> bool:
    """Whether a gather reads its windows at unit strides (every loop's factor 1 in its input map)."""
    return all(c == 1 for expr in indexing_maps(gather)[0].results for c in dim_coefficients(expr).values())


def copy_windows(window: ir.Value, vectorize: bool) -> None:
    """Copy a gather tile of one (n, c, kh, kw) window a row at a time.

    With (n, c, kh, kw) fixed a gather reads the window x[n, c, kh*dh +
    oh*sh, kw*dw + ow*sw]; at unit strides, once the unit dims fold away,
    each row is one vector load and store. Strided rows stay scalar copies.
    """
    rows = structured.TileUsingForOp(window, sizes=[0, 0, 0, 0, 1, 0]).loops[0]
    if not vectorize:
        return
    fold = transform.ApplyPatternsOp(rows)
    with ir.InsertionPoint(fold.patterns):
        structured.ApplyFoldUnitExtentDimsViaSlicesPatternsOp()
    copy = structured.MatchOp.match_op_names(rows, ["linalg.generic"]).result
    structured.VectorizeOp(copy)


def _forward_copies_into_empty(module: ir.Operation) -> None:
    """An unpack ends by copying into its destination; into a `tensor.empty`
    that copy is the identity on values, so its source is used instead and
    bufferization makes no extra pass over the result."""
    copies = find_ops(module, lambda op: (
        op.name == "linalg.copy" and len(op.operands) == 2 and isinstance(op.operands[1].owner, ir.OpView)
        and op.operands[1].owner.name == "tensor.empty" and op.operands[0].type == op.results[0].type))
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
