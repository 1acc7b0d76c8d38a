"""Every mistake a user can make surfaces as a WaferError that says what is wrong.

Calls with the wrong arguments must never run (a silent wrong answer or a
crash); bad modules fail at compile time with a located message.
"""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import wafer

MODULE = """
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
func.func @add_i32(%a: tensor<3xi32>, %b: tensor<3xi32>) -> tensor<3xi32> {
  %e = tensor.empty() : tensor<3xi32>
  %r = linalg.add ins(%a, %b : tensor<3xi32>, tensor<3xi32>) outs(%e : tensor<3xi32>) -> tensor<3xi32>
  return %r : tensor<3xi32>
}
func.func @negate_scalar(%a: tensor<f64>) -> tensor<f64> {
  %e = tensor.empty() : tensor<f64>
  %r = linalg.negf ins(%a : tensor<f64>) outs(%e : tensor<f64>) -> tensor<f64>
  return %r : tensor<f64>
}
"""

F32_ROWS = np.ones((2, 4), np.float32)
F32_SCALE = np.ones(4, np.float32)
I32 = np.ones(3, np.int32)


@pytest.fixture(scope="module")
def exe():
    return wafer.compile_mlir(MODULE)


# ---------------------------------------------------------------------------
# Calls.


@pytest.mark.parametrize(
    "name, args, message",
    [
        ("scale_rows", (F32_ROWS,), "error: @scale_rows takes 2 arguments, got 1"),
        ("scale_rows", (F32_ROWS, F32_SCALE, F32_SCALE), "error: @scale_rows takes 2 arguments, got 3"),
        ("negate_scalar", (), "error: @negate_scalar takes 1 arguments, got 0"),
    ],
)
def test_wrong_argument_count(exe, name, args, message):
    with pytest.raises(wafer.WaferError) as info:
        exe.invoke(name, *args)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "name, args, position, detail",
    [
        # A static dim that does not match.
        ("scale_rows", (np.ones((2, 5), np.float32), F32_SCALE), 0, "got shape 2x5"),
        ("scale_rows", (F32_ROWS, np.ones(3, np.float32)), 1, "got shape 3"),
        # The wrong rank, either way.
        ("scale_rows", (np.ones((2, 4, 1), np.float32), F32_SCALE), 0, "got shape 2x4x1"),
        ("scale_rows", (np.ones(4, np.float32), F32_SCALE), 0, "got shape 4"),
        ("negate_scalar", (np.ones(1),), 0, "got shape 1"),
        ("add_i32", (np.int32(1), I32), 0, "got shape scalar"),
    ],
)
def test_wrong_shape(exe, name, args, position, detail):
    with pytest.raises(wafer.WaferError) as info:
        exe.invoke(name, *args)
    message = str(info.value)
    assert message.startswith(f"error: argument {position} of @{name} must be ")
    assert message.endswith(detail)


@pytest.mark.parametrize(
    "name, args, position, got",
    [
        ("scale_rows", (F32_ROWS.astype(np.float64), F32_SCALE), 0, "float64"),
        ("scale_rows", (F32_ROWS, F32_SCALE.astype(np.float16)), 1, "float16"),
        ("scale_rows", (F32_ROWS.astype(np.int32), F32_SCALE), 0, "int32"),
        ("add_i32", (I32.astype(np.int64), I32), 0, "int64"),
        ("add_i32", (I32, I32.astype(np.int16)), 1, "int16"),
        ("add_i32", (I32.astype(np.float32), I32), 0, "float32"),
        ("add_i32", (I32.astype(bool), I32), 0, "bool"),
        # Same width but unsigned is fine (see test_compile_mlir); a different width is not.
        ("add_i32", (I32.astype(np.uint64), I32), 0, "uint64"),
        ("add_i32", (I32.astype(np.uint16), I32), 0, "uint16"),
        # Python lists become int64 / float64 arrays: no silent narrowing.
        ("add_i32", ([1, 2, 3], I32), 0, "int64"),
        ("negate_scalar", (np.float32(1.0),), 0, "float32"),
    ],
)
def test_wrong_dtype(exe, name, args, position, got):
    with pytest.raises(wafer.WaferError) as info:
        exe.invoke(name, *args)
    message = str(info.value)
    assert message.startswith(f"error: argument {position} of @{name} must be ")
    assert message.endswith(f"got dtype {got}")


