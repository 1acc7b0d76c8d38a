"""What crosses a compiled function's boundary: scalars, complex and bf16
elements, and names with a leading underscore (`wafer.compile_mlir`)."""

import ml_dtypes
import numpy as np
import pytest

import wafer

SCALARS = """
func.func @first(%a: tensor<4xi64>) -> i64 {
  %c0 = arith.constant 0 : index
  %e = tensor.extract %a[%c0] : tensor<4xi64>
  return %e : i64
}
func.func @step(%x: f64, %n: i32) -> (f64, i1, tensor<2xf64>) {
  %one = arith.constant 1.0 : f64
  %s = arith.addf %x, %one : f64
  %b = arith.cmpf ogt, %s, %one : f64
  %nf = arith.sitofp %n : i32 to f64
  %t = tensor.from_elements %s, %nf : tensor<2xf64>
  return %s, %b, %t : f64, i1, tensor<2xf64>
}
func.func @_helper(%a: tensor<3xf32>) -> tensor<3xf32> {
  return %a : tensor<3xf32>
}
"""


def _squares(element: str) -> str:
    multiply = "complex.mul" if element.startswith("complex") else "arith.mulf"
    return f"""
func.func @square(%a: tensor<4x{element}>) -> tensor<4x{element}> {{
  %e = tensor.empty() : tensor<4x{element}>
  %r = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}}
      ins(%a : tensor<4x{element}>) outs(%e : tensor<4x{element}>) {{
  ^bb0(%x: {element}, %o: {element}):
    %m = {multiply} %x, %x : {element}
    linalg.yield %m : {element}
  }} -> tensor<4x{element}>
  return %r : tensor<4x{element}>
}}
"""


@pytest.fixture(scope="module")
def scalars():
    return wafer.compile_mlir(SCALARS)


def test_a_scalar_result_is_a_numpy_scalar(scalars):
    result = scalars.first(np.array([7, 1, 2, 3], dtype=np.int64))
    assert type(result) is np.int64 and result == 7


def test_scalar_arguments_take_python_numbers(scalars):
    value, positive, both = scalars.step(2.5, 3)
    assert type(value) is np.float64 and value == 3.5
    assert type(positive) is np.bool_ and positive
    np.testing.assert_array_equal(both, [3.5, 3.0])
    assert not scalars.step(np.float64(-4.0), np.int32(0))[1]


@pytest.mark.parametrize("arguments, message", [
    ((2.5, 3.5), "error: argument 1 of @step must be scalar int32, got dtype float64"),
    ((2.5, 2**40), "error: argument 1 of @step must be scalar int32, got 1099511627776, which does not fit"),
    ((np.ones(2), 3), "error: argument 0 of @step must be scalar float64, got shape 2"),
])
def test_a_wrong_scalar_argument_is_refused(scalars, arguments, message):
    with pytest.raises(wafer.WaferError) as info:
        scalars.step(*arguments)
    assert str(info.value) == message


def test_a_function_named_with_an_underscore_is_callable(scalars):
    np.testing.assert_array_equal(scalars._helper(np.arange(3, dtype=np.float32)), [0, 1, 2])
    with pytest.raises(AttributeError):
        scalars.__wrapped__


@pytest.mark.parametrize("element, dtype", [
    ("complex<f32>", np.complex64), ("complex<f64>", np.complex128), ("bf16", ml_dtypes.bfloat16)])
def test_complex_and_bf16_elements(element, dtype):
    values = np.array([1 + 2j, 3j, 2, -1 - 1j]) if element.startswith("complex") else np.array([1, -2, 0.5, 3])
    square = wafer.compile_mlir(_squares(element)).square
    result = square(values.astype(dtype))
    assert result.dtype == dtype
    np.testing.assert_allclose(result.astype(np.complex128), values.astype(dtype).astype(np.complex128) ** 2)


def test_the_wse_target_refuses_scalars_by_name():
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(SCALARS, target="wse")
    assert str(info.value) == ("error: result 0 of @first is a scalar; the wse target takes and returns "
                               "tensors only (the cpu target takes both)")


def test_code_calling_an_undefined_function_is_an_error_not_a_crash():
    text = """
func.func private @nowhere(f32) -> f32
func.func @f(%a: tensor<f32>) -> tensor<f32> {
  %x = tensor.extract %a[] : tensor<f32>
  %y = func.call @nowhere(%x) : (f32) -> f32
  %r = tensor.from_elements %y : tensor<f32>
  return %r : tensor<f32>
}
"""
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(text)
    assert str(info.value).startswith("error: the JIT could not link @")
