"""The report: derived totals, the text table, the heatmap PNG and the Perfetto trace."""

import dataclasses
import json

import numpy as np
import pytest

from wafer.wse_target.machine import SMALL as PRESET_SMALL, WSE2
from wafer.wse_target.report import OpRow, Report, _block_max

SMALL = dataclasses.replace(PRESET_SMALL, width=8, height=8)  # the 8x8 fabric these figures assume


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_report() -> Report:
    ops = [
        OpRow("matmul", "matmul", (0, 0, 8, 4), 600, 300, 256_000, 0),
        OpRow("relu", "elementwise", (0, 4, 8, 4), 250, 0, 0, 1000),
    ]
    busy = np.zeros((8, 8))
    busy[:4], busy[4:] = 900, 250
    sram = np.full((8, 8), 1024)
    sram[2, 3] = 12_288
    return Report(SMALL, ops, busy, sram, np.arange(64.0).reshape(8, 8))


def test_totals():
    report = small_report()
    assert report.cycles == 1250  # relu ends last, at 1000 + 250
    assert report.seconds == 1250 / 850e6
    assert report.flops == 256_000
    assert report.flops_per_second == 256_000 / (1250 / 850e6)
    # Peak on 64 PEs at SIMD-4 fp16 is 512 FLOPs a cycle: 640,000 over 1250 cycles.
    assert report.peak_fraction == 0.4
    assert report.sram_high_water_max == 12_288


def test_pes_in_use_counts_each_pe_once():
    assert small_report().pes_in_use == 64  # two disjoint 8x4 halves
    ops = [OpRow("a", "summa", (0, 0, 4, 4), 1, 0, 0, 0),
           OpRow("b", "summa", (2, 2, 4, 4), 1, 0, 0, 1)]  # overlap 2x2
    grid = np.zeros((8, 8))
    assert Report(SMALL, ops, grid, grid, grid).pes_in_use == 16 + 16 - 4
    assert Report(SMALL, [], grid, grid, grid).pes_in_use == 0


def test_table():
    table = small_report().table()
    assert "small: 8x8 PEs at 0.85 GHz" in table
    assert "cycles      1,250 (1.47 us)" in table
    assert "40.0% of fp16 peak" in table
    assert "12,288 of 49,152 B per PE at high water (25.0%)" in table
    matmul = next(line for line in table.splitlines() if line.startswith("matmul"))
    # Its phases, and its share of the inference (the period, unpipelined).
    assert matmul.split()[-5:] == ["600", "66.7%", "300", "33.3%", "72.0%"]


def test_rates_name_what_a_call_computes():
    """One call at a time, a call per latency; pipelined, one per stage time."""
    report = small_report()
    assert f"rate        {850e6 / 1250:,.1f} inferences/s, one call at a time" in report.table()
    assert "every stage" not in report.table()
    pipelined = dataclasses.replace(report, pipeline_throughput=850e6 / 900)
    table = pipelined.table("token")
    assert f"rate        {850e6 / 1250:,.1f} tokens/s, one call at a time" in table
    assert f"pipeline    {850e6 / 900:,.1f} tokens/s, a call in every stage" in table


def test_arrays_must_match_the_grid():
    with pytest.raises(ValueError, match=r"link_load has shape \(4, 4\), expected"):
        Report(SMALL, [], np.zeros((8, 8)), np.zeros((8, 8)), np.zeros((4, 4)))


def test_heatmap_is_a_png(tmp_path):
    from matplotlib.image import imread

    path = tmp_path / "heat.png"
    small_report().save_heatmap(path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, channels = imread(path).shape
    assert width > height > 0 and channels == 4


def test_full_wafer_heatmap(tmp_path):
    grid = (WSE2.height, WSE2.width)
    op = OpRow("gemm", "matmul", (0, 0, WSE2.width, WSE2.height), 10, 5, 1e9, 0)
    busy = np.random.default_rng(0).uniform(0, 15, grid)
    report = Report(WSE2, [op], busy, np.zeros(grid), np.ones(grid))
    report.save_heatmap(tmp_path / "wafer.png")
    assert (tmp_path / "wafer.png").read_bytes()[:8] == PNG_SIGNATURE


def test_block_max_keeps_hot_spots():
    grid = np.zeros((5, 2500))
    grid[4, 2499] = 7.0
    small = _block_max(grid, 1000)  # blocks of 3x3, edge-padded
    assert small.shape == (2, 834)
    assert small[1, 833] == 7.0 and small.sum() == 7.0


def test_trace(tmp_path):
    path = tmp_path / "trace.json"
    small_report().save_trace(path)
    events = json.loads(path.read_text())["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    # matmul: op + comm + compute; relu: op + compute (empty phases are skipped).
    assert [e["name"] for e in slices] == ["matmul", "comm", "compute", "relu", "compute"]
    us = 1e6 / 850e6
    comm, compute = slices[1:3]
    assert (comm["tid"], comm["ts"], comm["dur"]) == (0, 0, 300 * us)
    assert (compute["ts"], compute["dur"]) == (300 * us, 600 * us)
    relu = slices[3]
    assert (relu["tid"], relu["ts"], relu["dur"]) == (1, 1000 * us, 250 * us)
    names = [e["args"]["name"] for e in events if e["name"] == "thread_name"]
    assert names == ["matmul (0, 0, 8, 4)", "relu (0, 4, 8, 4)"]


def test_a_pipeline_is_measured_in_steady_state():
    ops = [OpRow("a", "summa", (0, 0, 4, 8), 60.0, 40.0, 1000.0, 0.0),
           OpRow("b", "summa", (4, 0, 4, 8), 30.0, 20.0, 1000.0, 100.0)]
    grid = np.zeros((8, 8))
    stage = 100.0  # the slowest stage, in cycles
    report = Report(SMALL, ops, grid, grid, grid, dtype="fp32",
                    pipeline_throughput=SMALL.clock_hz / stage)
    assert report.cycles == 150.0  # an inference's latency: a, then b
    assert report.period_cycles == stage
    assert report.flops_per_second == pytest.approx(2000.0 / (stage / SMALL.clock_hz))
    assert report.peak_fraction == pytest.approx(2000.0 / (stage * SMALL.peak_flops_per_cycle("fp32")))
