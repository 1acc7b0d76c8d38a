"""`wafer.compile_mlir` on hand-written linalg modules, checked against numpy.

Each module is compiled once per test module (module-scoped fixtures); every
expected value is computed by numpy from the same inputs.
"""

import numpy as np
import pytest
from torch_mlir import ir

import wafer

# ---------------------------------------------------------------------------
# Element types: one function per dtype MLIR's arith dialect can express.

INT_TYPES = {"i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64}
FLOAT_TYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64}


def _binary_elementwise(name: str, element: str, body: list[str], result: str | None = None) -> str:
    """`@name(a, b) -> r` over tensor<2x3xT>, with `body` computing %r from %x, %y."""
    result = result or element
    lines = "\n".join(f"    {line}" for line in body)
    return f"""
func.func @{name}(%a: tensor<2x3x{element}>, %b: tensor<2x3x{element}>) -> tensor<2x3x{result}> {{
  %e = tensor.empty() : tensor<2x3x{result}>
  %r = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}}
      ins(%a, %b : tensor<2x3x{element}>, tensor<2x3x{element}>) outs(%e : tensor<2x3x{result}>) {{
  ^bb0(%x: {element}, %y: {element}, %o: {result}):
{lines}
    linalg.yield %r0 : {result}
  }} -> tensor<2x3x{result}>
  return %r : tensor<2x3x{result}>
}}"""


DTYPES_MLIR = "".join(
    [
        _binary_elementwise(f"fma_{t}", t, [f"%m = arith.muli %x, %y : {t}", f"%r0 = arith.addi %m, %x : {t}"])
        for t in INT_TYPES
    ]
    + [
        _binary_elementwise(f"fma_{t}", t, [f"%m = arith.mulf %x, %y : {t}", f"%r0 = arith.addf %m, %x : {t}"])
        for t in FLOAT_TYPES
    ]
    + [
        _binary_elementwise("xor_i1", "i1", ["%r0 = arith.xori %x, %y : i1"]),
        _binary_elementwise("less_f32", "f32", ["%r0 = arith.cmpf olt, %x, %y : f32"], result="i1"),
    ]
)


@pytest.fixture(scope="module")
def dtypes_exe():
    return wafer.compile_mlir(DTYPES_MLIR)


def _random(rng, dtype, shape=(2, 3)):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("name", list(INT_TYPES))
def test_integer_dtypes_wrap_like_numpy(dtypes_exe, name):
    dtype = INT_TYPES[name]
    rng = np.random.default_rng(1)
    a, b = _random(rng, dtype), _random(rng, dtype)
    got = dtypes_exe.invoke(f"fma_{name}", a, b)
    assert got.dtype == dtype and got.shape == (2, 3)
    np.testing.assert_array_equal(got, a * b + a)  # numpy arrays wrap on overflow too


@pytest.mark.parametrize("signed", list(INT_TYPES))
def test_unsigned_arrays_of_the_same_width_are_accepted(dtypes_exe, signed):
    dtype = INT_TYPES[signed]
    unsigned = np.dtype(dtype).str.replace("i", "u")
    rng = np.random.default_rng(2)
    a, b = _random(rng, unsigned), _random(rng, unsigned)
    got = dtypes_exe.invoke(f"fma_{signed}", a, b)
    # The function computes on the same bits; the result comes back signed.
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, (a * b + a).view(dtype))


@pytest.mark.parametrize("name", list(FLOAT_TYPES))
def test_float_dtypes(dtypes_exe, name):
    dtype = FLOAT_TYPES[name]
    rng = np.random.default_rng(3)
    a, b = _random(rng, dtype), _random(rng, dtype)
    got = dtypes_exe.invoke(f"fma_{name}", a, b)
    assert got.dtype == dtype
    rtol = {np.float16: 1e-3, np.float32: 1e-6, np.float64: 1e-14}[dtype]
    np.testing.assert_allclose(got, a * b + a, rtol=rtol, atol=rtol)


def test_bool_in_bool_out(dtypes_exe):
    a = np.array([[True, False, True], [False, True, False]])
    b = np.array([[True, True, False], [False, False, True]])
    got = dtypes_exe.xor_i1(a, b)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, a ^ b)