def test_shape_message_names_the_expected_type(exe):
    with pytest.raises(wafer.WaferError, match=re.escape("must be ?x4xfloat32, got shape 2x5")):
        exe.scale_rows(np.ones((2, 5), np.float32), F32_SCALE)


def test_unknown_function(exe):
    with pytest.raises(wafer.WaferError) as info:
        exe.invoke("main", F32_ROWS, F32_SCALE)
    message = str(info.value)
    assert message.startswith("error: no public function @main")
    assert "scale_rows" in message and "add_i32" in message  # says what there is
    with pytest.raises(AttributeError):
        exe.main  # attribute access follows Python's rules


def test_a_rejected_call_does_not_disturb_the_next_one(exe):
    with pytest.raises(wafer.WaferError):
        exe.add_i32(I32.astype(np.int64), I32)
    np.testing.assert_array_equal(exe.add_i32(I32, I32 * 5), I32 * 6)


# ---------------------------------------------------------------------------
# Compilation.


def test_malformed_text_gives_line_and_column():
    text = "func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n  return %b : tensor<4xf32>\n}\n"
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(text)
    message = str(info.value)
    assert re.search(r":2:10: error: use of undeclared SSA value name", message), message
    assert "Traceback" not in message


def test_verifier_error_gives_line_and_column():
    text = "func.func @f() {\n  %c = arith.constant 1 : i32\n  return %c : i32\n}\n"
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(text)
    assert re.search(r":3:3: error: 'func.return' op has 1 operands", str(info.value)), str(info.value)


def test_unsupported_op_fails_at_compile_time_naming_the_op():
    text = textwrap.dedent(
        """\
        func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
          %e = tensor.empty() : tensor<4xf32>
          %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
          return %r : tensor<4xf32>
        }
        """
    )
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(text)
    message = str(info.value)
    assert re.search(r":3:8: error: 'tosa.abs' is not supported by the CPU target", message), message
    assert message.count("error:") == 1


def test_torch_dialect_ops_left_in_a_linalg_module_are_unsupported():
    text = textwrap.dedent(
        """\
        func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
          %t = torch_c.from_builtin_tensor %a : tensor<4xf32> -> !torch.vtensor<[4],f32>
          %r = torch.aten.relu %t : !torch.vtensor<[4],f32> -> !torch.vtensor<[4],f32>
          %o = torch_c.to_builtin_tensor %r : !torch.vtensor<[4],f32> -> tensor<4xf32>
          return %o : tensor<4xf32>
        }
        """
    )
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(text)
    message = str(info.value)
    assert re.search(r":2:8: error: 'torch_c.from_builtin_tensor' is not supported by the CPU target", message), message


_SUPPORTED = "only ranked tensors, integers and floats are supported"


@pytest.mark.parametrize(
    "signature, detail",
    [
        ("%a: memref<4xf32>", f"argument 0 of @f has type memref<4xf32>; {_SUPPORTED}"),
        ("%a: tensor<*xf32>", f"argument 0 of @f has type tensor<*xf32>; {_SUPPORTED}"),
        ("%a: index", f"argument 0 of @f has type index; {_SUPPORTED}"),
        ("%a: tensor<4xf8E4M3FN>", "argument 0 of @f has element type f8E4M3FN, which has no numpy dtype"),
        ("%a: tensor<4xcomplex<i32>>", "argument 0 of @f has element type complex<i32>, which has no numpy dtype"),
    ],
)
def test_unsupported_signature(signature, detail):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(f"func.func @f({signature}) {{\n  return\n}}\n")
    assert str(info.value) == f"error: {detail}"


