"""wafer-pack-matmul's tile sizes: the register block, K steps, cache tiles and threads of one contraction."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..tuning.database import KernelChoice
from ..tuning.signature import ContractionSignature
from .cpu_target import F32_BYTES, CpuTarget
from .kernel_defaults import SPLIT_TILE_FLOPS, STREAMED_PROBE_ROWS
from .linalg_builders import largest_divisor
from .matmul_contraction import Contraction, in_parallel_loop, is_temporary
from .matmul_gathers import image_row


@dataclass(frozen=True)
class Kernel:
    """Tile sizes of one contraction: mr x nr register block (the packed
    inner tiles), kc k steps unrolled per loop iteration, and a cache tile
    of tm x tn register blocks that is one `scf.forall` iteration, or one
    iteration of a serial loop when the matmul is too small for threads.
    A nonzero `k_block` splits K into blocks of that many steps, each
    packing its own part of the operands (see `k_blocked`); a nonzero
    `k_tile` loops over K in blocks inside each cache tile (see `k_tiled`)."""

    mr: int
    nr: int
    kc: int
    tm: int
    tn: int
    parallel: bool  # cache tiles as an scf.forall (threads), or a serial loop
    k_block: int = 0
    k_tile: int = 0

    def describe(self, contraction: Contraction) -> str:
        batch = f"{contraction.extent('b')}x" if "b" in contraction.roles else ""
        m, n, k = (contraction.extent(r) for r in "mnk")
        return (f"packed matmul {batch}{m}x{n}x{k}: register block {self.mr}x{self.nr}, "
                f"k unroll {self.kc}, cache tile {self.tm * self.mr}x{self.tn * self.nr}"
                + (f", k block {self.k_block}" if self.k_block else "")
                + (f", k tile {self.k_tile}" if self.k_tile else "") + ("" if self.parallel else ", serial"))


def _k_step(k: int, limit: int) -> int:
    """The largest divisor of k up to `limit`, but never 1 when k > 1.

    A step of 1 would fold the K dim away with the unit dims and leave a
    multiply and an add instead of a contraction (no FMA); a prime K is
    unrolled whole instead.
    """
    step = largest_divisor(k, limit)
    return step if step > 1 or k == 1 else next(d for d in range(2, k + 1) if k % d == 0)


def choose_kernel(contraction: Contraction, register_tile: tuple[int, int], cpu: CpuTarget, k_unroll: int,
                  cache_tile: tuple[int, int], parallel_flops: int, row: int = 0) -> Kernel:
    """Keep the register tile's mr*nr/lanes accumulators busy whatever M is.

    A short M (batch 1: a matrix-vector product) gets a wide N block instead
    of rows of zero padding, a power of two of vectors (see
    `CpuTarget.vector_block`) no wider than N rounded up to whole vectors.
    A longer M takes the block rows that pad it least (see `block_rows`),
    and an N that nr would leave ragged takes the narrower one that pads it
    least (see `least_padded_panels`); an M that the block rows pad, where N
    is whole, takes a shorter, wider block that divides it (see
    `shorter_whole_block`). kc divides K so every tile is static.
    """
    m, n, k = contraction.mnk
    lanes = cpu.lanes
    mr_max, nr_default = register_tile
    vectors = max(1, nr_default // lanes)
    mr = block_rows(m, mr_max, min(2 * mr_max, cpu.rows_in_registers(vectors)))
    accumulators = mr_max * nr_default
    width = min(max(accumulators // mr, nr_default), math.ceil(n / lanes) * lanes)
    nr = max(lanes, width // lanes * lanes) if width == nr_default else cpu.vector_block(width)
    if m > mr_max and n % nr:
        mr, nr = least_padded_panels(m, n, nr, mr, cpu, accumulators // lanes) or (mr, nr)
    elif m > mr_max and m % mr:
        mr, nr = shorter_whole_block(m, n, mr, cpu, accumulators // lanes) or (mr, nr)
    kc = _k_step(k, k_unroll)
    tm = _balanced(max(1, min(cache_tile[0] // mr, math.ceil(m / mr))), math.ceil(m / mr))
    tn = _balanced(max(1, min(cache_tile[1] // nr, math.ceil(n / nr))), math.ceil(n / nr))
    # A tile's C within half of L2, where whole rows need more blocks than tn.
    most = cpu.l2_bytes // 2 // (F32_BYTES * tm * mr * nr)
    tn = _row_aligned(tn, nr, n, row, most) if row else _whole_tiles(tn, math.ceil(n / nr))
    return Kernel(mr, nr, kc, tm, tn, contraction.flops >= parallel_flops)


def shorter_whole_block(m: int, n: int, rows: int, cpu: CpuTarget, accumulators: int) -> tuple[int, int] | None:
    """A register block of fewer rows than `rows` (down to half of it) that
    divides M, for an M that `rows` pads, as (rows, nr): widened to the power of
    two of vectors that keeps at least `accumulators` and whose rows still fit
    the registers, and splitting N into whole panels; None where there is none.

    A 5x5 image's 25 pixels are five 5x64 blocks where 7x32 pads them to 28
    rows, and the wider block issues as fast (bench/kernel_tiles.py times a
    25-row contraction).
    """
    for shorter in range(rows - 1, max(2, rows // 2) - 1, -1):
        vectors = 2 ** math.ceil(math.log2(math.ceil(accumulators / shorter)))
        if m % shorter == 0 and cpu.rows_in_registers(vectors) >= shorter and n % (vectors * cpu.lanes) == 0:
            return shorter, vectors * cpu.lanes
    return None


def block_rows(m: int, mr_max: int, most: int = 0) -> int:
    """The register block's rows for an M of `m`: M itself up to `mr_max`, else
    `mr_max` or, where it pads M less, one row fewer (7 for a 7x7 image's 49 or a
    14x14 one's 196 pixels, which 8 pads by 7 and 4 rows); where both pad M but
    a taller block of up to `most` rows (what the registers hold at the
    block's width, up to twice its rows) divides it, the tallest such: 13
    rows for a 13x13 image's 169 pixels, 11 for a 55x55 one's 3025.

    A padded M is packed with zeros on every call, and its padding rows are
    computed; padded C is a slice, which the epilogue does not fuse through.
    A whole M is read in place. One row fewer keeps most of the accumulators
    (7 of 8 rows), where fewer would leave the FMAs' latency exposed.
    """
    if m <= mr_max:
        return m
    near = range(mr_max, mr_max * 3 // 4, -1)
    taller = [rows for rows in range(most, mr_max, -1) if m % rows == 0]
    if taller and all(m % rows for rows in near):
        return taller[0]
    return _padding_least(m, near)


def _padding_least(m: int, candidates: range) -> int:
    """The row count among `candidates` that pads M least, the tallest on ties."""
    return min(candidates, key=lambda rows: (-m % rows, -rows))


def least_padded_panels(m: int, n: int, nr: int, rows: int, cpu: CpuTarget,
                        accumulators: int) -> tuple[int, int] | None:
    """A register block narrower than `nr` (`rows` x `nr` now), a power of two
    of vectors (see `CpuTarget.vector_block`), for an N that
    `nr` leaves ragged, as (rows, nr), its rows keeping `accumulators` vector
    accumulators or, where that pads M, at least half of them (enough to hide
    the FMAs' latency); None to keep `nr`.

    A ragged N costs more than its padding (see `ragged_split`): each cache
    tile gets dynamic sizes, B's columns are zero-filled and copied before
    they are packed, and the epilogue (a convolution's bias and ReLU) cannot
    fuse into the ragged tile. So the widest block that splits N into whole
    panels wins: a 28x28 image's 784 pixels are 24.5 panels of 32 but 49 of
    16. Where every block leaves a ragged panel, the one whose padded N, times
    how fast it issues its multiply-adds (see `issue_overhead`), is least: a
    14x14 image's 196 pixels are 224 columns in panels of 32 and 208 in
    panels of 16, which AVX-512's 16-row block issues nearly as fast.
    """
    def block(width: int) -> tuple[int, int]:
        most = accumulators // (width // cpu.lanes)
        return _padding_least(m, range(most, max(most // 2, 1) - 1, -1)), width

    narrower = sorted({cpu.vector_block(width) for width in range(cpu.lanes, nr, cpu.lanes)}, reverse=True)
    whole = next((width for width in narrower if n % width == 0), 0)
    if whole:
        return block(whole)

    def cost(mr: int, width: int) -> float:
        return math.ceil(n / width) * width * issue_overhead(mr, width, cpu)

    best = min((block(width) for width in narrower), key=lambda b: cost(*b), default=None)
    return best if best and cost(*best) < cost(rows, nr) else None


def issue_overhead(mr: int, nr: int, cpu: CpuTarget) -> float:
    """How much longer than its multiply-adds an mr x nr register block takes
    to issue them, 1 at best: too few accumulators leave the FMAs' latency
    exposed, and a block that loads more (B's vectors and A's broadcasts)
    than it multiply-adds is bound by its loads. One vector of B, 16 rows
    (17 loads per 16 FMAs) is slower than two vectors, 8 rows (10 per 16)."""
    accumulators = mr * max(1, nr // cpu.lanes)
    latency = max(1.0, cpu.fma_chains / accumulators)
    loads = max(1.0, (nr // cpu.lanes + mr) / accumulators)
    return latency * loads


def _balanced(tile: int, blocks: int) -> int:
    """The fewest blocks per tile that keeps `blocks` in as many tiles as `tile`
    does: 12 blocks in tiles of 8 become two of 6, not 8 and a ragged 4, so every
    tile is static (an epilogue can join the loop) and the threads share evenly."""
    return math.ceil(blocks / math.ceil(blocks / tile))


def _whole_tiles(tile: int, blocks: int) -> int:
    """`tile` blocks per tile where they divide `blocks`; else the divisor of
    `blocks` nearest it, from half it to twice it: 9 panels in tiles of 5 and 4
    are one tile of 9 (a ragged tile keeps the epilogue out of the loop)."""
    divisors = [d for d in range(max(1, tile // 2), 2 * tile + 1) if blocks % d == 0]
    if blocks % tile == 0 or not divisors:
        return tile
    return min(divisors, key=lambda d: (abs(d - tile), -d))


def k_blocked(kernel: Kernel, contraction: Contraction, limit: int, cpu: CpuTarget) -> Kernel:
    """`kernel` with K split into blocks of up to `limit` steps, for a B packed at run time.

    Packing such a B whole holds a copy of it (and of A) as large as the
    operands themselves; packed one K block at a time (BLIS's kc x N panel,
    and a cache tile's rows of A per block) only one block is alive. A cache
    tile then spans all of N, so each tile packs its rows of A once per block.
    The block is a multiple of kc dividing K, at least half of `limit`;
    K up to `limit` stays whole.

    Each block reads and writes all of C again. Against constant weights
    (A packed at compile time) only B's copy is saved, so K stays whole where
    that copy fits in a quarter of the last-level cache (L3): SqueezeNet's 1000-class 1x1
    convolution at batch 8 (a 2.8 MB B, a 5.4 MB C) wrote C four times in
    blocks of 128, and ran 0.96x as long as a whole model without them.
    """
    if contraction.constant[0] and _operand_bytes(contraction, "b") <= cpu.last_level_bytes // 4:
        return kernel
    if _b_small_beside_a(kernel, contraction):
        return kernel
    n = contraction.extents[contraction.primary["n"]]
    block = k_block_steps(kernel, contraction, limit)
    return replace(kernel, k_block=block, tn=math.ceil(n / kernel.nr)) if block else kernel


# A per-call B at most this fraction of A keeps K whole where A is a temporary read
# in place (see `_b_small_beside_a`): B's packed copy is then at most a quarter of a
# buffer the call holds besides B and C, within the 1.2x peak-memory target.
SMALL_B_SHARE = 4


def _b_small_beside_a(kernel: Kernel, contraction: Contraction) -> bool:
    """Whether B's packed copy is small beside A, a temporary of the call that
    the kernel reads in place (M whole register blocks): attention's P V, V (a
    head's tokens x 64) against the probabilities (tokens x tokens). K blocks
    there save little memory and cost a pass over C per block, which made P V
    at 256 to 512 tokens slower than whole (the commit that added this rule
    has the measurements)."""
    m = contraction.extents[contraction.primary["m"]]
    # A signature's shape (the tuner's, no op) is timed with A an argument.
    return (m % kernel.mr == 0 and contraction.op is not None and is_temporary(contraction.op.operands[0])
            and SMALL_B_SHARE * _operand_bytes(contraction, "b") <= _operand_bytes(contraction, "a"))


def k_tiled(kernel: Kernel, contraction: Contraction, limit: int, cpu: CpuTarget) -> Kernel:
    """`kernel` looping over K in blocks of up to `limit` steps inside each cache
    tile, where a whole K's panels would not stay in the caches that reuse them.

    Each register block of a row reuses the row's A panel (mr x K) from L1, and
    each row of register blocks reuses the tile's B panels (K x tn nr) from L2.
    A deep K pushes them out to the next level: a 7x7 convolution's 49x512x4608
    im2col contraction streamed its 2.4 MB of B panels per tile from L3 once per
    row of blocks. In blocks (BLIS's kc), only one block's panels need to stay,
    for the price of bringing C's register blocks back once per block. Half of
    each cache is left for the rest (C, the next panels); a block is a multiple
    of kc dividing K, at least half of `limit`.

    That price is small only while the tile's C stays in L1 between blocks. A
    bigger C comes back from L2, and costs more than A's panel saves (a k step
    reads mr of its floats against nr of B's): blocks for A's panel alone made
    square matmuls of 1024 and 2048, whose tiles hold 512 KB and more of C, up
    to 1.3x slower (bench/kernel_tiles.py times both).

    Where B outgrows the last-level cache it streams from memory on every call,
    and blocks would interleave the tile's panels in runs of one block's rows:
    with more than two panels a tile, such streams ran at about half the memory
    bandwidth that whole panels, read one after the other, reach (AlexNet's
    9216->4096 and Llama's 4096->11008 layers at batch 8 to 32), so K stays whole.
    So it may where B outgrows L2 and only a few rows of register blocks read
    it (a linear layer at batch 1 to 32): B then comes from L3 on every call
    whatever the blocks, which would keep it in L2 for rows perhaps too few to
    pay for its interleaved streams. How few is the host's own: `cpu`'s
    `streamed_b_rows`, measured where it does not say (`_few_rows_stream_whole`).
    """
    k = contraction.extents[contraction.primary["k"]]
    c_in_l1 = kernel.tm * kernel.mr * kernel.tn * kernel.nr * F32_BYTES <= cpu.l1d_bytes
    deep_a = kernel.tn > 1 and c_in_l1 and kernel.mr * k * F32_BYTES > cpu.l1d_bytes // 2
    deep_b = kernel.tm > 1 and k * kernel.tn * kernel.nr * F32_BYTES > cpu.l2_bytes // 2
    block = k_block_steps(kernel, contraction, limit) if deep_a or deep_b else 0
    b_bytes = _operand_bytes(contraction, "b")
    if not block or kernel.tn > 2 and (b_bytes > cpu.last_level_bytes or b_bytes > cpu.l2_bytes
                                       and _few_rows_stream_whole(kernel, contraction, cpu)):
        return kernel
    return replace(kernel, k_tile=block)


def _few_rows_stream_whole(kernel: Kernel, contraction: Contraction, cpu: CpuTarget) -> bool:
    """Whether K whole reads a B streamed from L3 faster at `kernel`'s rows of register blocks."""
    rows = math.ceil(contraction.mnk[0] / kernel.mr)
    if cpu.streamed_b_rows is not None:
        return rows <= cpu.streamed_b_rows
    if rows > STREAMED_PROBE_ROWS[-1]:  # past every row count the probe times: no need to run it
        return False
    from ..streamed_weights import streamed_b_rows  # compiles and times a probe: once a machine, when needed

    return rows <= streamed_b_rows()


def _operand_bytes(contraction: Contraction, operand: str) -> int:
    """Bytes of A (M by K) or B (K by N), `operand` "a" or "b", times the batch."""
    absent = "n" if operand == "a" else "m"
    return F32_BYTES * math.prod(e for r, e in zip(contraction.roles, contraction.extents) if r != absent)


def k_block_steps(kernel: Kernel, contraction: Contraction, limit: int) -> int:
    """The largest multiple of kc dividing K, of at least half of `limit` and at
    most `limit` steps; 0 when K is no deeper than `limit` or there is none."""
    k = contraction.extents[contraction.primary["k"]]
    blocks = [b for b in range(kernel.kc, limit + 1, kernel.kc) if k % b == 0 and 2 * b >= limit]
    return blocks[-1] if k > limit and blocks else 0


def _tiles_per_row(kernel: Kernel, contraction: Contraction) -> int:
    """The cache tiles of one row of M tiles: N's, times one per batch and unit loop index."""
    m, n, _ = contraction.mnk
    others = math.prod(e for r, e in zip(contraction.roles, contraction.extents) if r != "k") // (m * n)
    return math.ceil(n / (kernel.tn * kernel.nr)) * others


def rows_reusing_weights(kernel: Kernel, contraction: Contraction, cpu: CpuTarget, threads: int) -> Kernel:
    """`kernel` with cache tiles over all of M, or when A is bigger than B as many
    rows tall as half of L2 holds A's rows for, when B is a constant (weights),
    keeping at least two tiles per thread.

    Cache tiles walk N inside M, so each tile row of M streams all of B once:
    weights bigger than the caches came from memory that many times (a 12-layer
    197x768x3072 MLP, 64-row tiles: 4 passes over 226 MB). A tile's rows of A are
    read again for each of its row's N tiles instead: from L2 when they fit (the
    Goto GEMM's mc x K block), else from L3, which is still cheaper than streaming
    B from memory again when B is the bigger operand.
    """
    m, n, k = contraction.mnk
    blocks = math.ceil(m / kernel.mr)
    b_bigger = n >= blocks * kernel.mr
    fit = blocks if b_bigger else cpu.l2_bytes // 2 // (kernel.mr * k * F32_BYTES)
    n_tiles = _tiles_per_row(kernel, contraction)
    for tm in range(min(fit, blocks), kernel.tm, -1):
        tm = _balanced(tm, blocks)
        if math.ceil(blocks / tm) * n_tiles >= 2 * threads:
            return replace(kernel, tm=tm)
    return kernel


def rows_packing_columns_once(kernel: Kernel, contraction: Contraction, cpu: CpuTarget, threads: int) -> Kernel:
    """`kernel` with one row of cache tiles over all of M, when A is a constant
    (weights) whose rows fit in half of L2 and B comes per call, keeping at least
    two tiles per thread.

    A single row of tiles packs its own columns of B in each tile (see
    `packs_b_per_tile`), once and in cache, where it gathers a convolution's im2col
    columns too; with several, B is packed a K block at a time for tiles that span
    all of N, whose blocks outgrow L2 on a large image (a 55x55 image's 3x3
    convolution to 256 filters).
    """
    m, n, k = contraction.mnk
    blocks = math.ceil(m / kernel.mr)
    if blocks * kernel.mr * k * F32_BYTES > cpu.l2_bytes // 2 or _tiles_per_row(kernel, contraction) < 2 * threads:
        return kernel
    return replace(kernel, tm=blocks)


def plan_kernel(contraction: Contraction, choice: KernelChoice, cpu: CpuTarget, parallel_flops: int,
                row: int = 0, threads: int = 1) -> tuple[Kernel, bool]:
    """The kernel `choice` gives `contraction` on `cpu` at `threads`, and whether B is
    packed per cache tile (see `packs_b_per_tile`); else a B packed at run time goes in
    K blocks, and any other deep K is looped over in blocks inside the cache tiles.
    `threads` 0 keeps the choice's cache tile rows (see `rows_reusing_weights`)."""
    kernel = choose_kernel(contraction, choice.register_tile, cpu, choice.k_unroll, choice.cache_tile,
                           parallel_flops, row)
    if contraction.constant[1] and threads:
        kernel = rows_reusing_weights(kernel, contraction, cpu, threads if kernel.parallel else 1)
    elif contraction.constant[0] and threads:
        kernel = rows_packing_columns_once(kernel, contraction, cpu, threads if kernel.parallel else 1)
    if kernel.parallel and not row:  # an image's im2col columns keep their tiles of whole rows
        kernel = tiles_for_threads(kernel, contraction, threads)
    per_tile = kernel.parallel and packs_b_per_tile(contraction, kernel)
    if kernel.parallel and not per_tile and not contraction.constant[1]:
        kernel = k_blocked(kernel, contraction, choice.k_block, cpu)
    if not kernel.k_block:
        kernel = k_tiled(kernel, contraction, choice.k_block, cpu)
    return kernel, per_tile


def tiles_for_threads(kernel: Kernel, contraction: Contraction, threads: int) -> Kernel:
    """`kernel` with narrower cache tiles where it has fewer than `threads`: N's
    panels a tile halved, down to one, so that each thread streams its own part
    of B. A contraction of one tile, a batch of 64 flattened images into 128
    units, otherwise runs on one thread however many there are. Only where B
    is constant weights bigger than A, whose stream the threads then share,
    and each thread's part is worth a split (`SPLIT_TILE_FLOPS`). M's tiles
    stay: split, each would pack B again."""
    if (not contraction.constant[1] or _operand_bytes(contraction, "b") <= _operand_bytes(contraction, "a")
            or contraction.flops < threads * SPLIT_TILE_FLOPS):
        return kernel
    m, n, _ = contraction.mnk
    m_blocks, n_panels = math.ceil(m / kernel.mr), math.ceil(n / kernel.nr)
    while math.ceil(m_blocks / kernel.tm) * _tiles_per_row(kernel, contraction) < threads and kernel.tn > 1:
        kernel = replace(kernel, tn=_balanced(math.ceil(kernel.tn / 2), n_panels))
    return kernel


def packs_b_per_tile(contraction: Contraction, kernel: Kernel) -> bool:
    """Whether B's pack moves into the cache-tile loop: B is no constant and one
    tile spans all of M, so every part of B is packed exactly once."""
    m_loops = [d for d, role in enumerate(contraction.roles) if role == "m"]
    single_m_tile = all(
        math.ceil(contraction.extents[d] / kernel.mr) <= kernel.tm if d == contraction.primary["m"]
        else contraction.extents[d] == 1 for d in m_loops)
    return single_m_tile and not contraction.constant[1]


def _row_aligned(tn: int, nr: int, n: int, row: int, most: int) -> int:
    """The number of nr-blocks per cache tile nearest `tn` (up to twice it) that
    makes each tile whole rows of an image (n = image rows x row) and divides n
    into whole tiles, so a tile's im2col columns are one rectangular window of
    rows and the convolution's activation joins the tile; where none is that
    near, the fewest such blocks up to `most`; `tn` itself when there is none.

    A 152-pixel row is 4.75 panels of 32: whole rows come 19 panels (4 rows)
    at a time. In tiles of 4 panels the ReLU6 after a 16->96 1x1 convolution
    ran as a pass of its own, and the two took 2.4x as long as in tiles of 19."""
    step = row // math.gcd(row, nr)
    fits = [t for t in range(step, 2 * tn + 1, step) if n % (t * nr) == 0]
    if fits:
        return min(fits, key=lambda t: (abs(t - tn), t))
    return next((t for t in range(step, most + 1, step) if n % (t * nr) == 0), tn)


def tuning_signature(contraction: Contraction, threads: int) -> ContractionSignature | None:
    """The key of `contraction`'s records in a tuning database; None inside a
    parallel loop, whose blocks `wafer tune` does not measure (one thread's work)."""
    if in_parallel_loop(contraction.op):
        return None
    return ContractionSignature.of(contraction, image_row(contraction), threads)


def packed_extents(contraction: Contraction, kernel: Kernel) -> list[int]:
    """Loop extents of the packed op's outer loops (m and n counted in register blocks)."""
    blocks = {contraction.primary["m"]: kernel.mr, contraction.primary["n"]: kernel.nr}
    return [math.ceil(e / blocks.get(d, 1)) for d, e in enumerate(contraction.extents)]
