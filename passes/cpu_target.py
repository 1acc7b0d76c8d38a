"""The CPU a `cpu` pipeline compiles for: vector width, vector registers and caches.

Every tile size that depends on the machine (the packed kernel's register
block, direct convolution's accumulator rows, Winograd's tiles side by side,
which copies are wide enough to vectorize) is derived here, from the host's
own features or from a named preset (`cpu{machine=avx2}`, like the WSE target's `machine`),
never assumed.
The JIT always emits code for the host: a preset chooses the strategies, so a
machine can compile (and test) the strategies of another one.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, replace
from pathlib import Path

from torch_mlir import ir

from .pass_base import OptionError, WaferPass

F32_BYTES = 4
INDEX_BYTES = 8  # `index` lowers to i64 on this target


def element_bytes(element_type: ir.Type) -> int:
    """Bytes an element of `element_type` takes in memory: the bindings give
    `index` and complex types no width; an i1 takes a byte."""
    if isinstance(element_type, ir.IndexType):
        return INDEX_BYTES
    if isinstance(element_type, ir.ComplexType):
        return 2 * element_bytes(element_type.element_type)
    return max(1, element_type.width // 8)


@dataclass(frozen=True)
class CpuTarget:
    """One CPU's figures that the strategies depend on."""

    name: str
    vector_bits: int
    vector_registers: int
    l1d_bytes: int
    l2_bytes: int
    l1d_ways: int = 8
    l3_bytes: int = 0  # shared by the cores of one complex; 0 where there is none
    # The most rows of register blocks that read weights streamed from L3 with K
    # whole (see `matmul_plan.k_tiled`); None: measured on this host when a
    # contraction asks (wafer/streamed_weights.py).
    streamed_b_rows: int | None = None

    @property
    def last_level_bytes(self) -> int:
        """The biggest cache's size: L3, or L2 where there is none."""
        return self.l3_bytes or self.l2_bytes

    @property
    def lanes(self) -> int:
        """f32 elements per vector register."""
        return self.vector_bits // (8 * F32_BYTES)

    @property
    def register_tile(self) -> tuple[int, int]:
        """The packed kernel's mr x nr register block: half the vector registers
        hold the accumulators, two vectors wide; the other half hold B's vectors,
        A's broadcasts and the loads in flight. That is 8x32 with AVX-512 (the
        best of the blocks measured on a Cascade Lake) and 4x16 with AVX2, where
        8x32's 32 accumulators spill (bench/kernel_tiles.py measures the
        candidates on the host)."""
        return self.vector_registers // 4, 2 * self.lanes

    @property
    def row_piece_lanes(self) -> int:
        """The most lanes of a row taken as one vector value, an eighth of the
        registers' lanes: longer rows go in pieces (see wafer-vectorize's
        `row_pieces`), or their values spill."""
        return self.vector_registers // 8 * self.lanes

    def rows_in_registers(self, vectors: int) -> int:
        """The most rows of a register block `vectors` wide whose accumulators,
        one row of B's vectors and A's broadcast fit the vector registers."""
        return (self.vector_registers - vectors - 1) // vectors

    def vector_block(self, width: int) -> int:
        """The widest run of whole vectors, a power of two of them, in `width`
        lanes (one vector at least). LLVM keeps a row of one, two, four or eight
        vectors in registers but splits one of three, five or six with shuffles,
        which made such register blocks several times slower (bench/kernel_tiles.py
        times a three-vector block)."""
        return self.lanes * 2 ** max(0, (width // self.lanes).bit_length() - 1)

    def describe(self) -> str:
        return (f"{self.name}: {self.vector_bits}-bit vectors, {self.vector_registers} registers, "
                f"L1d {self.l1d_bytes // 1024} KB {self.l1d_ways}-way, L2 {self.l2_bytes // 1024} KB"
                + (f", L3 {self.l3_bytes // 1024**2} MB" if self.l3_bytes else ""))

    @property
    def fma_chains(self) -> int:
        """Independent multiply-add chains that keep the FMA pipes busy: a 4 to 5
        cycle latency times two pipes on the AVX2 and AVX-512 cores since Skylake
        and Zen 2. AVX2's 4-row register tile over one vector of filters is 4
        chains, and a direct convolution along filters ran slower so than with 8."""
        return 8

    @property
    def direct_conv_accumulators(self) -> int:
        """Vector registers a direct convolution's output row block may take: three
        quarters; the rest hold the input row and the weights."""
        return self.vector_registers * 3 // 4


# Presets: an ISA's registers, with the caches of a common part that has it.
PRESETS = {
    # Intel Cascade Lake: 32 zmm registers, 32 KB 8-way L1d and 1 MB L2 per core,
    # 27.5 MB L3 (a Xeon Gold 6248's).
    "avx512": CpuTarget("avx512", 512, 32, 32 * 1024, 1024 * 1024, 8, 28_160 * 1024),
    # AMD Zen 3: 16 ymm registers, 32 KB 8-way L1d and 512 KB L2 per core, 32 MB L3 per complex.
    "avx2": CpuTarget("avx2", 256, 16, 32 * 1024, 512 * 1024, 8, 32 * 1024**2),
    # Any x86-64: SSE2's 16 xmm registers.
    "sse": CpuTarget("sse", 128, 16, 32 * 1024, 256 * 1024, 8),
    # AArch64 NEON (Cortex-A76): 32 128-bit registers, 64 KB 4-way L1d.
    "neon": CpuTarget("neon", 128, 32, 64 * 1024, 1024 * 1024, 4),
}
TARGET_NAMES = ("host", *PRESETS)


def resolve(name: str) -> CpuTarget:
    """The target named in a pass option: `host` (detected) or a preset."""
    if name not in TARGET_NAMES:
        raise OptionError(f"unknown CPU machine '{name}' (known: {', '.join(TARGET_NAMES)})")
    return host() if name == "host" else PRESETS[name]


@dataclass(frozen=True)
class TargetedPass(WaferPass):
    """A pass whose strategies depend on the CPU: option `machine` names it."""

    machine: str = "host"

    def __post_init__(self):
        resolve(self.machine)  # an unknown name is an option error, before any IR is touched

    @property
    def cpu(self) -> CpuTarget:
        return resolve(self.machine)


@functools.cache
def host() -> CpuTarget:
    """This machine: its ISA from /proc/cpuinfo's flags, its caches from sysfs."""
    isa = preset_for(host_flags(), platform.machine())
    caches = cache_geometry()
    l1d_bytes, l1d_ways = caches.get(1, (isa.l1d_bytes, isa.l1d_ways))
    return replace(isa, name=f"host ({isa.name})", l1d_bytes=l1d_bytes, l1d_ways=l1d_ways or isa.l1d_ways,
                   l2_bytes=caches.get(2, (isa.l2_bytes, None))[0], l3_bytes=caches.get(3, (isa.l3_bytes, None))[0])


def preset_for(flags: set[str], arch: str) -> CpuTarget:
    """The widest preset whose instructions a CPU with these feature flags has."""
    if "avx512f" in flags:
        return PRESETS["avx512"]
    if {"avx2", "fma"} <= flags:
        return PRESETS["avx2"]
    if arch in ("aarch64", "arm64"):
        return PRESETS["neon"]
    return PRESETS["sse"]


@functools.cache
def host_flags() -> set[str]:
    """This machine's feature flags, from /proc/cpuinfo (none where there is no such file)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return parse_cpu_flags(text)


def parse_cpu_flags(cpuinfo: str) -> set[str]:
    """The first processor's feature flags (x86 `flags`, Arm `Features`)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cache_geometry(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[int, tuple[int, int | None]]:
    """Bytes and ways (None where sysfs does not say) of the first core's data
    (or unified) cache at each level."""
    caches = {}
    for index in sorted(root.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = parse_cache_size((index / "size").read_text())
        except (OSError, ValueError):
            continue
        try:
            ways = int((index / "ways_of_associativity").read_text()) or None
        except (OSError, ValueError):
            ways = None
        if kind in ("Data", "Unified"):
            caches[level] = (size, ways)
    return caches


def parse_cache_size(text: str) -> int:
    """sysfs's '48K' or '2048K' (or '1M') in bytes."""
    text = text.strip()
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:].upper(), 1)
    return int(text.rstrip("KkMmGg")) * scale