def test_comparison_returns_bool(dtypes_exe):
    rng = np.random.default_rng(4)
    a, b = _random(rng, np.float32), _random(rng, np.float32)
    got = dtypes_exe.less_f32(a, b)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, a < b)


# ---------------------------------------------------------------------------
# Shapes and calling conventions: several functions, none named "main".

DYNAMIC_MLIR = """
func.func @scale_rows(%a: tensor<?x4xf32>, %s: tensor<4xf32>) -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%a, %s : tensor<?x4xf32>, tensor<4xf32>) outs(%e : tensor<?x4xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %m = arith.mulf %x, %y : f32
    linalg.yield %m : f32
  } -> tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
"""

SHAPES_MLIR = """
#id = affine_map<(i, j) -> (i, j)>
func.func @total(%a: tensor<3x5xf32>) -> tensor<f32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r = linalg.generic {indexing_maps = [#id, affine_map<(i, j) -> ()>], iterator_types = ["reduction", "reduction"]}
      ins(%a : tensor<3x5xf32>) outs(%init : tensor<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}
func.func @mean(%a: tensor<3x5xf64>) -> tensor<f64> {
  %zero = arith.constant 0.0 : f64
  %count = arith.constant 15.0 : f64
  %e = tensor.empty() : tensor<f64>
  %init = linalg.fill ins(%zero : f64) outs(%e : tensor<f64>) -> tensor<f64>
  %sum = linalg.generic {indexing_maps = [#id, affine_map<(i, j) -> ()>], iterator_types = ["reduction", "reduction"]}
      ins(%a : tensor<3x5xf64>) outs(%init : tensor<f64>) {
  ^bb0(%x: f64, %acc: f64):
    %s = arith.addf %x, %acc : f64
    linalg.yield %s : f64
  } -> tensor<f64>
  %e2 = tensor.empty() : tensor<f64>
  %r = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []}
      ins(%sum : tensor<f64>) outs(%e2 : tensor<f64>) {
  ^bb0(%x: f64, %o: f64):
    %d = arith.divf %x, %count : f64
    linalg.yield %d : f64
  } -> tensor<f64>
  return %r : tensor<f64>
}
func.func @row_max(%a: tensor<6x10xf32>) -> tensor<6xf32> {
  %lowest = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<6xf32>
  %init = linalg.fill ins(%lowest : f32) outs(%e : tensor<6xf32>) -> tensor<6xf32>
  %r = linalg.generic {indexing_maps = [#id, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%a : tensor<6x10xf32>) outs(%init : tensor<6xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %m = arith.maximumf %x, %acc : f32
    linalg.yield %m : f32
  } -> tensor<6xf32>
  return %r : tensor<6xf32>
}
func.func @scalar_times_vector(%a: tensor<f64>, %b: tensor<3xf64>) -> tensor<3xf64> {
  %e = tensor.empty() : tensor<3xf64>
  %r = linalg.generic {indexing_maps = [affine_map<(i) -> ()>, affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%a, %b : tensor<f64>, tensor<3xf64>) outs(%e : tensor<3xf64>) {
  ^bb0(%x: f64, %y: f64, %o: f64):
    %m = arith.mulf %x, %y : f64
    linalg.yield %m : f64
  } -> tensor<3xf64>
  return %r : tensor<3xf64>
}
func.func @sum_and_product(%a: tensor<8xi32>, %b: tensor<8xi32>) -> (tensor<8xi32>, tensor<8xi32>) {
  %e = tensor.empty() : tensor<8xi32>
  %s = linalg.add ins(%a, %b : tensor<8xi32>, tensor<8xi32>) outs(%e : tensor<8xi32>) -> tensor<8xi32>
  %p = linalg.mul ins(%a, %b : tensor<8xi32>, tensor<8xi32>) outs(%e : tensor<8xi32>) -> tensor<8xi32>
  return %s, %p : tensor<8xi32>, tensor<8xi32>
}
func.func @mixed_results(%a: tensor<4x4xf32>) -> (tensor<f32>, tensor<4x4xf32>, tensor<4x4xi1>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %sum = linalg.generic {indexing_maps = [#id, affine_map<(i, j) -> ()>], iterator_types = ["reduction", "reduction"]}
      ins(%a : tensor<4x4xf32>) outs(%init : tensor<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  %e2 = tensor.empty() : tensor<4x4xi1>
  %pos = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x4xf32>) outs(%e2 : tensor<4x4xi1>) {
  ^bb0(%x: f32, %o: i1):
    %c = arith.cmpf ogt, %x, %zero : f32
    linalg.yield %c : i1
  } -> tensor<4x4xi1>
  return %sum, %a, %pos : tensor<f32>, tensor<4x4xf32>, tensor<4x4xi1>
}
func.func @identity(%a: tensor<64x64xf32>) -> tensor<64x64xf32> {
  return %a : tensor<64x64xf32>
}
func.func @argument_twice(%a: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  return %a, %a : tensor<4xf32>, tensor<4xf32>
}
func.func @computed_twice(%a: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.add ins(%a, %a : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %r, %a, %r : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
func.func @constant() -> tensor<2x3xf32> {
  %c = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]> : tensor<2x3xf32>
  return %c : tensor<2x3xf32>
}
func.func @splat_constant() -> tensor<64x64xi64> {
  %c = arith.constant dense<7> : tensor<64x64xi64>
  return %c : tensor<64x64xi64>
}
func.func private @square(%a: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.mul ins(%a, %a : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
func.func @calls_private(%a: tensor<4xf32>) -> tensor<4xf32> {
  %r = func.call @square(%a) : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
func.func @no_results(%a: tensor<4xf32>) {
  return
}
"""


