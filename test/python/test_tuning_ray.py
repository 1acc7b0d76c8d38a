"""`wafer tune --executor ray`: the measurements run as Ray tasks on a local
Ray instance (two CPUs, no dashboard), and their records compile like local ones."""

import json

import pytest
import ray
import torch

import wafer
from wafer.passes.cpu_target import host, host_flags
from wafer.tuning.database import TuningDatabase, cpu_key
from wafer.tuning.conv import ALGORITHMS, Convolution
from wafer.tuning.measure import AlgorithmJob, Job, Workload
from wafer.tuning.ray_executor import RayExecutor
from wafer.tuning.signature import ContractionSignature
from wafer.tuning.space import default_choice, rank

THREADS = 1
LAYERS = 2


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(), torch.nn.Linear(96, 32)).eval()
    return model, (torch.randn(4, 64),)


def test_ray_tuning_records_and_compiles(local_ray, mlp, tmp_path):
    model, inputs = mlp
    path = tmp_path / "db.json"
    results = wafer.tune(model, inputs, budget_s=4, database=str(path), threads=THREADS, top=2, progress=False,
                         executor="ray")
    assert ray.is_initialized()  # the executor used the running instance and left it running
    assert len(results) == LAYERS
    database = TuningDatabase(path, cpu_key(host(), host_flags()))
    for result in results:
        assert result.measured_now >= 1
        assert database.lookup(result.signature) == result.best
    compiled = wafer.compile(model, inputs, threads=THREADS, tuning=str(path))
    packed = [s for s in compiled.compile_report.strategies if "packed matmul" in s]
    assert len(packed) == LAYERS and all(s.startswith("tuned ") for s in packed), packed
    with torch.no_grad():
        torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)


def test_a_worker_of_another_cpu_refuses_the_job(local_ray):
    """A job keyed by another CPU fails on the worker, and the driver gets Wafer's one-line error."""
    signature = ContractionSignature(1, 8, 32, 16, True, THREADS)
    default = default_choice(host())
    choice = next(c for c in rank(signature, host(), []) if c != default)
    executor = RayExecutor(THREADS)
    assert executor.slots == 2
    executor.submit(Job(Workload(signature), choice, default, 0.01, "some other cpu"))
    with pytest.raises(wafer.WaferError, match="not the tuned 'some other cpu': tune on identical machines"):
        executor.next_done()
    executor.close()


def test_a_convolutions_algorithms_are_timed_as_a_ray_task(local_ray):
    """The conv algorithm job goes through the same executor: the worker builds each
    algorithm, checks it against numpy and times them all."""
    conv = Convolution((1, 16, 10, 10), 8, (3, 3), (8, 8), (1, 1), (1, 1))
    executor = RayExecutor(THREADS)
    executor.submit(AlgorithmJob(conv, ALGORITHMS, THREADS, 0.2, cpu_key(host(), host_flags())))
    _, times = executor.next_done()
    executor.close()
    assert tuple(times.ms) == ALGORITHMS and all(ms > 0 for ms in times.ms.values())
    assert times.default in ALGORITHMS


def _measured(path) -> dict:
    """Each region's measured rectangles and cycles, in any order."""
    records = json.loads(path.read_text())["wse"]["small 32x32 whole-wafer"]
    return {region: sorted(map(json.dumps, entry["measured"])) for region, entry in records.items()}


def test_ray_placement_search_records_what_a_local_one_does(local_ray, mlp, tmp_path):
    """Simulated cycles do not vary: the wse search's rounds, run as Ray tasks
    two at a time, record the rectangles and cycles that local rounds do."""
    model, inputs = mlp
    paths = {executor: tmp_path / f"{executor}.json" for executor in ("local", "ray")}
    for executor, path in paths.items():
        results = wafer.tune(model, inputs, budget_s=60, database=str(path), target="wse", executor=executor,
                             progress=False, machine="small", mode="whole-wafer", rounds=4)
        assert all(r.measured_now >= 2 for r in results)
    assert _measured(paths["ray"]) == _measured(paths["local"])
