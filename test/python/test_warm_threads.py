"""OpenMP workers across a call (wafer-warm-threads): PyTorch's numbers, and no
worker left spinning on a core once the call has returned."""

import time

import pytest
import torch

import wafer
from wafer.examples.models import EXAMPLES


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_warm_workers_sleep_after_each_call(name):
    """Batch 32 runs several parallel loops per call: the same numbers call after
    call, and after the last one the process burns (almost) no CPU while it sleeps."""
    model, inputs = EXAMPLES[name].build(32)
    compiled = wafer.compile(model, inputs, threads=2, wake_instructions=0)
    assert compiled.compile_report.stages[-1].ops_after["omp.parallel"] >= 2
    with torch.no_grad():
        expected = model(*inputs)
    for _ in range(3):
        torch.testing.assert_close(compiled(*inputs), expected, rtol=1e-4, atol=1e-4)
    start = time.process_time()
    time.sleep(0.2)
    assert time.process_time() - start < 0.1  # a worker left spinning burns up to its block time
