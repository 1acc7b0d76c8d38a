"""wafer-plan-buffers: temporaries at fixed offsets of one arena per function."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

import wafer
from wafer.passes.plan_buffers import ALIGNMENT, assign_offsets


def _live_at_once(a, b) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


@pytest.mark.parametrize("seed", range(20))
def test_buffers_live_at_once_never_overlap(seed):
    rng = np.random.default_rng(seed)
    buffers = []
    for _ in range(int(rng.integers(1, 40))):
        start = int(rng.integers(0, 100))
        buffers.append((start, start + int(rng.integers(0, 30)), ALIGNMENT * int(rng.integers(0, 50))))
    offsets = assign_offsets(buffers)
    for i, (a, x) in enumerate(zip(buffers, offsets)):
        assert x % ALIGNMENT == 0
        for b, y in zip(buffers[i + 1:], offsets[i + 1:]):
            if _live_at_once(a, b) and a[2] and b[2]:
                assert x + a[2] <= y or y + b[2] <= x, (a, x, b, y)


def test_a_chain_of_layers_needs_its_largest_pair():
    """Each activation is live with its neighbours only: two slots suffice."""
    sizes = [4096, 1024, 8192, 2048, 4096, 1024]
    buffers = [(2 * i, 2 * i + 3, size) for i, size in enumerate(sizes)]
    offsets = assign_offsets(buffers)
    assert max(x + b[2] for b, x in zip(buffers, offsets)) == max(a + b for a, b in zip(sizes, sizes[1:]))


class Mlp(torch.nn.Module):
    def __init__(self, width: int = 128):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                                          torch.nn.ReLU(), torch.nn.Linear(width, 10))

    def forward(self, x):
        return self.layers(x)


def test_a_model_computes_in_its_arena():
    torch.manual_seed(0)
    model, x = Mlp().eval(), torch.randn(16, 64)
    compiled = wafer.compile(model, (x,), threads=1)
    arena = compiled.compile_report.arena_bytes["forward"]
    assert arena > 0 and "arena of @forward's temporaries" in compiled.compile_report.table()
    torch.testing.assert_close(torch.as_tensor(compiled(x)), model(x), rtol=1e-4, atol=1e-5)
    # The arena counts in the peak, the few buffers malloc still gives in the rest.
    assert arena <= compiled.last_peak_bytes and compiled.executable.held_bytes == 0


def test_threads_calling_at_once_each_compute_in_their_own_arena():
    """One call takes the global arena, the others allocate their own: no call
    overwrites another's temporaries (calls long enough to overlap)."""
    torch.manual_seed(0)
    model = Mlp(width=512).eval()
    compiled = wafer.compile(model, (torch.randn(64, 64),), threads=1)
    inputs = [torch.randn(64, 64, generator=torch.Generator().manual_seed(seed)) for seed in range(4)]
    with torch.no_grad():
        expected = [model(x).numpy() for x in inputs]

    def calls(i: int) -> bool:
        return all(np.allclose(compiled(inputs[i]), expected[i], rtol=1e-4, atol=1e-5) for _ in range(50))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(calls, range(4)))
    assert compiled.executable.held_bytes == 0


class GatherAfterMatmul(torch.nn.Module):
    def forward(self, x, index):
        return torch.gather(torch.relu(x @ x.t()), 0, index)


def test_a_failed_runtime_check_gives_the_arena_back():
    """The early return of a failed index check gives the arena back: the next
    call takes it again instead of allocating its own (which its peak would show)."""
    x, index = torch.randn(8, 4), torch.tensor([[0, 3, 1, 2, 7, 6, 5, 4]])
    compiled = wafer.compile(GatherAfterMatmul(), (x, index), threads=1)
    assert compiled.compile_report.arena_bytes["forward"] > 0
    expected = GatherAfterMatmul()(x, index)
    torch.testing.assert_close(torch.as_tensor(compiled(x, index)), expected)
    peak = compiled.last_peak_bytes
    with pytest.raises(wafer.WaferError, match="runtime check"):
        compiled(x, torch.full_like(index, 8))
    torch.testing.assert_close(torch.as_tensor(compiled(x, index)), expected)
    assert compiled.last_peak_bytes == peak
