"""Which algorithm computes a convolution (passes/conv_algorithm.py): the
`conv-algorithm` option, a tuning record of the convolution, and `wafer tune`
timing each algorithm that can compute it.

The convolution (16 -> 8 channels, 3x3, 8x8 image) is one that Winograd,
the direct row kernel and im2col can each compute on every CPU preset.
"""

import json

import pytest
import torch

import wafer
from wafer.diagnostics import WaferError
from wafer.frontend import import_model
from wafer.passes.cpu_target import host, host_flags
from wafer.pipelines.cpu import CpuPipeline
from wafer.tuning.database import MIN_GAIN, TuningDatabase, cpu_key
from wafer.tuning.tuner import AlgorithmResult, before_pack, convolutions

STRATEGY = {"winograd": "winograd", "direct": "direct conv", "im2col": "im2col"}


@pytest.fixture(scope="module")
def conv():
    torch.manual_seed(0)
    return torch.nn.Conv2d(16, 8, 3, padding=1).eval(), (torch.randn(1, 16, 8, 8),)


def _algorithms_taken(compiled) -> set[str]:
    return {name for name, prefix in STRATEGY.items()
            if any(s.startswith(prefix) for s in compiled.compile_report.strategies)}


def _workload(model, inputs):
    pipeline = CpuPipeline.from_keywords(threads=1)
    (workload,) = convolutions(before_pack(import_model(model, inputs), pipeline), pipeline)
    return workload


def _database(path) -> TuningDatabase:
    return TuningDatabase(path, cpu_key(host(), host_flags()))


@pytest.mark.parametrize("algorithm", sorted(STRATEGY))
def test_the_option_picks_the_algorithm(conv, algorithm):
    model, inputs = conv
    compiled = wafer.compile(model, inputs, threads=1, conv_algorithm=algorithm)
    assert _algorithms_taken(compiled) == {algorithm}
    torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-5)


def test_every_algorithm_that_can_compute_it_is_a_candidate(conv):
    workload = _workload(*conv)
    assert workload.algorithms == ("winograd", "direct", "im2col")
    assert workload.conv.key(1) == "conv 1x16x10x10 -> 8 3x3 stride 1,1 dilation 1,1 f32 threads=1"
    default = _algorithms_taken(wafer.compile(*conv, threads=1))
    assert default == {workload.default}


@pytest.mark.parametrize("best", ["im2col", "direct", "winograd"])
def test_a_record_picks_the_algorithm(conv, tmp_path, best):
    model, inputs = conv
    workload = _workload(model, inputs)
    path = tmp_path / "db.json"
    times = {name: 1.0 if name == best else 2.0 for name in workload.algorithms}
    _database(path).add_conv(workload.conv.key(1), workload.default, times)
    compiled = wafer.compile(model, inputs, threads=1, tuning=str(path))
    assert _algorithms_taken(compiled) == {best}
    torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-5)
    # The record is of one thread: at two, the rules pick.
    assert _algorithms_taken(wafer.compile(model, inputs, threads=2, tuning=str(path))) == {workload.default}


def test_a_record_keeps_the_default_unless_another_beats_it_clearly(tmp_path):
    db = _database(tmp_path / "db.json")
    db.add_conv("a", "winograd", {"winograd": 1.0, "im2col": 1.0 - MIN_GAIN / 2})
    db.add_conv("b", "winograd", {"winograd": 1.0, "im2col": 1.0 - 2 * MIN_GAIN})
    assert (db.conv_algorithm("a"), db.conv_algorithm("b"), db.conv_algorithm("c")) == ("winograd", "im2col", None)


def test_tune_times_each_algorithm_and_records_the_fastest(conv, tmp_path):
    path = tmp_path / "db.json"
    results = wafer.tune(*conv, budget_s=6, database=str(path), threads=1, top=1, progress=False)
    (result,) = [r for r in results if isinstance(r, AlgorithmResult)]
    assert result.measured_now and set(result.times) == {"winograd", "direct", "im2col"}
    assert all(ms > 0 for ms in result.times.values())
    fastest = min(result.times, key=result.times.get)
    clear = result.times[fastest] <= (1 - MIN_GAIN) * result.times[result.default]
    assert result.best == (fastest if clear else result.default)
    assert _database(path).conv_algorithm(result.conv.key(1)) == result.best
    # The contractions were collected under the recorded algorithm: im2col's only if it won.
    im2col_contraction = any(r.signature.row for r in results if not isinstance(r, AlgorithmResult))
    assert im2col_contraction == (result.best == "im2col")
    rerun = wafer.tune(*conv, budget_s=2, database=str(path), threads=1, top=1, progress=False)
    assert not any(r.measured_now for r in rerun if isinstance(r, AlgorithmResult))


def test_an_unknown_algorithm_is_an_option_error(conv):
    with pytest.raises(WaferError, match="conv-algorithm.*expected one of auto, winograd, direct, im2col, got 'fft'"):
        wafer.compile(*conv, conv_algorithm="fft")


def test_a_record_of_an_unknown_algorithm_is_a_malformed_database(tmp_path):
    path = tmp_path / "db.json"
    path.write_text(json.dumps({"version": 1, "cpus": {}, "convs": {"some cpu": {
        "conv x": {"default": "fft", "best": "fft", "ms": {"fft": 1.0}}}}}))
    with pytest.raises(WaferError, match="malformed tuning database .*unknown convolution algorithm 'fft'"):
        _database(path)
