"""The CPU target description: host detection, presets, and every preset's
strategies compiled and checked against PyTorch on whatever host runs the tests
(the JIT emits host code; the preset only picks tile shapes)."""

import re

import pytest
import torch
from torch_reference import compile_checked

import wafer
from wafer.examples.models import EXAMPLES
from wafer.passes import cpu_target
from wafer.passes.cpu_target import PRESETS

ZEN3_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 avx f16c avx2 bmi2
"""
ICELAKE_FLAGS = {"sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"}
GRAVITON_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 atomics\n"


def test_flags_come_from_the_first_processor():
    assert cpu_target.parse_cpu_flags(ZEN3_CPUINFO) == {"fpu", "sse", "sse2", "ssse3", "fma", "sse4_1", "avx",
                                                         "f16c", "avx2", "bmi2"}
    assert "asimd" in cpu_target.parse_cpu_flags(GRAVITON_CPUINFO)
    assert cpu_target.parse_cpu_flags("processor : 0\n") == set()


@pytest.mark.parametrize("flags,arch,preset", [
    (cpu_target.parse_cpu_flags(ZEN3_CPUINFO), "x86_64", "avx2"),
    (ICELAKE_FLAGS, "x86_64", "avx512"),
    ({"sse2", "avx"}, "x86_64", "sse"),           # AVX without AVX2 and FMA: no 256-bit FMAs
    ({"avx2"}, "x86_64", "sse"),
    (cpu_target.parse_cpu_flags(GRAVITON_CPUINFO), "aarch64", "neon"),
])
def test_the_widest_preset_the_flags_allow(flags, arch, preset):
    assert cpu_target.preset_for(flags, arch) is PRESETS[preset]


@pytest.mark.parametrize("text,size", [("48K", 48 * 1024), ("2048K\n", 2 << 20), ("1M", 1 << 20), ("512", 512)])
def test_cache_sizes_in_sysfs_notation(text, size):
    assert cpu_target.parse_cache_size(text) == size


def test_cache_sizes_of_data_and_unified_caches_only(tmp_path):
    for index, (kind, level, size) in enumerate([("Data", 1, "48K"), ("Instruction", 1, "32K"),
                                                 ("Unified", 2, "1280K"), ("Unified", 3, "55296K")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "type").write_text(kind + "\n")
        (folder / "level").write_text(f"{level}\n")
        (folder / "size").write_text(size + "\n")
    sizes = {level: size for level, (size, _) in cpu_target.cache_geometry(tmp_path).items()}
    assert sizes == {1: 48 * 1024, 2: 1280 * 1024, 3: 55296 * 1024}
    assert cpu_target.cache_geometry(tmp_path / "missing") == {}


def test_cache_ways_where_sysfs_gives_them(tmp_path):
    """The L1d's ways, where sysfs gives them, are part of the host's description."""
    for index, (kind, level, size, ways) in enumerate([("Data", 1, "48K", "12"), ("Unified", 2, "2048K", None)]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "type").write_text(kind + "\n")
        (folder / "level").write_text(f"{level}\n")
        (folder / "size").write_text(size + "\n")
        if ways:
            (folder / "ways_of_associativity").write_text(ways + "\n")
    assert cpu_target.cache_geometry(tmp_path) == {1: (48 * 1024, 12), 2: (2048 * 1024, None)}


def test_host_is_one_of_the_presets_with_its_own_caches():
    host = cpu_target.host()
    preset = PRESETS[host.name.removeprefix("host (").removesuffix(")")]
    assert (host.vector_bits, host.vector_registers) == (preset.vector_bits, preset.vector_registers)
    assert host.l1d_bytes > 0 and host.l2_bytes > host.l1d_bytes
    assert host.last_level_bytes >= host.l2_bytes


def test_last_level_cache_is_l3_or_else_l2(tmp_path):
    """L3 from sysfs where it lists one; a preset without L3 (NEON's Cortex-A76)
    has L2 as its last level, which wafer-fuse-inverted-residual's rule reads."""
    for index, (level, size) in enumerate([(1, "32K"), (2, "1024K"), (3, "32768K")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        for name, text in (("type", "Data" if level == 1 else "Unified"), ("level", str(level)), ("size", size)):
            (folder / name).write_text(text + "\n")
    assert cpu_target.cache_geometry(tmp_path)[3] == (32 * 1024**2, None)
    assert PRESETS["avx2"].last_level_bytes == 32 * 1024**2
    assert PRESETS["neon"].last_level_bytes == PRESETS["neon"].l2_bytes == 1024**2


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_register_block_and_its_operands_fit_the_registers(name):
    """The accumulators, one row of B's vectors and A's broadcast all live in registers."""
    target = PRESETS[name]
    mr, nr = target.register_tile
    assert nr % target.lanes == 0
    assert mr * nr // target.lanes + nr // target.lanes + 1 <= target.vector_registers
    assert target.direct_conv_accumulators < target.vector_registers


def test_register_blocks_of_avx512_and_avx2():
    assert PRESETS["avx512"].register_tile == (8, 32)
    assert PRESETS["avx2"].register_tile == (4, 16)


def test_unknown_machine_is_a_clear_error():
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(torch.nn.Linear(4, 4), (torch.randn(1, 4),), machine="avx1024")
    assert str(info.value) == "error: unknown CPU machine 'avx1024' (known: host, avx512, avx2, sse, neon)"


@pytest.mark.parametrize("machine", ["avx2", "avx512"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_match_pytorch_on_each_preset(name, machine):
    model, inputs = EXAMPLES[name].build(3)
    compiled = compile_checked(model, inputs, machine=machine, threads=2)
    report = compiled.compile_report
    assert report.machine.startswith(f"{machine}: {PRESETS[machine].vector_bits}-bit vectors")
    target = PRESETS[machine]
    blocks = [tuple(map(int, re.search(r"register block (\d+)x(\d+)", s).groups()))
              for s in report.strategies if s.startswith("packed matmul")]
    assert blocks
    for rows, columns in blocks:  # the accumulators, a row of B and a broadcast fit the registers
        vectors = columns // target.lanes
        assert columns % target.lanes == 0 and rows * vectors + vectors + 1 <= target.vector_registers, (rows, columns)


@pytest.mark.parametrize("machine", ["sse", "neon"])
def test_four_lane_presets_match_pytorch(machine):
    """128-bit vectors: 4-lane register blocks, im2col rows and Winograd tiles."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Conv2d(16, 8, 3, padding=1, groups=2), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 12 * 12, 10)).eval()
    compiled = compile_checked(model, (torch.randn(2, 16, 12, 12),), machine=machine)
    assert any("register block" in s for s in compiled.compile_report.strategies)
