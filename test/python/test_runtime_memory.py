"""Calling a compiled function over and over does not grow the process.

Every function here allocates or returns about 1 MB per call, so leaking one
buffer per call would grow resident memory by ~1 GB over 1000 calls, far past
the bound of a few MB. Small leaks of Python objects in the runtime (a few KB
per call) hide in the allocator's slack, so they are counted directly as
objects the garbage collector tracks.
"""

import gc
import os

import numpy as np
import pytest

import wafer

CALLS = 1000
WARMUP = 20
BOUND_BYTES = 8 * 2**20
OBJECT_CALLS = 200

N = 512  # 512 x 512 float32 = 1 MB

MODULE = f"""
func.func @outer_product(%a: tensor<{N}x8xf32>, %b: tensor<8x{N}xf32>) -> tensor<{N}x{N}xf32> {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{N}x{N}xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>
  %r = linalg.matmul ins(%a, %b : tensor<{N}x8xf32>, tensor<8x{N}xf32>) outs(%f : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>
  return %r : tensor<{N}x{N}xf32>
}}
func.func @through_intermediate(%a: tensor<{N}x8xf32>, %b: tensor<8x{N}xf32>) -> tensor<{N}x8xf32> {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{N}x{N}xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>
  %big = linalg.matmul ins(%a, %b : tensor<{N}x8xf32>, tensor<8x{N}xf32>) outs(%f : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>
  %e2 = tensor.empty() : tensor<{N}x8xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<{N}x8xf32>) -> tensor<{N}x8xf32>
  %r = linalg.matmul ins(%big, %a : tensor<{N}x{N}xf32>, tensor<{N}x8xf32>) outs(%f2 : tensor<{N}x8xf32>) -> tensor<{N}x8xf32>
  return %r : tensor<{N}x8xf32>
}}
func.func @identity(%a: tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32> {{
  return %a : tensor<{N}x{N}xf32>
}}
func.func @constant() -> tensor<{N}x{N}xf32> {{
  %c = arith.constant dense<1.5> : tensor<{N}x{N}xf32>
  return %c : tensor<{N}x{N}xf32>
}}
func.func @scalar_sum(%a: tensor<{N}x{N}xf32>) -> tensor<f32> {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>], iterator_types = ["reduction", "reduction"]}}
      ins(%a : tensor<{N}x{N}xf32>) outs(%init : tensor<f32>) {{
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }} -> tensor<f32>
  return %r : tensor<f32>
}}
func.func @two_results(%a: tensor<{N}x{N}xf32>) -> (tensor<{N}x{N}xf32>, tensor<{N}x{N}xf32>) {{
  %e = tensor.empty() : tensor<{N}x{N}xf32>
  %s = linalg.add ins(%a, %a : tensor<{N}x{N}xf32>, tensor<{N}x{N}xf32>) outs(%e : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>
  %p = linalg.mul ins(%a, %a : tensor<{N}x{N}xf32>, tensor<{N}x{N}xf32>) outs(%e : tensor<{N}x{N}xf32>) -> tensor<{N}x{N}xf32>
  return %s, %p : tensor<{N}x{N}xf32>, tensor<{N}x{N}xf32>
}}
"""


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def exe():
    return wafer.compile_mlir(MODULE)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return {
        "tall": rng.standard_normal((N, 8)).astype(np.float32),
        "wide": rng.standard_normal((8, N)).astype(np.float32),
        "square": rng.standard_normal((N, N)).astype(np.float32),
    }


def growth_over_calls(call) -> int:
    for _ in range(WARMUP):
        call()
    before = resident_bytes()
    for _ in range(CALLS):
        call()
    return resident_bytes() - before


def test_results_are_right_before_counting(exe, inputs):
    a, b, m = inputs["tall"], inputs["wide"], inputs["square"]
    np.testing.assert_allclose(exe.outer_product(a, b), a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(exe.through_intermediate(a, b), (a @ b) @ a, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(exe.identity(m), m)
    np.testing.assert_array_equal(exe.constant(), np.full((N, N), 1.5, np.float32))
    np.testing.assert_allclose(exe.scalar_sum(m), m.sum(dtype=np.float64), rtol=1e-4)
    doubled, squared = exe.two_results(m)
    np.testing.assert_array_equal(doubled, m + m)
    np.testing.assert_array_equal(squared, m * m)


CASES = {
    "result": lambda exe, x: exe.outer_product(x["tall"], x["wide"]),
    "intermediate": lambda exe, x: exe.through_intermediate(x["tall"], x["wide"]),
    "returned-argument": lambda exe, x: exe.identity(x["square"]),
    "returned-constant": lambda exe, x: exe.constant(),
    "scalar-result": lambda exe, x: exe.scalar_sum(x["square"]),
    "two-results": lambda exe, x: exe.two_results(x["square"]),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_resident_memory_does_not_grow(exe, inputs, case):
    grown = growth_over_calls(lambda: case(exe, inputs))
    assert grown < BOUND_BYTES, f"resident memory grew by {grown / 2**20:.1f} MB over {CALLS} calls"


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_no_python_objects_accumulate(exe, inputs, case):
    for _ in range(WARMUP):
        case(exe, inputs)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(OBJECT_CALLS):
        case(exe, inputs)
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < OBJECT_CALLS // 4, f"{grown} more live objects after {OBJECT_CALLS} calls"
