"""Calls too short to pay for waking a worker run on one thread (wafer-serial-short-calls),
with the wake-up measured on the host (wafer/thread_wake.py)."""

import pytest
import torch
from torch_mlir import ir
from torch_reference import compile_checked

from wafer.context import make_context
from wafer.pass_pipeline import build_pass_manager
from wafer.pipelines.cpu import CpuPipeline
from wafer.thread_wake import ThreadProbe, wake_instructions


def small_cnn():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(64 * 5 * 5, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).eval()
    return model, (torch.randn(1, 1, 28, 28),)


def parallel_loops(compiled) -> int:
    return compiled.compile_report.stages[-1].ops_after["omp.parallel"]


@pytest.mark.parametrize("wake,serial", [(10**9, True), (0, False)])
def test_a_call_shorter_than_the_wake_up_runs_on_one_thread(wake, serial):
    """One image through a small CNN at 2 threads: its 32->64 convolution is worth
    a thread on its own, but not a worker's wake-up of a billion instructions;
    with none (0) it stays an OpenMP loop. PyTorch's numbers either way."""
    model, inputs = small_cnn()
    compiled = compile_checked(model, inputs, threads=2, wake_instructions=wake)
    notes = [s for s in compiled.compile_report.strategies if s.startswith("one thread")]
    assert bool(notes) == serial
    assert (parallel_loops(compiled) == 0) == serial


def test_a_long_call_stays_parallel_under_the_host_wake_up():
    """A 256x1024x1024 linear layer (half a GFLOP) saves far more than any wake-up."""
    torch.manual_seed(0)
    compiled = compile_checked(torch.nn.Linear(1024, 1024), (torch.randn(256, 1024),), threads=2)
    assert parallel_loops(compiled) > 0
    assert not any(s.startswith("one thread") for s in compiled.compile_report.strategies)


TWO_ROWS = """
func.func @two_rows(%a: memref<2x64xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  scf.forall (%i) in (2) {
    %v = vector.transfer_read %a[%i, %c0], %zero {in_bounds = [true]} : memref<2x64xf32>, vector<64xf32>
    %w = arith.addf %v, %v : vector<64xf32>
    vector.transfer_write %w, %a[%i, %c0] {in_bounds = [true]} : vector<64xf32>, memref<2x64xf32>
  }
  return
}"""


def test_the_pass_measures_the_wake_up_when_it_has_loops_to_weigh():
    """The pipeline hands the pass -1 unless told a figure; the pass then asks this
    host's measurement, once a process, which a 12-instruction loop cannot pay for."""
    assert "wake-instructions=-1}" in dict(CpuPipeline(threads=2).stages())["bufferize"]
    assert "wake-instructions=7}" in dict(CpuPipeline(threads=2, wake_instructions=7).stages())["bufferize"]
    wake = wake_instructions(2, 16)
    assert wake > 12
    with make_context() as ctx:
        module = ir.Module.parse(TWO_ROWS)
        build_pass_manager("wafer-serial-short-calls{machine=avx512 threads=2}", ctx).run(module.operation)
        assert f"waking a worker takes {wake}" in str(module)
        assert "wafer.serial" in str(module)


def test_the_probe_times_the_wake_up_the_next_loops_and_the_clock():
    """The clock comes from a chain of dependent adds (a plausible core clock);
    the wake-up from empty parallel loops less a serial call (under a
    millisecond here). Which of a first and a later loop costs more is a
    measurement (bench/thread_wake.py): with the suite's other worker busy,
    the spinning workers lost that race, and a worker waking on that busy
    core waited for the scheduler (1.1-1.2 ms in 2 of 6 probes on a 2-core
    Sapphire Rapids), so the bound is a few scheduler slices, not a wake-up."""
    probe = ThreadProbe(2, 16)
    assert 0.3e9 < probe.clock_hz() < 10e9
    first, later = probe.first_loop_seconds(0.0005), probe.later_loop_seconds(0.0005)
    assert 0 <= first < 20e-3 and 0 <= later < 20e-3


def test_the_probe_counts_vector_fmas_at_the_rate_the_host_issues_them():
    """Independent FMA chains of 16-lane vectors: a core issues one to four a
    cycle (x86 with AVX-512: two, one where 256-bit pipes split each; AVX2:
    one, two 8-lane halves two a cycle); an FMA loop folded away or run as one
    dependent chain would read far off."""
    rate = ThreadProbe(2, 16).vector_rate()
    assert 0.5 < rate < 4.5


def test_the_wake_up_is_timed_from_each_cpu_and_the_mask_restored():
    """The caller runs pinned to each CPU of its mask in turn (up to
    PLACEMENTS of them), then on its whole mask again."""
    import os

    from wafer import thread_wake

    mask = os.sched_getaffinity(0)
    seen = [os.sched_getaffinity(0) for _ in thread_wake._placements()]
    assert all(len(cpus) == 1 for cpus in seen) and set().union(*seen) <= mask
    assert len(seen) == min(len(mask), thread_wake.PLACEMENTS)
    assert os.sched_getaffinity(0) == mask


def test_the_middle_mean_ignores_the_outer_quarters():
    from wafer.thread_wake import _middle_mean

    assert _middle_mean([1.0, 2.0, 3.0, 100.0]) == 2.5
    assert _middle_mean([-5.0, -4.0, -3.0, -2.0]) == 0.0

