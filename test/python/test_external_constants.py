"""Weights bound to the JIT in place (external_constants) and the blob store behind them."""

import numpy as np
import torch
from torch_mlir import ir
from torch_reference import Lambda, compile_checked

import wafer
from wafer.context import make_context
from wafer.external_constants import MIN_BYTES, externalize_constants
from wafer.passes.resource_blobs import aligned_empty, elements_array, resource_array, resource_attr, resource_name

GLOBALS = """module {
  llvm.mlir.global private constant @big(dense<[%s]> : tensor<1024xf32>) {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<1024 x f32>
  llvm.mlir.global private constant @small(dense<[1.0, 2.0]> : tensor<2xf32>) {addr_space = 0 : i32} : !llvm.array<2 x f32>
  llvm.mlir.global private constant @splat(dense<1.5> : tensor<2048xf32>) {addr_space = 0 : i32} : !llvm.array<2048 x f32>
  llvm.mlir.global private constant @complex(dense<(1.0, 2.0)> : tensor<1xcomplex<f32>>) {addr_space = 0 : i32} : !llvm.array<1 x struct<(f32, f32)>>
  llvm.mlir.global internal @counters(dense<0> : tensor<1024xi64>) {addr_space = 0 : i32} : !llvm.array<1024 x i64>
}"""


def test_a_large_constant_becomes_an_external_declaration_over_an_aligned_copy():
    values = np.arange(1024, dtype=np.float32) / 7
    module = ir.Module.parse(GLOBALS % ", ".join(map(str, values)), make_context())
    arrays = externalize_constants(module)
    assert list(arrays) == ["big"]
    assert arrays["big"].ctypes.data % 64 == 0
    np.testing.assert_array_equal(arrays["big"].view(np.float32), values)
    text = str(module)
    assert "llvm.mlir.global external constant @big() {addr_space = 0 : i32, alignment = 64 : i64}" in text
    # Small, splat and complex constants, and mutable globals, keep their initializers.
    for kept in ("@small(dense", "@splat(dense<1.5", "@complex(dense", "@counters(dense<0>"):
        assert kept in text
    assert 4096 <= MIN_BYTES


def test_constants_of_several_kinds_each_get_an_aligned_copy_of_their_own():
    """Sizes that are no multiple of the alignment, and another element type:
    each array starts on a 64-byte boundary and holds its own values."""
    floats, ints = np.arange(1030, dtype=np.float32) / 3, np.arange(2000, dtype=np.int32) - 1000
    text = """module {
  llvm.mlir.global private constant @a(dense<[%s]> : tensor<1030xf32>) {addr_space = 0 : i32} : !llvm.array<1030 x f32>
  llvm.mlir.global private constant @b(dense<[%s]> : tensor<2000xi32>) {addr_space = 0 : i32} : !llvm.array<2000 x i32>
}""" % (", ".join(map(str, floats)), ", ".join(map(str, ints)))
    arrays = externalize_constants(ir.Module.parse(text, make_context()))
    assert [(name, a.dtype, a.shape) for name, a in arrays.items()] == [("a", np.float32, (1030,)), ("b", np.int32, (2000,))]
    assert all(a.ctypes.data % 64 == 0 for a in arrays.values())
    np.testing.assert_array_equal(arrays["a"], floats)
    np.testing.assert_array_equal(arrays["b"], ints)


def test_an_array_a_pass_made_is_bound_as_it_is_and_the_callers_are_copied():
    """A packed weight (owned, aligned) is read in place; a view of the model's
    own tensor is copied, so the compiled code reads a snapshot of it."""
    with make_context(), ir.Location.unknown():
        vector = ir.RankedTensorType.get([2048], ir.F32Type.get())
        packed = aligned_empty((2048,), np.float32)
        packed[:] = np.arange(2048) / 3
        weight = np.arange(2048, dtype=np.float32)
        # Parsed text would name new blobs: the attributes go in after parsing, as a pass puts them.
        module = ir.Module.parse("module {\n" + "\n".join(
            f"llvm.mlir.global private constant @{name}(dense<0.0> : tensor<2048xf32>) "
            "{addr_space = 0 : i32} : !llvm.array<2048 x f32>" for name in "pw") + "\n}")
        made = (resource_attr(packed, "packed", vector, owned=True), resource_attr(weight, "weight", vector))
        for op, attr in zip(module.body.operations, made):
            op.attributes["value"] = attr
        arrays = externalize_constants(module)
    assert arrays["p"] is packed
    assert not np.shares_memory(arrays["w"], weight) and arrays["w"].ctypes.data % 64 == 0
    np.testing.assert_array_equal(arrays["w"], weight)