@pytest.fixture(scope="module")
def dynamic_exe():
    """A module with a dynamic result: every function returns its results."""
    return wafer.compile_mlir(SHAPES_MLIR + DYNAMIC_MLIR)


@pytest.fixture(scope="module", params=[True, False], ids=["out-params", "returned"])
def shapes_exe(request):
    """Static results, by both conventions: written into the caller's arrays
    (the default), or returned by the compiled code and copied out."""
    return wafer.compile_mlir(SHAPES_MLIR, out_params=request.param)


def test_out_params_need_static_results():
    with pytest.raises(wafer.WaferError, match=r"out-params needs static result shapes, and @scale_rows"):
        wafer.compile_mlir(DYNAMIC_MLIR, out_params=True)


def test_each_call_writes_a_new_array(shapes_exe):
    """With out-params the compiled code writes the caller's array: a later
    call must not write into what an earlier one returned."""
    a, b = np.arange(8, dtype=np.int32), np.full(8, 3, np.int32)
    first, _ = shapes_exe.sum_and_product(a, b)
    second, _ = shapes_exe.sum_and_product(b, b)
    np.testing.assert_array_equal(first, a + b)
    np.testing.assert_array_equal(second, b + b)


def test_public_functions_are_listed_private_ones_are_not(dynamic_exe):
    assert set(dynamic_exe.functions) == {
        "scale_rows", "total", "mean", "row_max", "scalar_times_vector", "sum_and_product",
        "mixed_results", "identity", "argument_twice", "constant", "splat_constant",
        "calls_private", "no_results", "computed_twice",
    }


def test_invoke_and_attribute_call_agree(dynamic_exe):
    rng = np.random.default_rng(5)
    a, s = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(dynamic_exe.invoke("scale_rows", a, s), a * s, rtol=1e-6)
    np.testing.assert_allclose(dynamic_exe.scale_rows(a, s), a * s, rtol=1e-6)


