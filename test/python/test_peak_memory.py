"""Peak memory per call: the counting allocator, buffer lifetimes, and the
largest live buffer set it is measured against."""

import numpy as np
import pytest
from linalg_programs import MATMUL
from torch_mlir import ir
from wafer.examples.models import EXAMPLES

import wafer
from wafer.context import make_context
from wafer.live_buffers import largest_live_sets

N = 64  # one 64 x 64 float32 buffer = 16 KB
BUFFER = N * N * 4


def matmul(name: str, lhs: str, init: str) -> str:
    return (f"%{name} = linalg.matmul ins(%{lhs}, %b : tensor<{N}x{N}xf32>, tensor<{N}x{N}xf32>) "
            f"outs(%{init} : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>")


def fill(name: str) -> str:
    return (f"%e_{name} = tensor.empty() : tensor<{N}x{N}xf32>\n  "
            f"%{name} = linalg.fill ins(%zero : f32) outs(%e_{name} : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>")


def chain(shared_fill: bool) -> str:
    """Three chained matmuls, each into a fill made just before it, or (as CSE leaves it) all into one."""
    if shared_fill:
        steps = [fill("f"), matmul("m1", "a", "f"), matmul("m2", "m1", "f"), matmul("m3", "m2", "f")]
    else:
        steps = [fill("f1"), matmul("m1", "a", "f1"), fill("f2"), matmul("m2", "m1", "f2"),
                 fill("f3"), matmul("m3", "m2", "f3")]
    body = "\n  ".join(["%zero = arith.constant 0.0 : f32", *steps, f"return %m3 : tensor<{N}x{N}xf32>"])
    return (f"func.func @chain(%a: tensor<{N}x{N}xf32>, %b: tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32> {{\n"
            f"  {body}\n}}")


@pytest.mark.parametrize("shared_fill, buffers", [(False, 2), (True, 3)])
def test_largest_live_set_of_a_chain(shared_fill, buffers):
    """Each matmul updates its fill in place; a fill that later matmuls still
    need cannot be updated in place, so it stays alive beside them."""
    module = ir.Module.parse(chain(shared_fill), make_context())
    with module.context:
        assert largest_live_sets(module) == {"chain": buffers * BUFFER}


@pytest.mark.parametrize("out_params", [False, True])
@pytest.mark.parametrize("shared_fill", [False, True])
def test_a_chain_holds_two_buffers_at_a_time(shared_fill, out_params):
    """m1 is done with once m2 is computed, so m3 can take its place: the
    temporaries m1 and m2 share an arena of two products (wafer-plan-buffers),
    held for the whole call. The result, m3, is the caller's buffer with
    out-params and malloc's without: either way the call holds three. The
    count is exact to the allocator's few bytes per block."""
    exe = wafer.compile_mlir(chain(shared_fill), pack=False, vectorize=False, threads=1, out_params=out_params)
    a, b = (np.random.default_rng(0).standard_normal((N, N), dtype=np.float32) for _ in range(2))
    np.testing.assert_allclose(exe.chain(a, b), a @ b @ b @ b, rtol=1e-4, atol=1e-3)
    assert exe.compile_report.arena_bytes["chain"] == 2 * BUFFER
    assert 3 * BUFFER <= exe.last_peak_bytes <= 3 * BUFFER + 2 * 128
    assert exe.held_bytes == 0


@pytest.mark.parametrize("name, batch", [("mlp", 1), ("mlp", 32), ("transformer", 1), ("resnet-block", 1)])
def test_peak_within_target_of_the_largest_live_set(name, batch):
    """Issue 4's memory target: a call's peak is at most 1.2x the model's largest live buffer set."""
    model, inputs = EXAMPLES[name].build(batch)
    compiled = wafer.compile(model, inputs)
    compiled(*inputs)
    live_set = compiled.compile_report.live_set_bytes["forward"]
    assert 0 < compiled.last_peak_bytes <= 1.2 * live_set
    assert compiled.executable.held_bytes == 0


@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_of_two_inputs_packs_one_k_block_at_a_time(threads):
    """Packed whole, A and B would add 2.5x the 1 MB result; one K block of B
    (128 KB) and each thread's tile of A (32 KB) stay within the target."""
    exe = wafer.compile_mlir(MATMUL.format(m=1024, n=256, k=512), threads=threads)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1024, 512), dtype=np.float32), rng.standard_normal((512, 256), dtype=np.float32)
    np.testing.assert_allclose(exe.forward(a, b), a @ b, rtol=1e-4, atol=1e-3)
    assert exe.compile_report.live_set_bytes["forward"] == 1024 * 256 * 4
    assert exe.last_peak_bytes <= 1.2 * 1024 * 256 * 4