def test_blobs_made_from_arrays_are_read_back_by_their_unique_names():
    with make_context(), ir.Location.unknown():
        first, second = np.arange(6, dtype=np.float32), np.ones(6, dtype=np.float32)
        t = ir.RankedTensorType.get([2, 3], ir.F32Type.get())
        a, b = resource_attr(first, "w", t), resource_attr(second, "w", t)
        assert (resource_name(a), resource_name(b)) == ("w", "w_1")
        assert resource_array(a) is first and resource_array(b) is second
        np.testing.assert_array_equal(elements_array(b), second)
        parsed = ir.Attribute.parse("dense_resource<not_made_here> : tensor<2x3xf32>")
        assert elements_array(parsed) is None


def test_owned_arrays_of_equal_bytes_and_type_share_one_attribute():
    """Only equal bytes of one type share: a close value, another shape, or a
    caller's (not owned) array each keep a blob of their own."""
    with make_context(), ir.Location.unknown():
        row, grid = ir.RankedTensorType.get([64], ir.F32Type.get()), ir.RankedTensorType.get([8, 8], ir.F32Type.get())
        first = aligned_empty((64,), np.float32)
        first[:] = np.arange(64) / 3
        shared = resource_attr(first, "packed", row, owned=True)
        assert resource_attr(first.copy(), "packed", row, owned=True) == shared
        nudged = first.copy()
        nudged[40] = np.nextafter(nudged[40], np.float32(1e9))  # unsampled by the bucket key
        distinct = [resource_attr(nudged, "packed", row, owned=True),
                    resource_attr(first.reshape(8, 8).copy(), "packed", grid, owned=True),
                    resource_attr(first.copy(), "weight", row)]
        assert all(attr != shared for attr in distinct)
        np.testing.assert_array_equal(resource_array(distinct[0]), nudged)


def test_a_weight_read_at_every_step_of_a_loop_is_bound_once():
    """An RNN's step weight is packed once per step: one global for all of them."""
    torch.manual_seed(0)
    model = torch.nn.LSTM(16, 32, batch_first=True).eval()
    x = torch.randn(2, 12, 16)
    compiled = compile_checked(Lambda(lambda x: model(x)[0]), (x,))
    bound = compiled.executable.bound_constants
    assert sum(a.nbytes for a in bound.values()) < 2 * (16 + 32) * 128 * 4  # not one step weight per step


def test_models_of_one_architecture_keep_their_own_weights():
    """Each engine binds its own arrays to the same global names."""
    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Linear(64, 300), torch.nn.ReLU(), torch.nn.Linear(300, 10)).eval()
              for _ in range(2)]
    x = torch.randn(4, 64)
    compiled = [compile_checked(model, (x,)) for model in models]
    for c, model in zip(compiled, models):  # again, after both engines exist
        with torch.no_grad():
            torch.testing.assert_close(c(x), model(x), rtol=1e-4, atol=1e-4)
    bound = compiled[0].executable.bound_constants
    assert sum(a.nbytes for a in bound.values()) >= 64 * 300 * 4  # the first layer's packed weight at least


def test_a_compiled_model_keeps_working_after_its_weights_change_in_torch():
    """Compiling takes a snapshot: the model's tensors are not read at call time."""
    torch.manual_seed(0)
    model = torch.nn.Linear(256, 64).eval()
    x = torch.randn(3, 256)
    compiled = compile_checked(model, (x,))
    with torch.no_grad():
        expected = model(x)
        model.weight.mul_(2)
    torch.testing.assert_close(compiled(x), expected, rtol=1e-4, atol=1e-4)


def test_compile_mlir_of_parsed_weights_still_runs():
    """A blob parsed from text is not in the store: it stays in the code, and runs."""
    weights = np.arange(2048, dtype=np.float32).reshape(32, 64) / 2048
    hex_data = "0x04000000" + weights.tobytes().hex()
    text = f"""module {{
  func.func @forward(%x: tensor<4x32xf32>) -> tensor<4x64xf32> {{
    %w = arith.constant dense_resource<w> : tensor<32x64xf32>
    %zero = arith.constant 0.0 : f32
    %empty = tensor.empty() : tensor<4x64xf32>
    %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<4x64xf32>) -> tensor<4x64xf32>
    %y = linalg.matmul ins(%x, %w : tensor<4x32xf32>, tensor<32x64xf32>) outs(%init : tensor<4x64xf32>) -> tensor<4x64xf32>
    return %y : tensor<4x64xf32>
  }}
}}
{{-#
  dialect_resources: {{
    builtin: {{
      w: "{hex_data}"
    }}
  }}
#-}}
"""
    exe = wafer.compile_mlir(text)
    x = np.random.default_rng(0).standard_normal((4, 32), dtype=np.float32)
    np.testing.assert_allclose(exe.forward(x), x @ weights, rtol=1e-5, atol=1e-5)