def test_unknown_target():
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir("func.func @f() {\n  return\n}\n", target="tpu")
    assert str(info.value) == "error: unknown target 'tpu' (known: cpu, wse)"


def test_unknown_pipeline_option():
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir("func.func @f() {\n  return\n}\n", tile_size=(4, 4))
    assert str(info.value) == "error: pipeline 'cpu' has no option 'tile_size' (options: after_bufferize, after_fuse, after_lower, after_pack, after_simplify, after_vectorize, after_verify, cache_tile, channels_last, chunks_per_thread, conv_algorithm, depthwise_conv, direct_conv, inverted_residual, k_block, k_unroll, machine, matvec, orient, out_params, pack, prefetch_tiles, profile, realign_stack, register_tile, streamed_b_rows, threads, tile_sizes, tuning, vectorize, wake_instructions, winograd)"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tile_sizes": 8}, "error: option cpu{tile_sizes}: 8 is not a list of int"),
        ({"tile_sizes": (4, "x")}, "error: option cpu{tile_sizes}: (4, 'x') is not a list of int"),
        ({"vectorize": 1}, "error: option cpu{vectorize}: 1 is not a bool"),
    ],
)
def test_badly_typed_pipeline_option(options, message):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir("func.func @f() {\n  return\n}\n", **options)
    assert str(info.value) == message


def test_pipeline_option_given_as_a_list():
    exe = wafer.compile_mlir(MODULE, tile_sizes=[4, 4], vectorize=False)
    a, s = np.arange(12, dtype=np.float32).reshape(3, 4), np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(exe.scale_rows(a, s), a * s)


# ---------------------------------------------------------------------------
# Runtime checks inside the compiled code.

ASSERTING_MODULE = """
func.func @add(%a: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?xf32>
  %m = tensor.dim %b, %c0 : tensor<?xf32>
  %same = arith.cmpi eq, %n, %m : index
  cf.assert %same, "mismatched size for broadcast"
  %e = tensor.empty(%n) : tensor<?xf32>
  %r = linalg.add ins(%a, %b : tensor<?xf32>, tensor<?xf32>) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  return %r : tensor<?xf32>
}
"""


def test_runtime_assert_passes_through_when_it_holds():
    exe = wafer.compile_mlir(ASSERTING_MODULE)
    a = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(exe.add(a, a), 2 * a)


# The same check in a private helper: its caller must return as soon as it fails.
CALLING_MODULE = ASSERTING_MODULE.replace("func.func @add", "func.func private @add") + """
func.func @add_twice(%a: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?xf32> {
  %s = call @add(%a, %b) : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  %t = call @add(%s, %b) : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  return %t : tensor<?xf32>
}
"""


@pytest.mark.parametrize(
    "module, function, good_result",
    [(ASSERTING_MODULE, "add", [2.0, 2.0]), (CALLING_MODULE, "add_twice", [3.0, 3.0])],
    ids=["assert", "assert-in-callee"],
)
def test_failed_runtime_assert_raises_instead_of_aborting(module, function, good_result):
    # In a child process, so that a regression to abort() fails this test, not the suite.
    script = textwrap.dedent(
        f"""
        import numpy as np, wafer
        exe = wafer.compile_mlir({module!r})
        try:
            exe.invoke({function!r}, np.ones(3, np.float32), np.ones(2, np.float32))
        except wafer.WaferError as err:
            print("raised:", err)
        print("then:", exe.invoke({function!r}, np.ones(2, np.float32), np.ones(2, np.float32)).tolist())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"raised: -:7:3: error: mismatched size for broadcast (a runtime check in @{function})",
        f"then: {good_result}",  # a failure leaves nothing behind for the next call
    ]
