"""wafer-balance-loops: parallel loops in chunks to whichever thread is free compute what static shares do."""

import pytest
import torch
from torch_reference import compile_checked

from wafer.pipelines.cpu import CpuPipeline


def test_the_pipeline_balances_parallel_loops_by_its_chunks_per_thread():
    """At threads > 1 the loops get chunks of wafer-balance-loops, as many a
    thread as the pipeline's option says (0: static shares); one thread has no loops to balance."""
    assert "wafer-balance-loops{threads=2 chunks-per-thread=8}" in dict(CpuPipeline(threads=2).stages())["lower"]
    assert "chunks-per-thread=0}" in dict(CpuPipeline(threads=2, chunks_per_thread=0).stages())["lower"]
    assert "wafer-balance-loops" not in dict(CpuPipeline(threads=1).stages())["lower"]


@pytest.mark.parametrize("chunks", [0, 1, 8, 1000])
def test_any_chunk_count_matches_torch(chunks, tmp_path):
    """Static shares, one chunk a thread, the default, and one iteration a chunk
    (more chunks than iterations): a convolution net's ragged row loops, its
    pooling and its linear layers give PyTorch's numbers at two threads, every
    loop parallel (wake-instructions=0), dynamic but for static shares."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 20, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(20, 36, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(36 * 13 * 13, 50)).eval()
    compile_checked(model, (torch.randn(3, 3, 31, 31),), threads=2, chunks_per_thread=chunks, wake_instructions=0,
                    dump_ir=str(tmp_path))
    lowered = (tmp_path / "07-lower.mlir").read_text()
    loops, dynamic = lowered.count("omp.wsloop"), lowered.count("omp.wsloop schedule(dynamic")
    assert loops > 0 and dynamic == (0 if chunks == 0 else loops)
