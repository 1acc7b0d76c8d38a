"""Machine descriptions of wafer-scale engines, with the public source of every figure.

A `Machine` is a frozen record of one part: the usable PE grid, each PE's SRAM and
FMA rates, and the fabric's link and hop costs. `WSE2` and `WSE3` carry published
figures; `SMALL` is an 8x8 WSE-2 for tests. Make a variant with
`dataclasses.replace(WSE2, width=..., clock_hz=...)`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Literal

# A kernel's datapath: 16-bit (`@fmach`), 16-bit products summed in 32 bits
# (`@fmachs`), or 32-bit (`@fmacs`).
Dtype = Literal["fp16", "mixed", "fp32"]

# Bytes of the widest element a kernel's SRAM ports move; bf16 and cb16 run on the
# fp16 datapath at the fp16 rate.
DTYPE_BYTES: Mapping[str, int] = MappingProxyType({"fp16": 2, "mixed": 4, "fp32": 4})

_SDK = "Cerebras SDK docs"
_SDK_APPENDIX = (
    f"{_SDK}, CSL Language Appendix 'SIMD Mode' (sdk.cerebras.net/csl/language/appendix)"
)
_SDK_CONCEPTS = f"{_SDK}, 'A Conceptual View' (sdk.cerebras.net/computing-with-cerebras)"
_LIE_2022 = "S. Lie, 'Cerebras Architecture Deep Dive', Hot Chips 34 (2022)"
_LUCZYNSKI_2024 = (
    "P. Luczynski et al., 'Near-Optimal Wafer-Scale Reduce', HPDC 2024 (arXiv:2404.15888)"
)
# SDK-simulator instruction log of the SDK's gemm-collectives_2d kernel on WSE-2 (P=4,
# Mt=Kt=Nt=14): one @fmacs per tile row, inside a loop with a scalar load of B.
_ALCF_2024 = (
    "Argonne ALCF, AI accelerators tutorial at SC24 (argonne-lcf/AIaccelerators-SC24-tutorial, "
    "Cerebras): 'Each WSE is housed within a CS system, which provides 1.2 Tbps I/O to and "
    "from the chip'"
)
_FMACS_LOG = (
    "Wang-oss-tech/csl-experiments, gemm/summa_manual_multicasting_pipelined_doubleColor/"
    "REFINED_COMPUTE_MODEL.md (SDK simulator, WSE-2)"
)

_WSE2_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "width": f"{_SDK}: a CS-2 program is compiled with --fabric-dims=757,996 "
        "--fabric-offsets=4,1; the memcpy host-I/O halo takes 7 columns and 2 rows, "
        "leaving 750x994 PEs",
        "height": "see width",
        "sram_bytes": f"{_SDK_APPENDIX}: 'The 48 KB of memory in a PE'",
        "sram_banks": f"{_SDK_APPENDIX}: '8 banks of 6 KB each'",
        "bank_bytes": f"{_SDK_APPENDIX}: '8 banks of 6 KB each'",
        "sram_reads_per_cycle": f"{_SDK_APPENDIX}; {_LIE_2022}",
        "sram_writes_per_cycle": f"{_SDK_APPENDIX}; {_LIE_2022}",
        "sram_port_bytes": f"{_LIE_2022}: two 64-bit reads and one 64-bit write per "
        "cycle. DISAGREES with the SDK appendix ('two 32-bit reads and one 32-bit "
        "write'); 64 bits is the width that feeds the SDK's own SIMD-4 @fmach",
        "fp32_fmas_per_cycle": f"{_SDK_APPENDIX}: @fmacs (fp32 FMAC) is absent from the "
        "SIMD-width table, so it retires one element per cycle",
        "fp16_fmas_per_cycle": f"{_SDK_APPENDIX}: @fmach SIMD width 4 on WSE-2; "
        f"{_LIE_2022}: '4 x FP16 FMAC', 64-bit datapath",
        "mixed_fmas_per_cycle": f"{_SDK_APPENDIX}: @fmachs (16-bit multiply, 32-bit "
        "add) SIMD width 2 on WSE-2",
        "fp32_add_width": f"{_SDK_APPENDIX}: @fadds, @fsubs, @fnegs, @fabss, @fmovs and "
        "@mov32 SIMD width 2 on WSE-2",
        "fp32_max_width": f"{_SDK_APPENDIX}: @fmaxs SIMD width 1 on WSE-2",
        "fp16_add_width": f"{_SDK_APPENDIX}: @faddh, @fsubh, @fmulh, @fnegh, @fabsh, @fmovh "
        "and @mov16 SIMD width 4 on WSE-2",
        "fp16_max_width": f"{_SDK_APPENDIX}: @fmaxh SIMD width 1 on WSE-2",
        "mixed_add_width": f"{_SDK_APPENDIX}: @faddhs (16-bit operands, 32-bit sum) SIMD "
        "width 2 on WSE-2",
        "convert_width": f"{_SDK_APPENDIX}: @fh2s and @fs2h SIMD width 1 on WSE-2",
        "wavelet_bytes": f"{_SDK_CONCEPTS}: '32-bit messages, called wavelets'",
        "link_wavelets_per_cycle": f"{_SDK_CONCEPTS}: wavelets 'can be sent to or "
        "received by neighboring PEs in a single clock cycle'; all colors share one "
        "physical channel",
        "hop_cycles": f"{_SDK_CONCEPTS} (one cycle to a neighbour); {_LUCZYNSKI_2024} "
        "model distance as one cycle per hop",
        "ramp_latency_cycles": f"the T_R term of {_LUCZYNSKI_2024} (router-to-core "
        "latency paid by every dependent step); its value is not public: 2 is an "
        "assumption",
        "host_io_bytes_per_second": f"{_ALCF_2024} (12 x 100 GbE); Cerebras' CS-3 "
        "specification lists the same 1.2 Tb/s system I/O",
        "colors": f"{_SDK}: routable color IDs 0-23",
        "reserved_colors": f"{_SDK}, memcpy framework: colors kept for host I/O",
        "clock_hz": "850 MHz is the project's conservative default; "
        f"{_LIE_2022} states 1.1 GHz; the advertised 20 PB/s SRAM bandwidth over "
        "850,000 cores (AnandTech 2021-04-20) at 24 B/cycle per PE implies about 1 GHz",
        "vector_startup_cycles": f"measured, {_FMACS_LOG}: a 14-element @fmacs takes "
        "15 cycles, 1 to issue and 1 per element",
        "row_loop_cycles": f"measured, {_FMACS_LOG}: per @fmacs call, DSD offset "
        "increment 5 + loop control 8 + branch 3 + pipeline stalls 7",
        "scalar_operand_cycles": f"measured, {_FMACS_LOG}: per @fmacs call, scalar load "
        "8 + index arithmetic 12 for the scalar operand read from SRAM",
        "kernel_setup_cycles": f"measured, {_FMACS_LOG}: DSD configuration and loop "
        "set-up once per local GEMM call (per SUMMA step)",
    }
)

_WSE3_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        **_WSE2_SOURCES,
        "width": f"{_SDK}: a CS-3 program is compiled with --arch=wse3 "
        "--fabric-dims=762,1172 --fabric-offsets=4,1; less the memcpy halo (7 columns, "
        "2 rows) that leaves 755x1170 PEs",
        "fp32_fmas_per_cycle": f"{_SDK_APPENDIX}: @fmacs is absent from the WSE-3 "
        "SIMD-width table too",
        "fp16_fmas_per_cycle": f"{_SDK_APPENDIX}: @fmach SIMD width 8 on WSE-3; The Next "
        "Platform 2024-03-14: 'eight-wide FP16 SIMD math unit'",
        "mixed_fmas_per_cycle": f"{_SDK_APPENDIX}: @fmachs SIMD width 4 on WSE-3",
        "fp32_add_width": f"{_SDK_APPENDIX}: @fadds and the other 32-bit moves and adds "
        "SIMD width 4 on WSE-3",
        "fp32_max_width": f"{_SDK_APPENDIX}: @fmaxs SIMD width 4 on WSE-3",
        "fp16_add_width": f"{_SDK_APPENDIX}: @faddh and the other 16-bit moves, adds and "
        "multiplies SIMD width 8 on WSE-3",
        "fp16_max_width": f"{_SDK_APPENDIX}: @fmaxh SIMD width 8 on WSE-3",
        "mixed_add_width": f"{_SDK_APPENDIX}: @faddhs SIMD width 4 on WSE-3",
        "convert_width": f"{_SDK_APPENDIX}: @fh2s and @fs2h SIMD width 4 on WSE-3",
        "clock_hz": "not disclosed by Cerebras (The Next Platform 2024-03-14); we keep "
        "WSE-2's 850 MHz; 21 PB/s SRAM over 900,000 cores implies about 1 GHz",
        **{
            name: f"assumed equal to WSE-2 (no WSE-3 instruction log is public): "
            f"{_WSE2_SOURCES[name]}"
            for name in ("vector_startup_cycles", "row_loop_cycles",
                         "scalar_operand_cycles", "kernel_setup_cycles")
        },
    }
)

# Costs that a what-if machine may set to zero; every other number must be positive.
_MAY_BE_ZERO = frozenset(
    {
        "hop_cycles",
        "ramp_latency_cycles",
        "reserved_colors",
        "vector_startup_cycles",
        "row_loop_cycles",
        "scalar_operand_cycles",
        "kernel_setup_cycles",
    }
)


@dataclass(frozen=True)
class Machine:
    """One wafer-scale engine: the usable PE grid and the costs the simulator charges.

    The grid is `width` columns by `height` rows of PEs, usable by a program (host-I/O
    halo excluded). `sources` names, per field, where its value comes from. The less
    obvious fields:

    - sram_port_bytes: width of each of the per-cycle SRAM reads and writes.
    - ramp_latency_cycles: router <-> core latency, paid twice by every dependent step
      of a reduction (a wavelet goes up to the core, is added, and comes back down).
    - vector_startup_cycles: issue cost of each vector (DSD) instruction.
    - row_loop_cycles: the loop around a kernel's DSD instructions, per instruction
      (one per tile row): offset increment, counter, branch, stalls.
    - scalar_operand_cycles: per instruction with an operand read as a scalar (the
      A element of an AXPY), its load and address arithmetic.
    - kernel_setup_cycles: DSD and loop set-up, once per local kernel call.
    - host_io_bytes_per_second: the system's I/O to and from the wafer. Data that
      enters or leaves the wafer (inputs, results, weights streamed in, what a host
      op reads) moves no faster than this, however many edge links it spreads over.

    Receiving from the fabric runs on its own microthread, so it costs no datapath
    cycles here: it is the ramp term of a communication phase.
    """

    name: str
    width: int
    height: int
    sram_bytes: int = 48 * 1024
    sram_banks: int = 8
    bank_bytes: int = 6 * 1024
    sram_reads_per_cycle: int = 2
    sram_writes_per_cycle: int = 1
    sram_port_bytes: int = 8
    fp32_fmas_per_cycle: int = 1
    fp16_fmas_per_cycle: int = 4
    mixed_fmas_per_cycle: int = 2
    fp32_add_width: int = 2
    fp32_max_width: int = 1
    fp16_add_width: int = 4
    fp16_max_width: int = 1
    mixed_add_width: int = 2
    convert_width: int = 1
    wavelet_bytes: int = 4
    link_wavelets_per_cycle: int = 1
    hop_cycles: int = 1
    ramp_latency_cycles: int = 2
    colors: int = 24
    reserved_colors: int = 3
    clock_hz: float = 850e6
    host_io_bytes_per_second: float = 150e9
    vector_startup_cycles: int = 1
    row_loop_cycles: int = 23
    scalar_operand_cycles: int = 20
    kernel_setup_cycles: int = 120
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in ("name", "sources"):
                continue
            value = getattr(self, f.name)
            minimum = 0 if f.name in _MAY_BE_ZERO else 1
            if f.type is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(
                    f"Machine {self.name!r}: {f.name} must be an int, got {value!r}"
                )
            if not value >= minimum:
                raise ValueError(
                    f"Machine {self.name!r}: {f.name} must be >= {minimum}, got {value!r}"
                )
        if self.sram_banks * self.bank_bytes != self.sram_bytes:
            raise ValueError(
                f"Machine {self.name!r}: {self.sram_banks} banks x {self.bank_bytes} B "
                f"!= sram_bytes {self.sram_bytes}"
            )
        if self.reserved_colors >= self.colors:
            raise ValueError(
                f"Machine {self.name!r}: reserved_colors ({self.reserved_colors}) leaves "
                f"no usable color out of {self.colors}"
            )
        unknown = set(self.sources) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(
                f"Machine {self.name!r}: sources name unknown fields {sorted(unknown)}"
            )
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    @property
    def num_pes(self) -> int:
        return self.width * self.height

    @property
    def usable_colors(self) -> int:
        """Colors (virtual channels) left for the program after host I/O."""
        return self.colors - self.reserved_colors

    def fmas_per_cycle(self, dtype: Dtype) -> int:
        """FMAs one PE retires per cycle at full SIMD width."""
        if dtype == "fp16":
            return self.fp16_fmas_per_cycle
        if dtype == "mixed":
            return self.mixed_fmas_per_cycle
        if dtype == "fp32":
            return self.fp32_fmas_per_cycle
        raise ValueError(f"unsupported dtype {dtype!r}; expected one of {sorted(DTYPE_BYTES)}")

    def simd_width(self, kind: str, dtype: Dtype) -> int:
        """Elements a cycle of one DSD instruction of `kind` on `dtype`'s datapath
        (the SDK's SIMD-width table): "fma" (`@fmacs`, `@fmach`, `@fmachs`), "add"
        (adds, subtracts, negations, absolute values, moves; and a 16-bit
        multiply, `@fmulh`), "mul" (a 32-bit multiply: `@fmuls` is absent from the
        table, one a cycle), "max" (`@fmaxs`, `@fmaxh`), "convert" (`@fh2s`,
        `@fs2h`). Any other op (a compare, a select, a divide, a transcendental)
        has no builtin of its own: it is charged the FMA's width."""
        if kind == "add":
            return {"fp32": self.fp32_add_width, "fp16": self.fp16_add_width, "mixed": self.mixed_add_width}[dtype]
        if kind == "mul":
            return self.fp16_add_width if dtype == "fp16" else self.fp32_fmas_per_cycle
        if kind == "max":
            return self.fp16_max_width if dtype == "fp16" else self.fp32_max_width
        if kind == "convert":
            return self.convert_width
        return self.fmas_per_cycle(dtype)

    def peak_flops_per_cycle(self, dtype: Dtype) -> int:
        """Whole-grid peak: 2 FLOPs per FMA on every PE."""
        return 2 * self.fmas_per_cycle(dtype) * self.num_pes

    @property
    def host_io_bytes_per_cycle(self) -> float:
        return self.host_io_bytes_per_second / self.clock_hz

    def peak_flops_per_second(self, dtype: Dtype) -> float:
        return self.peak_flops_per_cycle(dtype) * self.clock_hz


WSE2 = Machine(name="wse2", width=750, height=994, sources=_WSE2_SOURCES)
WSE3 = replace(
    WSE2, name="wse3", width=755, height=1170, fp16_fmas_per_cycle=8, mixed_fmas_per_cycle=4,
    fp32_add_width=4, fp32_max_width=4, fp16_add_width=8, fp16_max_width=8, mixed_add_width=4, convert_width=4,
    sources=_WSE3_SOURCES
)
SMALL = replace(WSE2, name="small", width=32, height=32)

PRESETS: Mapping[str, Machine] = MappingProxyType({m.name: m for m in (WSE2, WSE3, SMALL)})


def kernel_costs_of(fabric_name: str) -> Machine:
    """The preset whose kernel costs apply on the fabric named `fabric_name`: a
    custom fabric's kernels cost as a WSE-2's."""
    return PRESETS.get(fabric_name, WSE2)


def get_machine(machine: str | Machine) -> Machine:
    """Return the preset named `machine` ("wse2", "wse3", "small"), or `machine` itself."""
    if isinstance(machine, Machine):
        return machine
    try:
        return PRESETS[machine.lower()]
    except KeyError:
        raise ValueError(f"unknown machine {machine!r}; presets are {sorted(PRESETS)}") from None
