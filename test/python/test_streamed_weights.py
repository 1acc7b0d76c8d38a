"""Weights streamed from L3: K whole or in blocks, as this host measured it
(wafer/streamed_weights.py and `matmul_plan.k_tiled`)."""

from dataclasses import replace

import pytest
import torch

import wafer
from wafer import streamed_weights
from wafer.passes.cpu_target import F32_BYTES, PRESETS, host
from wafer.passes.kernel_defaults import PARALLEL_FLOPS
from wafer.passes.matmul_plan import plan_kernel
from wafer.streamed_weights import WHOLE, measure_streamed_b_rows, probe_signature, streamed_b_rows
from wafer.tuning.signature import ContractionSignature
from wafer.tuning.space import default_choice, shape_of


@pytest.mark.parametrize("rows,k_tiles", [(0, (128, 128, 128)), (1, (0, 128, 128)), (4, (0, 0, 128))])
def test_the_measured_rows_decide_k_whole(rows, k_tiles):
    """Weights of 16 MB (above L2, within L3) read by 1, 4 and 8 rows of
    register blocks: K stays whole up to the target's `streamed_b_rows` rows."""
    cpu = replace(PRESETS["avx512"], streamed_b_rows=rows)
    tiles = tuple(plan_kernel(shape_of(ContractionSignature(1, m, 1024, 4096, True, 1)), default_choice(cpu), cpu,
                              PARALLEL_FLOPS, 0, 1)[0].k_tile for m in (8, 32, 64))
    assert tiles == k_tiles


@pytest.mark.parametrize("rows", [1, 4])
def test_the_probe_compiles_k_whole_and_blocks(rows):
    """The probe's layer streams its weights from L3 on this host, and the
    option it is compiled with gives K whole and K in blocks, both right."""
    cpu = host()
    signature = probe_signature(cpu, rows)
    assert cpu.l2_bytes < F32_BYTES * signature.k * signature.n <= cpu.last_level_bytes
    assert signature.m == rows * cpu.register_tile[0]
    torch.manual_seed(0)
    layer = torch.nn.Linear(signature.k, signature.n).eval()
    x = torch.randn(signature.m, signature.k)
    for option, blocked in ((WHOLE, False), (0, True)):
        compiled = wafer.compile(layer, (x,), threads=1, streamed_b_rows=option)
        strategies = " ".join(compiled.compile_report.strategies)
        assert ("k tile" in strategies) == blocked, strategies
        torch.testing.assert_close(torch.from_numpy(compiled(x.numpy())), layer(x), rtol=1e-4, atol=1e-4)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh measurements file, and a process that has measured nothing yet."""
    monkeypatch.setenv("WAFER_CACHE_DIR", str(tmp_path))
    streamed_b_rows.cache_clear()
    yield tmp_path
    streamed_b_rows.cache_clear()


def test_the_measurement_is_kept_per_cpu(cache_dir, monkeypatch):
    """Measured once a machine: a later process reads the recorded rows."""
    measured = []
    monkeypatch.setattr(streamed_weights, "measure_streamed_b_rows", lambda cpu: measured.append(cpu) or 2)
    assert streamed_b_rows() == 2 and len(measured) == 1
    streamed_b_rows.cache_clear()  # as a new process
    monkeypatch.setattr(streamed_weights, "measure_streamed_b_rows", lambda cpu: pytest.fail("measured again"))
    assert streamed_b_rows() == 2
    assert (cache_dir / streamed_weights.MEASUREMENTS).is_file()


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"streamed_b_rows": 3}', '{"streamed_b_rows": {"x": 1}}'])
def test_an_unreadable_record_is_measured_over(cache_dir, monkeypatch, text):
    """A damaged file, or one of another CPU's, is measured over and rewritten."""
    (cache_dir / streamed_weights.MEASUREMENTS).write_text(text)
    monkeypatch.setattr(streamed_weights, "measure_streamed_b_rows", lambda cpu: 4)
    assert streamed_b_rows() == 4
    streamed_b_rows.cache_clear()
    monkeypatch.setattr(streamed_weights, "measure_streamed_b_rows", lambda cpu: pytest.fail("measured again"))
    assert streamed_b_rows() == 4


def test_a_contraction_that_asks_runs_the_probe_once(cache_dir, monkeypatch):
    """Planning weights streamed by a few rows asks the host's measurement;
    more rows than the probe times, a K too shallow for blocks anyway, or a
    target that says, do not."""
    asked = []
    monkeypatch.setattr(streamed_weights, "measure_streamed_b_rows", lambda cpu: asked.append(cpu) or 4)
    cpu = PRESETS["avx512"]

    def k_tile(m, target=cpu, n=1024, k=4096):
        signature = ContractionSignature(1, m, n, k, True, 1)
        return plan_kernel(shape_of(signature), default_choice(target), target, PARALLEL_FLOPS, 0, 1)[0].k_tile

    assert k_tile(64) == 128 and not asked  # 8 rows: past the probe's
    assert k_tile(8, n=8192, k=128) == 0 and not asked  # 4 MB of weights, one K block
    assert k_tile(8, replace(cpu, streamed_b_rows=0)) == 128 and not asked
    assert k_tile(32) == 0 and k_tile(8) == 0 and len(asked) == 1


def test_a_host_without_l3_measures_nothing():
    """With no cache beyond L2 no weights stream from it: nothing to time."""
    assert measure_streamed_b_rows(PRESETS["neon"]) == 0
