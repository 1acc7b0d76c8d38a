"""Auto-tuning of the packed matmul kernel (wafer/tuning): the candidate space,
the database, resuming, convolutions timed with their gather, and compiling
with the measured kernels. test_tuning_ray.py runs the jobs on Ray.

One tiny tuning run of the mlp example is shared by the tests; budgets are a
few seconds and timings are noisy, so nothing here checks a speedup.
"""

import json
from collections import Counter
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from linalg_programs import MATMUL

import wafer
from wafer.examples.models import EXAMPLES
from wafer.frontend import import_model
from wafer.passes.cpu_target import PRESETS, host, host_flags
from wafer.pipelines.cpu import CpuPipeline
from wafer.tools import wafer_cli
from wafer.tuning import space
from wafer.tuning.conv import BIAS, Convolution
from wafer.tuning.database import Measurement, TuningDatabase, cpu_key
from wafer.tuning.executor import RAY_VERSION, LocalExecutor
from wafer.tuning.measure import AlgorithmTimes, ContractionBench, Workload
from wafer.tuning.signature import ContractionSignature
from wafer.tuning.tuner import ConvWorkload, _tune_algorithms, _tune_one, before_pack, contractions

THREADS = 1
MLP_CONTRACTIONS = 3  # its three linear layers
# At batch 1 they are matrix-vector products (wafer-matvec), which have no kernel to tune.
MLP_BATCH = 4


@pytest.fixture(scope="module")
def mlp():
    return EXAMPLES["mlp"].build(MLP_BATCH)


@pytest.fixture(scope="module")
def strided_conv():
    """A padded, strided and dilated convolution that wafer-im2col takes on any
    machine: 64 filters' output rows need more vector registers than any CPU has
    (wafer-direct-conv takes 8 filters on AVX-512)."""
    return torch.nn.Conv2d(3, 64, 3, stride=(2, 1), padding=1, dilation=(3, 2)).eval(), (torch.randn(1, 3, 17, 21),)


@pytest.fixture(scope="module")
def tuned(mlp, tmp_path_factory):
    """A database from a tiny tuning run of the mlp example, and that run's results."""
    path = tmp_path_factory.mktemp("tuning") / "db.json"
    results = wafer.tune(*mlp, budget_s=3, database=str(path), threads=THREADS, top=2, progress=False)
    return path, results


def _database(path) -> TuningDatabase:
    return TuningDatabase(path, cpu_key(host(), host_flags()))


def test_space_holds_a_whole_k():
    """A deep K, which the default loops over in blocks, can also be measured
    whole (k-block 0): where the weights stream from memory that ran 2x faster."""
    cpu = PRESETS["avx512"]
    signature = ContractionSignature(1, 49, 512, 4608, True, 1)
    kernels = [space.plan_kernel(space.shape_of(signature), choice, cpu, space.PARALLEL_FLOPS, 0, 1)[0]
               for choice in space.candidates(signature, cpu)]
    assert kernels[0].k_tile, kernels[0]
    assert any(kernel.k_tile == 0 and kernel.k_block == 0 for kernel in kernels)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_space_respects_the_register_budget(name):
    """Every register tile is a power of two of vectors wide and keeps its
    accumulators, a row of B's vectors and A's broadcast in registers."""
    cpu = PRESETS[name]
    tiles = space.register_tiles(cpu)
    assert cpu.register_tile in tiles
    for mr, nr in tiles:
        assert cpu.vector_block(nr) == nr  # one, two or four whole vectors, never three
        assert mr * nr // cpu.lanes + nr // cpu.lanes + 1 <= cpu.vector_registers
    signature = ContractionSignature(1, 64, 300, 576, False, 2)
    choices = space.candidates(signature, cpu)
    assert choices[0] == space.default_choice(cpu)
    assert {c.register_tile for c in choices} <= set(tiles)
    assert len(space.rank(signature, cpu, [])) == len(choices)


def test_tuning_records_each_distinct_contraction(tuned):
    path, results = tuned
    assert len(results) == MLP_CONTRACTIONS
    database = _database(path)
    for result in results:
        assert result.measured_now >= 1
        assert database.lookup(result.signature) == result.best
        assert result.best.ms > 0 and result.best.default_ms > 0


