"""The packed kernel's candidates for one contraction, and a cost model that ranks them.

The model is a rough relative time, not a prediction in ms: the padded work
(M and N rounded up to the register block), a penalty when too few
accumulators hide the FMA latency or the block loads more than it computes,
a penalty when a K block of B's panel misses L1 or a cache tile's panels miss
L2, and the threads' load imbalance over cache tiles. It only orders what to
measure first. Measurements correct it the simplest way: each unmeasured
candidate's estimate is scaled by the measured/estimated ratio of the
measured candidate with the same register tile (the model's biggest
unknown), or else by the median ratio of all measured ones.
"""

from __future__ import annotations

import itertools
import math
import statistics

from ..passes.cpu_target import F32_BYTES, CpuTarget
from ..passes.kernel_defaults import CACHE_TILE, K_BLOCK, K_UNROLL, PARALLEL_FLOPS
from ..passes.matmul_contraction import Contraction
from ..passes.matmul_plan import Kernel, issue_overhead, plan_kernel
from .database import KernelChoice, Measurement
from .signature import ContractionSignature

CACHE_ROWS = (32, 64, 128)
CACHE_COLS = (64, 128, 256)
K_UNROLLS = (4, 8, 16)
K_BLOCKS = (64, 128, 256, 0)  # 0: K whole, no blocks (see matmul_plan.k_tiled)
MAX_B_VECTORS = 4  # nr up to four vectors wide


def default_choice(cpu: CpuTarget) -> KernelChoice:
    """The kernel the cpu pipeline picks with no tuning."""
    return KernelChoice(cpu.register_tile, CACHE_TILE, K_UNROLL, K_BLOCK)


def register_tiles(cpu: CpuTarget) -> list[tuple[int, int]]:
    """Every mr x nr block, nr a power of two of vectors (see `CpuTarget.vector_block`),
    whose accumulators, one row of B's vectors and A's broadcast fit the vector
    registers, with at least a quarter of them accumulating."""
    tiles = []
    for vectors in (2**i for i in range(MAX_B_VECTORS.bit_length())):
        for mr in range(1, cpu.rows_in_registers(vectors) + 1):
            if 4 * mr * vectors >= cpu.vector_registers:
                tiles.append((mr, vectors * cpu.lanes))
    return tiles


def shape_of(signature: ContractionSignature) -> Contraction:
    """The contraction of a signature's shape (no op): what measure.py builds and times."""
    if signature.batch > 1:
        return Contraction(None, ["b", "m", "n", "k"], [signature.batch, signature.m, signature.n, signature.k],
                           [[0, 1, 3], [0, 3, 2], [0, 1, 2]], {"m": 1, "n": 2, "k": 3},
                           (False, signature.b_constant))
    return Contraction(None, ["m", "n", "k"], [signature.m, signature.n, signature.k],
                       [[0, 2], [2, 1], [0, 1]], {"m": 0, "n": 1, "k": 2}, (False, signature.b_constant))


def candidates(signature: ContractionSignature, cpu: CpuTarget) -> list[KernelChoice]:
    """One choice per distinct kernel (choices that give `signature` the same
    tiles are measured once), the default first."""
    contraction = shape_of(signature)
    choices = [default_choice(cpu)] + [
        KernelChoice(tile, cache, unroll, block)
        for tile, cache, unroll, block in itertools.product(
            register_tiles(cpu), itertools.product(CACHE_ROWS, CACHE_COLS), K_UNROLLS,
            K_BLOCKS)
        if cache[0] >= tile[0] and cache[1] >= tile[1]
    ]
    distinct = {}
    for choice in choices:
        distinct.setdefault(_kernel(contraction, choice, cpu, signature.threads), choice)
    return list(distinct.values())


def _kernel(contraction: Contraction, choice: KernelChoice, cpu: CpuTarget, threads: int) -> Kernel:
    return plan_kernel(contraction, choice, cpu, PARALLEL_FLOPS, 0, threads)[0]


def estimate(signature: ContractionSignature, choice: KernelChoice, cpu: CpuTarget) -> float:
    """The model's relative time of `choice` (see the module docstring)."""
    contraction = shape_of(signature)
    kernel = _kernel(contraction, choice, cpu, signature.threads)
    m, n, k = signature.m, signature.n, signature.k
    padded = math.ceil(m / kernel.mr) * kernel.mr * math.ceil(n / kernel.nr) * kernel.nr
    work = signature.batch * padded * k
    unroll = 1 + 0.5 / kernel.kc  # the K loop's own overhead
    depth = kernel.k_tile or kernel.k_block or k
    l1 = 1.0 if depth * kernel.nr * F32_BYTES <= cpu.l1d_bytes else 1.25
    l2 = 1.0 if depth * kernel.tn * kernel.nr * F32_BYTES <= cpu.l2_bytes else 1.3
    threads = signature.threads if kernel.parallel else 1
    tiles = signature.batch * math.ceil(m / (kernel.tm * kernel.mr)) * math.ceil(n / (kernel.tn * kernel.nr))
    imbalance = math.ceil(tiles / threads) * threads / tiles
    return work * issue_overhead(kernel.mr, kernel.nr, cpu) * unroll * l1 * l2 * imbalance / threads


def rank(signature: ContractionSignature, cpu: CpuTarget, measured: list[Measurement]) -> list[KernelChoice]:
    """The candidates not yet measured, most promising first, by the model
    corrected with `measured` (see the module docstring)."""
    done = {m.choice: m.ratio * estimate(signature, default_choice(cpu), cpu) / estimate(signature, m.choice, cpu)
            for m in measured}
    by_tile = {}
    for choice, correction in done.items():
        by_tile.setdefault(choice.register_tile, []).append(correction)
    overall = statistics.median(done.values()) if done else 1.0

    def corrected(choice: KernelChoice) -> float:
        scale = statistics.median(by_tile[choice.register_tile]) if choice.register_tile in by_tile else overall
        return estimate(signature, choice, cpu) * scale

    return sorted((c for c in candidates(signature, cpu) if c not in done), key=corrected)
