"""The kernels the CPU pipeline builds over big weights prefetch their next weight
tile (wafer-prefetch-next-tile): the packed matmul of a 1x1 convolution and a
direct convolution's filter blocks, serial and parallel. The lit test checks the
pass on hand-written loop nests; this checks it still finds the pipeline's own."""

import pytest
import torch
from torch_reference import compile_checked

PREFETCH = "prefetch the next weight tile"


def _layers():
    return {
        # 1 MB of weights: a packed matmul 49 x 256 x 1024, swapped, in k tiles each row block reuses.
        "1x1": (torch.nn.Sequential(torch.nn.Conv2d(1024, 256, 1), torch.nn.ReLU()), (1, 1024, 7, 7)),
        # 2.4 MB: a direct convolution along filters, each block's taps reused by each output row.
        "3x3": (torch.nn.Sequential(torch.nn.Conv2d(256, 256, 3, padding=1), torch.nn.ReLU()), (1, 256, 7, 7)),
    }


def _prefetches(model, x, tmp_path, **options) -> tuple[int, list[str]]:
    """The bufferized module's prefetches and the strategies, the output checked against PyTorch."""
    compiled = compile_checked(model, (x,), dump_ir=str(tmp_path), **options)
    bufferized = (tmp_path / "06-bufferize.mlir").read_text()
    return bufferized.count("memref.prefetch"), compiled.executable.compile_report.strategies


@pytest.mark.parametrize("machine", ["host", "avx2"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("layer", ["1x1", "3x3"])
def test_kernels_over_big_weights_prefetch_their_next_tile(tmp_path, layer, threads, machine):
    torch.manual_seed(0)
    model, shape = _layers()[layer]
    x = torch.randn(*shape)
    on, strategies = _prefetches(model.eval(), x, tmp_path / "on", threads=threads, machine=machine)
    off, without = _prefetches(model, x, tmp_path / "off", threads=threads, machine=machine, prefetch_tiles=False)
    assert any(s.startswith(PREFETCH) for s in strategies)
    assert not any(s.startswith(PREFETCH) for s in without)
    assert on > off


def test_weights_that_stay_in_cache_are_not_prefetched(tmp_path):
    """64 KB of filters stay in L2 between calls: nothing to overlap."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU()).eval()
    count, strategies = _prefetches(model, torch.randn(1, 64, 14, 14), tmp_path, threads=1)
    assert count == 0 and not any(s.startswith(PREFETCH) for s in strategies)