def test_a_second_run_resumes(mlp, tuned, tmp_path):
    """A rerun keeps every measurement, and times a candidate twice at most (the second time to confirm a lead)."""
    path = tmp_path / "db.json"
    shutil.copy(tuned[0], path)
    before = {r.signature: _database(path).measured(r.signature) for r in tuned[1]}
    results = wafer.tune(*mlp, budget_s=2, database=str(path), threads=THREADS, top=3, progress=False)
    database = _database(path)
    for result in results:
        measured = database.measured(result.signature)
        assert measured[:len(before[result.signature])] == before[result.signature]
        assert len(measured) == len(before[result.signature]) + result.measured_now
        assert max(Counter(m.choice for m in measured).values()) <= 2


def test_a_lead_won_by_noise_is_timed_again_and_dropped(tmp_path):
    """The candidate first timed fastest is timed again; one that then loses its
    lead (a lucky first timing) is not the record, the runner-up that wins twice is."""
    signature = ContractionSignature(1, 49, 192, 1152, True, 1)
    ratios = ([0.70, 1.00], [0.90, 0.92])  # to the default, by timing: the first candidate's, the second's
    calls = []

    def run(job):
        calls.append(job.choice)
        first, second = ratios[list(dict.fromkeys(calls)).index(job.choice)]
        return Measurement(job.choice, first if calls.count(job.choice) == 1 else second, 1.0)

    database = TuningDatabase(tmp_path / "db.json", "a cpu")
    _tune_one(Workload(signature), database, PRESETS["avx2"], budget_s=60, top=2, executor=LocalExecutor(run))
    lucky, steady = dict.fromkeys(calls)
    assert calls == [lucky, steady, lucky, steady]
    assert database.lookup(signature) == Measurement(steady, 0.92, 1.0)


def test_a_convolution_algorithm_that_wins_once_by_noise_is_not_recorded(tmp_path):
    """The fastest algorithm, when not the rules' own, is timed again against it,
    and each counts by its slower time: a lucky first timing does not make a record."""
    conv = Convolution((1, 3, 19, 23), 64, (3, 3), (7, 19), (2, 1), (3, 2))
    timings = [{"im2col": 1.0, "direct": 0.7}, {"im2col": 1.0, "direct": 1.1}]
    jobs = []

    def run(job):
        jobs.append(job.algorithms)
        return AlgorithmTimes("im2col", {a: timings[len(jobs) - 1][a] for a in job.algorithms})

    database = TuningDatabase(tmp_path / "db.json", "a cpu")
    pipeline = CpuPipeline.from_keywords(threads=THREADS)
    assert _tune_algorithms(ConvWorkload(conv, ("im2col", "direct")), database, pipeline, 10, LocalExecutor(run))
    assert jobs == [("im2col", "direct"), ("im2col", "direct")]
    assert database.conv_times(conv.key(THREADS)) == ("im2col", {"im2col": 1.0, "direct": 1.1})
    assert database.conv_algorithm(conv.key(THREADS)) == "im2col"


def test_compiling_with_the_database_takes_the_tuned_kernels(mlp, tuned):
    model, inputs = mlp
    compiled = wafer.compile(model, inputs, threads=THREADS, tuning=str(tuned[0]))
    packed = [s for s in compiled.compile_report.strategies if "packed matmul" in s]
    assert len(packed) == MLP_CONTRACTIONS and all(s.startswith("tuned ") for s in packed), packed
    with torch.no_grad():
        torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)


def test_records_of_another_cpu_are_ignored(mlp, tuned, tmp_path):
    data = json.loads(tuned[0].read_text())
    data["cpus"] = {"some other cpu": next(iter(data["cpus"].values()))}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    compiled = wafer.compile(*mlp, threads=THREADS, tuning=str(path))
    assert not any(s.startswith("tuned") for s in compiled.compile_report.strategies)