def test_threads_calling_at_once_each_get_their_own_results(dynamic_exe, shapes_exe):
    """ctypes lets go of the GIL during a call: each thread passes its own
    descriptors (and shapes, and result arrays)."""
    from concurrent.futures import ThreadPoolExecutor

    def calls(rows: int) -> bool:
        rng = np.random.default_rng(rows)
        a, s = rng.standard_normal((rows, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
        b = rng.standard_normal((64, 64)).astype(np.float32)
        return all(np.array_equal(dynamic_exe.scale_rows(a, s), a * s) and np.array_equal(shapes_exe.identity(b), b)
                   for _ in range(300))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(calls, [1000, 2000, 3000, 4000]))


@pytest.mark.parametrize("rows", [1, 3, 17, 0])
def test_dynamic_dim_takes_any_size(dynamic_exe, rows):
    rng = np.random.default_rng(rows)
    a, s = rng.standard_normal((rows, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    got = dynamic_exe.scale_rows(a, s)
    assert got.shape == (rows, 4)
    np.testing.assert_allclose(got, a * s, rtol=1e-6)


def test_zero_d_result_from_a_full_reduction(shapes_exe):
    a = np.random.default_rng(6).standard_normal((3, 5)).astype(np.float32)
    got = shapes_exe.total(a)
    assert isinstance(got, np.ndarray) and got.shape == () and got.dtype == np.float32
    np.testing.assert_allclose(got, a.sum(), rtol=1e-5)


def test_zero_d_elementwise_after_a_reduction(shapes_exe):
    a = np.random.default_rng(7).standard_normal((3, 5))
    got = shapes_exe.mean(a)
    assert got.shape == () and got.dtype == np.float64
    np.testing.assert_allclose(got, a.mean(), rtol=1e-12)


def test_partial_reduction(shapes_exe):
    a = np.random.default_rng(8).standard_normal((6, 10)).astype(np.float32)
    np.testing.assert_array_equal(shapes_exe.row_max(a), a.max(axis=1))


@pytest.mark.parametrize("scalar", [np.array(2.5), 2.5, np.float64(-1.0)])
def test_zero_d_argument(shapes_exe, scalar):
    b = np.arange(3.0)
    np.testing.assert_array_equal(shapes_exe.scalar_times_vector(scalar, b), float(scalar) * b)


def test_tuple_of_results(shapes_exe):
    rng = np.random.default_rng(9)
    a = rng.integers(-1000, 1000, 8, dtype=np.int32)
    b = rng.integers(-1000, 1000, 8, dtype=np.int32)
    got = shapes_exe.sum_and_product(a, b)
    assert isinstance(got, tuple) and len(got) == 2
    np.testing.assert_array_equal(got[0], a + b)
    np.testing.assert_array_equal(got[1], a * b)


def test_tuple_of_mixed_ranks_and_dtypes(shapes_exe):
    a = np.random.default_rng(10).standard_normal((4, 4)).astype(np.float32)
    total, same, positive = shapes_exe.mixed_results(a)
    assert total.shape == () and same.dtype == np.float32 and positive.dtype == np.bool_
    np.testing.assert_allclose(total, a.sum(), rtol=1e-5)
    np.testing.assert_array_equal(same, a)
    np.testing.assert_array_equal(positive, a > 0)


def test_returning_an_argument_gives_a_fresh_copy_every_time(shapes_exe):
    a = np.random.default_rng(11).standard_normal((64, 64)).astype(np.float32)
    before = a.copy()
    for _ in range(300):
        got = shapes_exe.identity(a)
        np.testing.assert_array_equal(got, before)
    assert not np.shares_memory(got, a)
    got[:] = 0  # the result is ours: writing it leaves the argument alone
    np.testing.assert_array_equal(a, before)
    np.testing.assert_array_equal(shapes_exe.identity(a), before)


def test_returning_one_argument_twice(shapes_exe):
    a = np.arange(4, dtype=np.float32)
    for _ in range(300):
        first, second = shapes_exe.argument_twice(a)
        np.testing.assert_array_equal(first, a)
        np.testing.assert_array_equal(second, a)
    assert not np.shares_memory(first, second)


def test_returning_one_computed_buffer_twice(shapes_exe):
    """Each result its own array: out-params copy the buffer into the second
    (wafer-return-allocations); returned buffers are freed once, not twice."""
    a = np.arange(4, dtype=np.float32)
    for _ in range(300):
        first, same, second = shapes_exe.computed_twice(a)
        np.testing.assert_array_equal(first, a + a)
        np.testing.assert_array_equal(second, a + a)
        np.testing.assert_array_equal(same, a)
    assert not np.shares_memory(first, second)
    assert shapes_exe.held_bytes == 0


def test_returning_a_constant_many_times(shapes_exe):
    expected = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]], dtype=np.float32)
    for _ in range(300):
        got = shapes_exe.constant()
        np.testing.assert_array_equal(got, expected)
    got[0, 0] = 100  # must not write into the compiled constant
    np.testing.assert_array_equal(shapes_exe.constant(), expected)
    for _ in range(300):
        np.testing.assert_array_equal(shapes_exe.splat_constant(), np.full((64, 64), 7, np.int64))


