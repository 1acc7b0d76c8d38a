"""A corpus of bad inputs: each ends in one `error:` line that says what and where,
with a non-zero exit from the command-line tools, never a traceback or a crash.

Where a fault can only be found at run time, the call raises WaferError and the
executable stays usable for the next call.
"""

import re
import textwrap

import numpy as np
import pytest
import torch

import wafer
from wafer.tools import wafer_cli, wafer_opt

F = torch.nn.functional
VALID = "func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n  return %a : tensor<4xf32>\n}\n"


def one_error_line(text: str, where: str = "") -> str:
    """The message's error line, once checked to be the only one (after `where`, a regex);
    indented lines after it may show the context, like a caret under a pipeline's column."""
    lines = text.strip().splitlines()
    assert all(line.startswith(" ") for line in lines[1:]), text
    assert "Traceback" not in text
    assert re.match(rf"^{where}error: \S", lines[0]), lines[0]
    return lines[0]


def run_tool(main, argv: list[str], capsys) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code != 0, captured.out
    return captured.err


# ---------------------------------------------------------------------------------------
# Malformed and invalid IR: through wafer-opt (file:line:col) and compile_mlir.

MALFORMED = {
    "unclosed_signature": "func.func @f( {\n",
    "missing_brace": "func.func @f() {\n  return\n",
    "unknown_dialect_op": 'func.func @f() {\n  %0 = "foo.bar"() : () -> i32\n  return\n}\n',
    "unknown_op_in_known_dialect": "func.func @f() {\n  %0 = arith.frobnicate : i32\n  return\n}\n",
    "undefined_value": "func.func @f() -> i32 {\n  return %x : i32\n}\n",
    "bad_type": "func.func @f(%a: tensor<4xfloat>) {\n  return\n}\n",
    "bad_shape": "func.func @f(%a: tensor<4x?x>) {\n  return\n}\n",
    "wrong_return_type": "func.func @f(%a: f32) -> i32 {\n  return %a : f32\n}\n",
    "missing_return": "func.func @f(%a: f32) -> f32 {\n}\n",
    "duplicate_value": "func.func @f() {\n  %0 = arith.constant 1 : i32\n  %0 = arith.constant 2 : i32\n  return\n}\n",
    "operand_type_mismatch": "func.func @f(%a: f32, %b: i32) -> f32 {\n  %c = arith.addf %a, %b : f32\n  return %c : f32\n}\n",
    "bad_attribute": "func.func @f() {\n  %0 = arith.constant 1.5 : i32\n  return\n}\n",
    "unterminated_string": 'func.func @f() attributes {x = "abc} {\n  return\n}\n',
    "bad_affine_map": "#m = affine_map<(d0) -> (d1)>\nfunc.func @f() {\n  return\n}\n",
    "use_before_def": "func.func @f() -> i32 {\n  %a = arith.addi %b, %b : i32\n  %b = arith.constant 1 : i32\n  return %a : i32\n}\n",
    "wrong_operand_count": "func.func @f(%a: f32) -> f32 {\n  %c = arith.addf %a : f32\n  return %c : f32\n}\n",
    "garbage": "this is not MLIR\n",
    "unknown_type_dialect": "func.func @f(%a: !foo.bar) {\n  return\n}\n",
    "bad_generic_maps": textwrap.dedent("""\
        func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
          %r = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
              ins(%a : tensor<4xf32>) outs(%a : tensor<4xf32>) {
          ^bb0(%x: f32, %o: f32):
            linalg.yield %x : f32
          } -> tensor<4xf32>
          return %r : tensor<4xf32>
        }
        """),
    "matmul_shape_mismatch": textwrap.dedent("""\
        func.func @f(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>, %c: tensor<2x5xf32>) -> tensor<2x5xf32> {
          %r = linalg.matmul ins(%a, %b : tensor<2x3xf32>, tensor<4x5xf32>) outs(%c : tensor<2x5xf32>) -> tensor<2x5xf32>
          return %r : tensor<2x5xf32>
        }
        """),
    "yield_wrong_type": textwrap.dedent("""\
        func.func @f(%a: tensor<4xf32>, %o: tensor<4xi32>) -> tensor<4xi32> {
          %r = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
              ins(%a : tensor<4xf32>) outs(%o : tensor<4xi32>) {
          ^bb0(%x: f32, %y: i32):
            linalg.yield %x : f32
          } -> tensor<4xi32>
          return %r : tensor<4xi32>
        }
        """),
    "extract_slice_out_of_bounds": textwrap.dedent("""\
        func.func @f(%a: tensor<4xf32>) -> tensor<8xf32> {
          %s = tensor.extract_slice %a[0] [8] [1] : tensor<4xf32> to tensor<8xf32>
          return %s : tensor<8xf32>
        }
        """),
    "reshape_bad_count": textwrap.dedent("""\
        func.func @f(%a: tensor<6xf32>) -> tensor<4x2xf32> {
          %r = tensor.expand_shape %a [[0, 1]] output_shape [4, 2] : tensor<6xf32> into tensor<4x2xf32>
          return %r : tensor<4x2xf32>
        }
        """),
    "call_to_missing_function": "func.func @f() {\n  func.call @nowhere() : () -> ()\n  return\n}\n",
    "empty_region_op": "func.func @f() {\n  scf.execute_region {\n  }\n  return\n}\n",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_ir_through_wafer_opt(name, tmp_path, capsys):
    path = tmp_path / f"{name}.mlir"
    path.write_text(MALFORMED[name])
    err = run_tool(wafer_opt.main, [str(path)], capsys)
    one_error_line(err.splitlines()[0], re.escape(str(path)) + r":\d+:\d+: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_ir_through_compile_mlir(name):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(MALFORMED[name])
    first = str(info.value).splitlines()[0]
    assert re.match(r"^(\S+:\d+:\d+: )?error: \S", first), first


# ---------------------------------------------------------------------------------------
# Unknown passes and options, bad option values, pipelines that fail midway.

BAD_PIPELINES = {
    "unknown_pass": (["-p", "no-such-pass"], "no-such-pass"),
    "unknown_wafer_pass": (["-p", "wafer-no-such-thing"], "wafer-no-such-thing"),
    "typo_of_a_pass": (["-p", "wafer-fuze"], "wafer-fuze"),
    "unknown_option": (["-p", "wafer-fuse{no-such-option=1}"], "no-such-option"),
    "bad_int_option": (["-p", "wafer-fuse{tile-sizes=a,b}"], "tile-sizes"),
    "bad_bool_option": (["-p", "wafer-vectorize{max-tile-elements=lots}"], "max-tile-elements"),
    "unbalanced_braces": (["-p", "wafer-fuse{tile-sizes=8,64"], ""),
    "unbalanced_parens": (["--pass-pipeline", "builtin.module(func.func(cse)"], ""),
    "unknown_named_pipeline": (["--pipeline", "gpu"], "gpu"),
    "unknown_pipeline_option": (["--pipeline", "cpu{warp-size=32}"], "warp-size"),
    "bad_pipeline_option_value": (["--pipeline", "cpu{threads=many}"], "threads"),
    "unknown_machine": (["--pipeline", "cpu{machine=pentium}"], "pentium"),
    "wse_unknown_mode": (["--pipeline", "wse{mode=diagonal}"], "diagonal"),
    "empty_pass_name": (["-p", ",,"], ""),
    "upstream_pass_bad_option": (["-p", "canonicalize{max-iterations=x}"], ""),
}


@pytest.mark.parametrize("name", BAD_PIPELINES)
def test_bad_pipelines_are_one_line_errors(name, tmp_path, capsys):
    argv, named = BAD_PIPELINES[name]
    path = tmp_path / "ok.mlir"
    path.write_text(VALID)
    err = run_tool(wafer_opt.main, [str(path), *argv], capsys)
    line = one_error_line(err)
    assert named in line


MIDWAY = {
    # Bufferization asked for before the tensor ops it needs are in a form it takes.
    "bufferize_alone": "one-shot-bufferize",
    "after_canonicalize": "canonicalize,one-shot-bufferize{bufferize-function-boundaries=0}",
    "after_a_wafer_pass": "wafer-vectorize,one-shot-bufferize",
}


@pytest.mark.parametrize("name", MIDWAY)
def test_a_pipeline_that_fails_midway_names_the_op_and_line(name, tmp_path, capsys):
    path = tmp_path / "add.mlir"
    path.write_text("func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
                    "  %b = arith.addf %a, %a : tensor<4xf32>\n  return %b : tensor<4xf32>\n}\n")
    err = run_tool(wafer_opt.main, [str(path), "-p", MIDWAY[name]], capsys)
    assert err.splitlines()[0] == f"{path}:2:8: error: op was not bufferized", err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------
# Compile options from Python.

BAD_OPTIONS = {
    "unknown_keyword": ({"warp_size": 32}, "warp_size"),
    "tile_sizes_not_ints": ({"tile_sizes": ("a", 2)}, "tile_sizes"),
    "threads_negative": ({"threads": -1}, "threads"),
    "unknown_machine": ({"machine": "pentium"}, "pentium"),
    "unknown_target": ({"target": "tpu"}, "tpu"),
    "wse_unknown_preset": ({"target": "wse", "machine": "wse9"}, "wse9"),
    "wse_region_too_big": ({"target": "wse", "region": (10**6, 10**6)}, "region"),
    "wse_unknown_mode": ({"target": "wse", "mode": "diagonal"}, "diagonal"),
}


@pytest.mark.parametrize("name", BAD_OPTIONS)
def test_bad_compile_options(name):
    options, named = BAD_OPTIONS[name]
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(VALID, **options)
    assert named in one_error_line(str(info.value))


# ---------------------------------------------------------------------------------------
# Calls with the wrong arguments; arrays that are odd but valid.

ADD = """
func.func @add(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.add ins(%a, %b : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
"""


@pytest.fixture(scope="module")
def add():
    return wafer.compile_mlir(ADD)


ONES = np.ones((2, 3), np.float32)
BAD_CALLS = {
    "no_arguments": (), "one_argument": (ONES,), "three_arguments": (ONES, ONES, ONES),
    "transposed": (ONES, ONES.T), "flat": (ONES, ONES.reshape(-1)), "extra_dim": (ONES, ONES[None]),
    "scalar": (ONES, 1.0), "float64": (ONES, ONES.astype(np.float64)), "int32": (ONES, ONES.astype(np.int32)),
    "bool": (ONES, ONES.astype(bool)), "complex": (ONES, ONES.astype(np.complex64)), "strings": (ONES, "abc"),
    "none": (ONES, None), "nested_list_ragged": (ONES, [[1.0, 2.0], [3.0]]), "object_array": (ONES, np.array([object()] * 6).reshape(2, 3)),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_a_bad_call_is_refused_and_the_next_call_works(add, name):
    with pytest.raises(wafer.WaferError) as info:
        add.add(*BAD_CALLS[name])
    assert "@add" in one_error_line(str(info.value))
    np.testing.assert_array_equal(add.add(ONES, ONES), 2 * ONES)


ODD_BUT_VALID = {
    "non_contiguous": lambda: np.ones((3, 2), np.float32).T,
    "strided": lambda: np.ones((2, 6), np.float32)[:, ::2],
    "read_only": lambda: np.require(np.ones((2, 3), np.float32), requirements="C"),
    "fortran_order": lambda: np.asfortranarray(np.ones((2, 3), np.float32)),
    "nested_list": lambda: [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]],
}


@pytest.mark.parametrize("name", ODD_BUT_VALID)
def test_odd_but_valid_arrays_are_accepted(add, name):
    b = ODD_BUT_VALID[name]()
    if name == "read_only":
        b.flags.writeable = False
    if name == "nested_list":
        b = np.asarray(b, np.float32)
    np.testing.assert_array_equal(add.add(ONES, b), 2 * ONES)


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_propagate(add, special):
    b = ONES.copy()
    b[1, 2] = special
    result = add.add(ONES, b)
    assert np.isnan(result[1, 2]) if np.isnan(special) else result[1, 2] == special
    assert np.all(result.reshape(-1)[:-1] == 2)


# ---------------------------------------------------------------------------------------
# Models: unsupported ops, what they return, what torch.export cannot trace.

class Layer(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, *inputs):
        return self.function(*inputs)


class Model(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.block = torch.nn.Sequential(Layer(function))

    def forward(self, *inputs):
        return self.block(*inputs)


def _data_dependent(x):
    return x[x > 0]


def _branch_on_data(x):
    return x * 2 if x.sum() > 0 else x


BAD_MODELS = {
    "returns_dict": (lambda x: {"y": x}, "a dict"),
    "returns_string": (lambda x: (x, "s"), "neither a tensor nor a number"),
    "returns_nested": (lambda x: (x, (x, x)), "a nested tuple"),
    "data_dependent_shape": (_data_dependent, "whose shape depends on the data"),
    "branch_on_data": (_branch_on_data, "cannot import the model"),
    "median": (lambda x: x.median(0).values, "torch.aten.median"),
    "uint8_division": (lambda x: x.to(torch.uint8) // 3, "uint8"),
    "depthwise_transposed_conv": (lambda x: F.conv_transpose2d(x[None], torch.ones(3, 1, 2, 2), groups=3),
                                  "transposed convolution"),
}


@pytest.mark.parametrize("name", BAD_MODELS)
def test_a_model_wafer_cannot_compile_names_the_reason(name):
    function, reason = BAD_MODELS[name]
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(Model(function), (torch.randn(3, 4, 4),))
    message = str(info.value)
    assert "Traceback" not in message and message.splitlines()[0].split("error: ")[0].count("site-packages") == 0
    assert reason in message, message


def test_a_layer_error_names_the_users_file_and_layer():
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(Model(BAD_MODELS["uint8_division"][0]), (torch.randn(3, 4, 4),))
    line = one_error_line(str(info.value), re.escape(__file__) + r":\d+: ")
    assert "in layer 'block.0'" in line


def test_a_model_too_large_for_the_wafer_says_so():
    big = torch.nn.Linear(4096, 4096)
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(big, (torch.randn(64, 4096),), target="wse", machine="small")
    assert "error: " in str(info.value) and "Traceback" not in str(info.value)


# ---------------------------------------------------------------------------------------
# `wafer run` on files that do not define what it needs.

BAD_MODEL_FILES = {
    "missing": (None, "no such file"),
    "syntax_error": ("def make_model(:\n", "syntax"),
    "no_make_model": ("def example_inputs():\n    return ()\n", "make_model"),
    "no_example_inputs": ("import torch\ndef make_model():\n    return torch.nn.ReLU()\n", "example_inputs"),
    "example_inputs_a_tuple": ("import torch\ndef make_model():\n    return torch.nn.ReLU()\n"
                               "example_inputs = (torch.ones(2),)\n", "example_inputs"),
    "make_model_raises": ("import torch\ndef make_model():\n    raise RuntimeError('boom')\n"
                          "def example_inputs():\n    return (torch.ones(2),)\n", "boom"),
    "make_model_not_a_module": ("import torch\ndef make_model():\n    return 3\n"
                                "def example_inputs():\n    return (torch.ones(2),)\n", "make_model"),
    "import_error": ("import no_such_module_at_all\n", "no_such_module_at_all"),
    "not_python": (b"\x00\x01\x02\x03", ""),
    "wrong_extension": ("", "unknown"),
}


@pytest.mark.parametrize("name", BAD_MODEL_FILES)
def test_wafer_run_on_a_bad_model_file(name, tmp_path, capsys):
    text, named = BAD_MODEL_FILES[name]
    suffix = ".txt" if name == "wrong_extension" else ".py"
    path = tmp_path / f"model{suffix}"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    err = run_tool(wafer_cli.main, ["run", str(path), "--repeat", "1"], capsys)
    line = one_error_line(err, rf"({re.escape(str(path))}(:\d+)*: )?")  # at the user's line, where there is one
    assert named.lower() in line.lower(), line


BAD_CLI_FLAGS = [
    ["run", "lenet", "--batch", "0"], ["run", "lenet", "--threads", "-2"], ["run", "lenet", "--tile-sizes", "8,x"],
    ["run", "lenet", "--target", "gpu"], ["run", "lenet", "--machine", "wse2"], ["run", "lenet", "--repeat", "zero"],
    ["run", "no-such-example"], ["run", "lenet", "--options", "warp-size=32"], ["fuzz", "--count", "-1"],
    ["run", "lenet", "--target", "wse", "--threads", "2"], ["verify", "/no/such/dir", "lenet"], ["frobnicate"],
]


@pytest.mark.parametrize("argv", BAD_CLI_FLAGS, ids=lambda argv: "_".join(argv)[:40])
def test_a_bad_flag_is_a_clear_error(argv, capsys):
    try:
        code = wafer_cli.main(argv)
    except SystemExit as exit_:  # argparse: usage, then one error line
        code = exit_.code
    captured = capsys.readouterr()
    assert code not in (0, None)
    assert "Traceback" not in captured.err
    last = captured.err.strip().splitlines()[-1]
    assert "error: " in last, captured.err