@pytest.mark.parametrize("text", ["{not json", '{"version": 1, "cpus": {"x": {"k": {"best": {}}}}}', "[]"])
def test_a_malformed_database_is_a_one_line_error(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(wafer.WaferError, match="malformed tuning database") as info:
        wafer.compile_mlir(MATMUL.format(m=8, n=16, k=8), threads=THREADS, tuning=str(path))
    assert str(path) in str(info.value) and len(str(info.value).splitlines()) == 1


def test_a_missing_database_is_an_error(tmp_path):
    with pytest.raises(wafer.WaferError, match="no tuning database"):
        wafer.compile_mlir(MATMUL.format(m=8, n=16, k=8), tuning=str(tmp_path / "none.json"))


def test_cli_tune_prints_a_table(tuned, tmp_path, capsys):
    path = tmp_path / "db.json"
    shutil.copy(tuned[0], path)
    assert wafer_cli.main(["tune", "mlp", "--batch", str(MLP_BATCH), "--budget", "0", "--db", str(path),
                           "--threads", str(THREADS)]) == 0
    out = capsys.readouterr().out
    assert "default ms" in out and f"{MLP_BATCH}x512x784" in out and str(path) in out


def test_a_convolution_is_benchmarked_with_its_gather(strided_conv):
    """The im2col contraction's workload is its convolution, read off the gather,
    and its bench (the gather feeding the packed kernel, then a bias and a ReLU)
    computes what torch does."""
    model, inputs = strided_conv
    pipeline = CpuPipeline.from_keywords(threads=THREADS, direct_conv=False)
    (workload,) = contractions(before_pack(import_model(model, inputs), pipeline), pipeline)
    assert workload.conv == Convolution((1, 3, 19, 23), 64, (3, 3), (7, 19), (2, 1), (3, 2))
    assert (workload.signature.n, workload.signature.k, workload.signature.row) == (133, 27, 19)
    bench = ContractionBench(workload)
    image, weights = (torch.from_numpy(a) for a in (bench.arguments[0], bench.weights))
    bias = torch.full((64,), BIAS)  # the benchmark's epilogue: a per-channel bias and a ReLU
    torch.testing.assert_close(torch.from_numpy(bench.expected), torch.relu(
        torch.nn.functional.conv2d(image, weights, bias, stride=(2, 1), dilation=(3, 2))))
    bench.compile(space.default_choice(host()))  # checks the compiled gather and kernel against numpy


def test_a_tuned_convolution_compiles_with_its_record(strided_conv, tmp_path):
    model, inputs = strided_conv
    path = tmp_path / "db.json"
    # Its algorithm recorded as im2col (not swapped), so its contraction reads the gather.
    conv_key = Convolution((1, 3, 19, 23), 64, (3, 3), (7, 19), (2, 1), (3, 2)).key(THREADS)
    _database(path).add_conv(conv_key, "im2col", {"im2col": 1.0, "im2col-swapped": 2.0})
    algorithm, result = wafer.tune(model, inputs, budget_s=1, database=str(path), threads=THREADS, top=1,
                                   progress=False)
    assert algorithm.best == "im2col" and not algorithm.measured_now
    assert result.signature.row and result.measured_now == 1
    compiled = wafer.compile(model, inputs, threads=THREADS, tuning=str(path))
    assert any(s.startswith("tuned ") for s in compiled.compile_report.strategies)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("argv,message", [
    (["--executor", "dask"], "error: unknown executor 'dask' (known: local, ray)"),
    (["--ray-address", "HOST:6379"], "error: a Ray address needs the ray executor"),
])
def test_cli_tune_refuses_a_bad_executor(argv, message, capsys):
    assert wafer_cli.main(["tune", "mlp", *argv]) == 1
    assert capsys.readouterr().err == message + "\n"


def test_cli_tune_says_how_to_install_ray(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    assert wafer_cli.main(["tune", "mlp", "--executor", "ray"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the ray executor needs Ray: pip install 'wafer[tune]'") and err.count("\n") == 1


def test_the_ray_pin_is_the_one_the_error_names():
    extras = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    pin = f"ray=={RAY_VERSION}"
    assert extras["optional-dependencies"]["tune"] == [pin] and pin in extras["optional-dependencies"]["dev"]
