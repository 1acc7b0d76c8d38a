"""Which algorithm computes a convolution (passes/conv_algorithm.py): the
`conv-algorithm` option, a tuning record of the convolution, and `wafer tune`
timing each algorithm that can compute it.

The convolution (16 -> 8 channels, 3x3, 8x8 image) is one that Winograd,
the direct row kernel and im2col (either way round) can each compute on
every CPU preset.
"""

import json

import pytest
import torch

import wafer
from wafer.diagnostics import WaferError
from wafer.frontend import import_model
from wafer.passes.cpu_target import host, host_flags
from wafer.pipelines.cpu import CpuPipeline
from wafer.tuning.conv import ALGORITHMS, algorithm_of
from wafer.tuning.database import MIN_GAIN, TuningDatabase, cpu_key
from wafer.tuning.tuner import AlgorithmResult, before_pack, convolutions


@pytest.fixture(scope="module")
def conv():
    torch.manual_seed(0)
    return torch.nn.Conv2d(16, 8, 3, padding=1).eval(), (torch.randn(1, 16, 8, 8),)


def _algorithm(compiled) -> str:
    return algorithm_of(compiled.compile_report.strategies)


def _workload(model, inputs):
    pipeline = CpuPipeline.from_keywords(threads=1)
    (workload,) = convolutions(before_pack(import_model(model, inputs), pipeline), pipeline)
    return workload


def _database(path) -> TuningDatabase:
    return TuningDatabase(path, cpu_key(host(), host_flags()))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_option_picks_the_algorithm(conv, algorithm):
    model, inputs = conv
    compiled = wafer.compile(model, inputs, threads=1, conv_algorithm=algorithm)
    assert _algorithm(compiled) == algorithm
    torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-5)


def test_every_algorithm_that_can_compute_it_is_a_candidate(conv):
    workload = _workload(*conv)
    assert workload.algorithms == ALGORITHMS
    assert workload.conv.key(1) == "conv 1x16x10x10 -> 8 3x3 stride 1,1 dilation 1,1 f32 threads=1"


@pytest.mark.parametrize("best", ALGORITHMS)
def test_a_record_picks_the_algorithm(conv, tmp_path, best):
    model, inputs = conv
    workload = _workload(model, inputs)
    default = _algorithm(wafer.compile(model, inputs, threads=2))
    path = tmp_path / "db.json"
    times = {name: 1.0 if name == best else 2.0 for name in workload.algorithms}
    _database(path).add_conv(workload.conv.key(1), default, times)
    compiled = wafer.compile(model, inputs, threads=1, tuning=str(path))
    assert _algorithm(compiled) == best
    torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-5)
    # The record is of one thread: at two, the rules pick.
    assert _algorithm(wafer.compile(model, inputs, threads=2, tuning=str(path))) == default


def test_a_record_keeps_the_default_unless_another_beats_it_clearly(tmp_path):
    db = _database(tmp_path / "db.json")
    db.add_conv("a", "winograd", {"winograd": 1.0, "im2col": 1.0 - MIN_GAIN / 2})
    db.add_conv("b", "winograd", {"winograd": 1.0, "im2col": 1.0 - 2 * MIN_GAIN})
    assert (db.conv_algorithm("a"), db.conv_algorithm("b"), db.conv_algorithm("c")) == ("winograd", "im2col", None)


def test_tune_times_each_algorithm_and_records_the_fastest(conv, tmp_path):
    path = tmp_path / "db.json"
    results = wafer.tune(*conv, budget_s=6, database=str(path), threads=1, top=1, progress=False)
    (result,) = [r for r in results if isinstance(r, AlgorithmResult)]
    assert result.measured_now and tuple(result.times) == ALGORITHMS
    assert all(ms > 0 for ms in result.times.values())
    assert result.default == _algorithm(wafer.compile(*conv, threads=1))
    fastest = min(result.times, key=result.times.get)
    clear = result.times[fastest] <= (1 - MIN_GAIN) * result.times[result.default]
    assert result.best == (fastest if clear else result.default)
    assert _database(path).conv_algorithm(result.conv.key(1)) == result.best
    # The contractions were collected under the recorded algorithm: an unswapped
    # im2col's (B the gathered columns) only if that won.
    im2col_contraction = any(r.signature.row for r in results if not isinstance(r, AlgorithmResult))
    assert im2col_contraction == (result.best == "im2col")
    rerun = wafer.tune(*conv, budget_s=2, database=str(path), threads=1, top=1, progress=False)
    assert not any(r.measured_now for r in rerun if isinstance(r, AlgorithmResult))


def test_an_unknown_algorithm_is_an_option_error(conv):
    with pytest.raises(WaferError, match="conv-algorithm.*expected one of auto, winograd, direct, im2col, "
                                         "im2col-swapped, got 'fft'"):
        wafer.compile(*conv, conv_algorithm="fft")


def test_a_record_of_an_unknown_algorithm_is_a_malformed_database(tmp_path):
    path = tmp_path / "db.json"
    path.write_text(json.dumps({"version": 1, "cpus": {}, "convs": {"some cpu": {
        "conv x": {"default": "fft", "best": "fft", "ms": {"fft": 1.0}}}}}))
    with pytest.raises(WaferError, match="malformed tuning database .*unknown convolution algorithm 'fft'"):
        _database(path)