def test_call_to_a_private_function(shapes_exe):
    a = np.array([1.0, -2.0, 3.0, 0.5], dtype=np.float32)
    np.testing.assert_array_equal(shapes_exe.calls_private(a), a * a)


def test_function_without_results_returns_none(shapes_exe):
    assert shapes_exe.no_results(np.zeros(4, np.float32)) is None


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda a: a[::2], id="strided"),
        pytest.param(lambda a: np.asfortranarray(a[:4]), id="fortran"),
        pytest.param(lambda a: a[:4].T.copy().T, id="transposed"),
    ],
)
def test_non_contiguous_arguments(dynamic_exe, make):
    base = np.random.default_rng(12).standard_normal((8, 4)).astype(np.float32)
    a = make(base)
    s = np.array([1.0, 2.0, -1.0, 0.5], dtype=np.float32)
    np.testing.assert_allclose(dynamic_exe.scale_rows(a, s), a * s, rtol=1e-6)


# ---------------------------------------------------------------------------
# The fusion path: contractions with producers and consumers, odd sizes.

FUSED_MLIR = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
#chan = affine_map<(n, c, h, w) -> (c)>
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
func.func @matmul_bias_relu(%a: tensor<20x30xf32>, %b: tensor<30x70xf32>, %bias: tensor<70xf32>) -> tensor<20x70xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<20x70xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<20x70xf32>) -> tensor<20x70xf32>
  %mm = linalg.matmul ins(%a, %b : tensor<20x30xf32>, tensor<30x70xf32>) outs(%fill : tensor<20x70xf32>) -> tensor<20x70xf32>
  %r = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %bias : tensor<20x70xf32>, tensor<70xf32>) outs(%e : tensor<20x70xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<20x70xf32>
  return %r : tensor<20x70xf32>
}
func.func @linear(%x: tensor<5x16xf32>, %w: tensor<24x16xf32>) -> tensor<5x24xf32> {
  %zero = arith.constant 0.0 : f32
  %et = tensor.empty() : tensor<16x24xf32>
  %wt = linalg.transpose ins(%w : tensor<24x16xf32>) outs(%et : tensor<16x24xf32>) permutation = [1, 0]
  %e = tensor.empty() : tensor<5x24xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<5x24xf32>) -> tensor<5x24xf32>
  %r = linalg.matmul ins(%x, %wt : tensor<5x16xf32>, tensor<16x24xf32>) outs(%fill : tensor<5x24xf32>) -> tensor<5x24xf32>
  return %r : tensor<5x24xf32>
}
func.func @batch_matmul(%a: tensor<3x7x9xf32>, %b: tensor<3x9x11xf32>) -> tensor<3x7x11xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x7x11xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<3x7x11xf32>) -> tensor<3x7x11xf32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<3x7x9xf32>, tensor<3x9x11xf32>) outs(%fill : tensor<3x7x11xf32>) -> tensor<3x7x11xf32>
  return %r : tensor<3x7x11xf32>
}
func.func @conv_bias_relu(%x: tensor<2x3x10x9xf32>, %w: tensor<8x3x3x3xf32>, %bias: tensor<8xf32>) -> tensor<2x8x8x7xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x8x8x7xf32>
  %init = linalg.generic {indexing_maps = [#chan, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : tensor<8xf32>) outs(%e : tensor<2x8x8x7xf32>) {
  ^bb0(%b: f32, %o: f32):
    linalg.yield %b : f32
  } -> tensor<2x8x8x7xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<2x3x10x9xf32>, tensor<8x3x3x3xf32>) outs(%init : tensor<2x8x8x7xf32>) -> tensor<2x8x8x7xf32>
  %relu = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv : tensor<2x8x8x7xf32>) outs(%e : tensor<2x8x8x7xf32>) {
  ^bb0(%v: f32, %o: f32):
    %m = arith.maximumf %v, %zero : f32
    linalg.yield %m : f32
  } -> tensor<2x8x8x7xf32>
  return %relu : tensor<2x8x8x7xf32>
}
func.func @dynamic_matmul(%a: tensor<?x12xf32>, %b: tensor<12x?xf32>) -> tensor<?x?xf32> {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = tensor.dim %a, %c0 : tensor<?x12xf32>
  %n = tensor.dim %b, %c1 : tensor<12x?xf32>
  %e = tensor.empty(%m, %n) : tensor<?x?xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?xf32>) -> tensor<?x?xf32>
  %r = linalg.matmul ins(%a, %b : tensor<?x12xf32>, tensor<12x?xf32>) outs(%fill : tensor<?x?xf32>) -> tensor<?x?xf32>
  return %r : tensor<?x?xf32>
}
"""

PIPELINE_OPTIONS = [
    pytest.param({}, id="default"),
    pytest.param({"tile_sizes": (4, 4)}, id="tile-4x4"),
    pytest.param({"tile_sizes": (3, 5)}, id="tile-3x5-ragged"),
    pytest.param({"vectorize": False}, id="scalar"),
]


@pytest.fixture(scope="module", params=PIPELINE_OPTIONS)
def fused_exe(request):
    return wafer.compile_mlir(FUSED_MLIR, **request.param)


def _conv2d_nchw(x, w):
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))  # n c oh ow kh kw
    return np.einsum("nchwij,fcij->nfhw", windows, w)


def test_matmul_bias_relu(fused_exe):
    rng = np.random.default_rng(13)
    a, b = rng.standard_normal((20, 30)).astype(np.float32), rng.standard_normal((30, 70)).astype(np.float32)
    bias = rng.standard_normal(70).astype(np.float32)
    expected = np.maximum(a @ b + bias, 0)
    np.testing.assert_allclose(fused_exe.matmul_bias_relu(a, b, bias), expected, rtol=1e-5, atol=1e-5)


def test_linear_with_transposed_weight(fused_exe):
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((5, 16)).astype(np.float32), rng.standard_normal((24, 16)).astype(np.float32)
    np.testing.assert_allclose(fused_exe.linear(x, w), x @ w.T, rtol=1e-5, atol=1e-5)


def test_batch_matmul(fused_exe):
    rng = np.random.default_rng(15)
    a, b = rng.standard_normal((3, 7, 9)).astype(np.float32), rng.standard_normal((3, 9, 11)).astype(np.float32)
    np.testing.assert_allclose(fused_exe.batch_matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)


def test_conv_bias_relu(fused_exe):
    rng = np.random.default_rng(16)
    x, w = rng.standard_normal((2, 3, 10, 9)).astype(np.float32), rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    expected = np.maximum(_conv2d_nchw(x, w) + bias[None, :, None, None], 0)
    np.testing.assert_allclose(fused_exe.conv_bias_relu(x, w, bias), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m, n", [(1, 1), (9, 70), (33, 5)])
def test_dynamic_matmul(fused_exe, m, n):
    rng = np.random.default_rng(m * 100 + n)
    a, b = rng.standard_normal((m, 12)).astype(np.float32), rng.standard_normal((12, n)).astype(np.float32)
    np.testing.assert_allclose(fused_exe.dynamic_matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)


def test_compile_report_names_every_stage(fused_exe):
    names = [stage.name for stage in fused_exe.compile_report.stages]
    assert names[0] == "verify" and names[-1] == "jit"
    assert {"fuse", "bufferize", "lower"} <= set(names)


# ---------------------------------------------------------------------------
# torch-mlir's own ops: tm_tensor (cumsum, index_put, scatter) and ml_program.

# As torch_mlir.fx.export_and_import(..., OutputType.LINALG_ON_TENSORS) emits
# them for torch.cumsum(x, 1) and torch.index_put(x, (idx,), v, accumulate=True).
CUMSUM_MLIR = """
func.func @cumsum(%arg0: tensor<3x5xf32>) -> tensor<3x5xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %0 = tensor.empty() : tensor<3x5xf32>
  %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<3x5xf32>) -> tensor<3x5xf32>
  %2 = tensor.empty() : tensor<3xf32>
  %3 = linalg.fill ins(%cst : f32) outs(%2 : tensor<3xf32>) -> tensor<3xf32>
  %4:2 = tm_tensor.scan dimension(1) inclusive(true) ins(%arg0 : tensor<3x5xf32>) outs(%1, %3 : tensor<3x5xf32>, tensor<3xf32>) {
  ^bb0(%arg1: f32, %arg2: f32):
    %5 = arith.addf %arg1, %arg2 : f32
    tm_tensor.yield %5 : f32
  } -> tensor<3x5xf32>, tensor<3xf32>
  return %4#0 : tensor<3x5xf32>
}
"""

INDEX_PUT_MLIR = """
func.func @index_put_accumulate(%arg0: tensor<6xf32>, %arg1: tensor<3xi64>, %arg2: tensor<3xf32>) -> tensor<6xf32> {
  %expanded = tensor.expand_shape %arg1 [[0, 1]] output_shape [3, 1] : tensor<3xi64> into tensor<3x1xi64>
  %expanded_0 = tensor.expand_shape %arg2 [[0, 1]] output_shape [3, 1] : tensor<3xf32> into tensor<3x1xf32>
  %0 = tm_tensor.scatter {dimension_map = array<i64: 0>} unique_indices(false) ins(%expanded_0, %expanded : tensor<3x1xf32>, tensor<3x1xi64>) outs(%arg0 : tensor<6xf32>) {
  ^bb0(%arg3: f32, %arg4: f32):
    %1 = arith.addf %arg4, %arg3 : f32
    tm_tensor.yield %1 : f32
  } -> tensor<6xf32>
  return %0 : tensor<6xf32>
}
"""

# A scan between linalg ops, reading a strided slice and written back into one:
# its operands and results cross from one-shot-bufferized code to tm_tensor's own.
SCAN_IN_SLICE_MLIR = """
func.func @negated_cumsum_of_exp_tail(%x: tensor<3x5xf32>) -> (tensor<3x5xf32>, tensor<3xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  %e0 = tensor.empty() : tensor<3x5xf32>
  %exp = linalg.exp ins(%x : tensor<3x5xf32>) outs(%e0 : tensor<3x5xf32>) -> tensor<3x5xf32>
  %tail = tensor.extract_slice %exp[0, 1] [3, 4] [1, 1] : tensor<3x5xf32> to tensor<3x4xf32>
  %e1 = tensor.empty() : tensor<3x4xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<3x4xf32>) -> tensor<3x4xf32>
  %e2 = tensor.empty() : tensor<3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<3xf32>) -> tensor<3xf32>
  %scan:2 = tm_tensor.scan dimension(1) inclusive(true) ins(%tail : tensor<3x4xf32>) outs(%f1, %f2 : tensor<3x4xf32>, tensor<3xf32>) {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %b : f32
    tm_tensor.yield %s : f32
  } -> tensor<3x4xf32>, tensor<3xf32>
  %e3 = tensor.empty() : tensor<3x4xf32>
  %neg = linalg.negf ins(%scan#0 : tensor<3x4xf32>) outs(%e3 : tensor<3x4xf32>) -> tensor<3x4xf32>
  %r = tensor.insert_slice %neg into %exp[0, 1] [3, 4] [1, 1] : tensor<3x4xf32> into tensor<3x5xf32>
  return %r, %scan#1 : tensor<3x5xf32>, tensor<3xf32>
}
"""


def test_tm_tensor_scan_cumsum():
    exe = wafer.compile_mlir(CUMSUM_MLIR)
    x = np.random.default_rng(17).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(exe.cumsum(x), np.cumsum(x, axis=1), rtol=1e-6)


def test_tm_tensor_scatter_index_put_accumulate():
    exe = wafer.compile_mlir(INDEX_PUT_MLIR)
    rng = np.random.default_rng(18)
    base = rng.standard_normal(6).astype(np.float32)
    original = base.copy()
    index, values = np.array([1, 3, 1]), rng.standard_normal(3).astype(np.float32)
    expected = base.copy()
    np.add.at(expected, index, values)  # repeated index 1 accumulates twice
    np.testing.assert_allclose(exe.index_put_accumulate(base, index, values), expected, rtol=1e-6)
    np.testing.assert_array_equal(base, original)  # the scatter's `outs` argument is not written


def test_tm_tensor_scan_between_linalg_ops():
    exe = wafer.compile_mlir(SCAN_IN_SLICE_MLIR)
    x = np.random.default_rng(20).standard_normal((3, 5)).astype(np.float32)
    expected = np.exp(x)
    running = np.cumsum(expected[:, 1:], axis=1)
    expected[:, 1:] = -running
    result, total = exe.negated_cumsum_of_exp_tail(x)
    np.testing.assert_allclose(result, expected, rtol=1e-5)
    np.testing.assert_allclose(total, running[:, -1], rtol=1e-5)


MUTABLE_GLOBAL_MLIR = """
ml_program.global private mutable @counter(dense<0> : tensor<i64>) : tensor<i64>
func.func @bump(%step: tensor<i64>) -> tensor<i64> {
  %c = ml_program.global_load @counter : tensor<i64>
  %e = tensor.empty() : tensor<i64>
  %n = linalg.add ins(%c, %step : tensor<i64>, tensor<i64>) outs(%e : tensor<i64>) -> tensor<i64>
  ml_program.global_store @counter = %n : tensor<i64>
  return %n : tensor<i64>
}
"""

CONST_GLOBAL_MLIR = """
ml_program.global private @weights(dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>) : tensor<4xf32>
func.func @add_weights(%a: tensor<4xf32>) -> tensor<4xf32> {
  %w = ml_program.global_load_const @weights : tensor<4xf32>
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.add ins(%a, %w : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
"""


def test_ml_program_mutable_global_keeps_state_between_calls():
    exe = wafer.compile_mlir(MUTABLE_GLOBAL_MLIR)
    steps = [3, -1, 10, 0, 7]
    got = [int(exe.bump(np.array(step, dtype=np.int64))) for step in steps]
    assert got == list(np.cumsum(steps))


def test_ml_program_global_load_const():
    exe = wafer.compile_mlir(CONST_GLOBAL_MLIR)
    a = np.random.default_rng(19).standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(exe.add_weights(a), a + np.array([1, 2, 3, 4], np.float32), rtol=1e-6)


# ---------------------------------------------------------------------------
# Input forms.

ADD_ONE_MLIR = """
func.func @add_one(%a: tensor<5xi32>) -> tensor<5xi32> {
  %one = arith.constant dense<1> : tensor<5xi32>
  %e = tensor.empty() : tensor<5xi32>
  %r = linalg.add ins(%a, %one : tensor<5xi32>, tensor<5xi32>) outs(%e : tensor<5xi32>) -> tensor<5xi32>
  return %r : tensor<5xi32>
}
"""


@pytest.mark.parametrize("context", ["plain", "wafer"])
def test_ir_module_input_is_compiled_and_left_unchanged(context):
    from wafer.context import make_context

    ctx = ir.Context() if context == "plain" else make_context()
    module = ir.Module.parse(ADD_ONE_MLIR, ctx)
    before = str(module)
    exe = wafer.compile_mlir(module)
    a = np.arange(5, dtype=np.int32)
    np.testing.assert_array_equal(exe.add_one(a), a + 1)
    assert str(module) == before  # the caller's module is not lowered in place


def test_text_with_a_leading_module_op():
    exe = wafer.compile_mlir(f"module {{\n{ADD_ONE_MLIR}\n}}")
    np.testing.assert_array_equal(exe.add_one(np.zeros(5, np.int32)), np.ones(5, np.int32))


def test_explicitly_public_function():
    exe = wafer.compile_mlir(ADD_ONE_MLIR.replace("func.func @add_one", "func.func public @add_one"))
    np.testing.assert_array_equal(exe.invoke("add_one", np.zeros(5, np.int32)), np.ones(5, np.int32))
