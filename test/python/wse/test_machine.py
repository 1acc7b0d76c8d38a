"""Machine presets, derived figures and validation."""

import dataclasses

import pytest

from wafer.wse_target.machine import SMALL, WSE2, WSE3, Machine, get_machine


def test_wse2_published_figures():
    assert (WSE2.width, WSE2.height) == (750, 994)
    assert WSE2.sram_bytes == 48 * 1024 == WSE2.sram_banks * WSE2.bank_bytes
    assert (WSE2.sram_reads_per_cycle, WSE2.sram_writes_per_cycle) == (2, 1)
    assert (WSE2.fp16_fmas_per_cycle, WSE2.fp32_fmas_per_cycle) == (4, 1)
    assert (WSE2.wavelet_bytes, WSE2.link_wavelets_per_cycle, WSE2.hop_cycles) == (4, 1, 1)
    assert (WSE2.colors, WSE2.usable_colors) == (24, 21)
    assert WSE2.clock_hz == 850e6


def test_wse3_doubles_fp16_simd_on_a_larger_grid():
    assert (WSE3.width, WSE3.height) == (755, 1170)
    assert (WSE3.fp16_fmas_per_cycle, WSE3.fp32_fmas_per_cycle) == (8, 1)
    assert "762,1172" in WSE3.sources["width"]


# The SDK's SIMD-width table (CSL appendix, 'SIMD Mode'), WSE-2 then WSE-3, of the
# builtin each kind of instruction runs as; a 32-bit FMA or multiply is not in it.
SDK_WIDTHS = {
    ("fma", "fp32"): (1, 1), ("fma", "fp16"): (4, 8), ("fma", "mixed"): (2, 4),  # @fmacs, @fmach, @fmachs
    ("add", "fp32"): (2, 4), ("add", "fp16"): (4, 8), ("add", "mixed"): (2, 4),  # @fadds, @faddh, @faddhs
    ("mul", "fp32"): (1, 1), ("mul", "fp16"): (4, 8),  # @fmuls (absent), @fmulh
    ("max", "fp32"): (1, 4), ("max", "fp16"): (1, 8),  # @fmaxs, @fmaxh
    ("convert", "fp32"): (1, 4),  # @fh2s, @fs2h
    ("other", "fp16"): (4, 8),  # no builtin: charged the FMA's width
}


@pytest.mark.parametrize("kind, dtype", SDK_WIDTHS)
def test_each_instruction_runs_at_its_sdk_simd_width(kind, dtype):
    assert (WSE2.simd_width(kind, dtype), WSE3.simd_width(kind, dtype)) == SDK_WIDTHS[kind, dtype]


def test_every_preset_field_has_a_source():
    numbers = {f.name for f in dataclasses.fields(Machine)} - {"name", "sources"}
    for machine in (WSE2, WSE3):
        assert set(machine.sources) == numbers


def test_peak():
    # 750 * 994 PEs * 4 FMAs * 2 FLOPs = 5,964,000 FLOPs per cycle.
    assert WSE2.peak_flops_per_cycle("fp16") == 5_964_000
    assert WSE2.peak_flops_per_second("fp16") == 5_964_000 * 850e6
    assert SMALL.peak_flops_per_cycle("fp32") == 32 * 32 * 2


def test_get_machine():
    assert get_machine("WSE2") is WSE2
    assert get_machine("small") is SMALL
    custom = dataclasses.replace(WSE2, width=16, height=4, clock_hz=1.1e9)
    assert get_machine(custom) is custom
    assert custom.num_pes == 64 and custom.peak_flops_per_second("fp32") == 128 * 1.1e9
    with pytest.raises(ValueError, match="unknown machine 'wse9'"):
        get_machine("wse9")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 0}, "width must be >= 1"),
        ({"height": 2.5}, "height must be an int"),
        ({"bank_bytes": 4096}, "8 banks x 4096 B != sram_bytes 49152"),
        ({"reserved_colors": 24}, "leaves no usable color"),
        ({"clock_hz": 0.0}, "clock_hz must be >= 1"),
        ({"sources": {"flux": "?"}}, "unknown fields \\['flux'\\]"),
    ],
)
def test_invalid_machine(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SMALL, **change)


def test_unknown_dtype():
    with pytest.raises(ValueError, match="unsupported dtype 'fp8'"):
        WSE2.fmas_per_cycle("fp8")
