"""A corpus of bad inputs, part two: calls with the wrong arguments, faults found at
run time, models Wafer cannot compile, and the `wafer` command line. Each ends in one
`error:` line that says what and where (the user's file:line and layer path for a
model), with a non-zero exit from `wafer`, never a traceback or a crash.

Where a fault can only be found at run time, the call raises WaferError and the
executable stays usable for the next call. Part one is test_bad_inputs.py.
"""

import re

import numpy as np
import pytest
import torch
from bad_input_checks import count_error_lines, one_error_line, run_tool

import wafer
from wafer.tools import wafer_cli

F = torch.nn.functional


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
    "zero_d": (ONES, np.array(1.0, np.float32)), "empty": (ONES, np.ones((0, 3), np.float32)),
    "list_too_deep": (ONES, [[[1.0] * 3] * 2]), "list_flat": (ONES, [1.0] * 6),  # lists stay float64: no narrowing
    "float16": (ONES, ONES.astype(np.float16)), "big_endian": (ONES, ONES.astype(">f4")),
    "bytes": (ONES, b"abcdef"), "dict": (ONES, {"a": ONES}), "structured": (ONES, np.zeros((2, 3), [("a", np.float32)])),
    "torch_float64": (ONES, torch.ones(2, 3, dtype=torch.float64)), "torch_meta": (ONES, torch.ones(2, 3, device="meta")),
    "torch_wrong_shape": (ONES, torch.ones(3, 2)),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_a_bad_call_is_refused_and_the_next_call_works(add, name):
    with pytest.raises(wafer.WaferError) as info:
        add.add(*BAD_CALLS[name])
    assert "@add" in one_error_line(str(info.value))
    np.testing.assert_array_equal(add.add(ONES, ONES), 2 * ONES)


def test_keyword_arguments_are_refused(add):
    with pytest.raises(wafer.WaferError) as info:
        add.add(ONES, b=ONES)
    assert "@add" in one_error_line(str(info.value)) and "'b'" in str(info.value)
    np.testing.assert_array_equal(add.add(ONES, ONES), 2 * ONES)


def test_a_compiled_model_refuses_keyword_inputs():
    compiled = wafer.compile(torch.nn.ReLU(), (torch.ones(2),))
    with pytest.raises(wafer.WaferError) as info:
        compiled(input=torch.ones(2))
    assert "'input'" in one_error_line(str(info.value))
    torch.testing.assert_close(compiled(-torch.ones(2)), torch.zeros(2))


def _read_only(array):
    array.flags.writeable = False
    return array


def _unaligned():
    array = np.zeros(6 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(2, 3)
    array[:] = 1
    return array


ODD_BUT_VALID = {
    "non_contiguous": lambda: np.ones((3, 2), np.float32).T,
    "strided": lambda: np.ones((2, 6), np.float32)[:, ::2],
    "read_only": lambda: _read_only(np.ones((2, 3), np.float32)),
    "fortran_order": lambda: np.asfortranarray(np.ones((2, 3), np.float32)),
    "nested_list": lambda: np.asarray([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], np.float32),
    "negative_strides": lambda: np.ones((2, 3), np.float32)[::-1, ::-1],
    "unaligned": _unaligned,
    "memoryview": lambda: memoryview(np.ones((2, 3), np.float32)),
    "torch_tensor": lambda: torch.ones(2, 3),
    "torch_non_contiguous": lambda: torch.ones(3, 2).T,
    "torch_requires_grad": lambda: torch.ones(2, 3, requires_grad=True),  # read without its graph
}


@pytest.mark.parametrize("name", ODD_BUT_VALID)
def test_odd_but_valid_arrays_are_accepted(add, name):
    b = ODD_BUT_VALID[name]()
    np.testing.assert_array_equal(add.add(ONES, b), 2 * ONES)


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_propagate(add, special):
    b = ONES.copy()
    b[1, 2] = special
    result = add.add(ONES, b)
    assert np.isnan(result[1, 2]) if np.isnan(special) else result[1, 2] == special
    assert np.all(result.reshape(-1)[:-1] == 2)


# ---------------------------------------------------------------------------------------
# Faults found at run time: a failed check raises, and the next call works.

class Indexed(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x, index):
        return self.function(x, index)


TABLE, INDEX = torch.randn(8, 4), torch.tensor([[0, 3, 1, 2]])
INDEXING = {
    "gather": lambda x, i: torch.gather(x, 0, i),
    "embedding": lambda x, i: F.embedding(i, x),
    # torch-mlir checks no index of these: wafer-check-gather-bounds does
    "index_select": lambda x, i: torch.index_select(x, 0, i[0]),
    "advanced_indexing": lambda x, i: x[i[0]],
    "index_select_columns": lambda x, i: torch.index_select(x.t(), 1, i[0]),
}


@pytest.mark.parametrize("function", list(INDEXING.values()), ids=list(INDEXING))
def test_an_index_out_of_range_raises_and_the_next_call_works(function):
    compiled = wafer.compile(Indexed(function), (TABLE, INDEX))
    with pytest.raises(wafer.WaferError) as info:
        compiled(TABLE, torch.full_like(INDEX, TABLE.shape[0]))  # one past the end
    line = one_error_line(str(info.value), re.escape(__file__) + r":\d+:\d+: ")
    assert "index" in line and "(a runtime check in @forward)" in line
    torch.testing.assert_close(torch.as_tensor(np.asarray(compiled(TABLE, INDEX))), function(TABLE, INDEX))


# ---------------------------------------------------------------------------------------
# Models: unsupported ops, what they return, what torch.export cannot trace.

class Layer(torch.nn.Module):
    """A function as a layer, defined in this file rather than taken from
    torch_reference: the errors these tests check name the user's file."""

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
    "bessel_j0": (torch.special.bessel_j0, "torch.aten.special_bessel_j0"),
    "signbit": (torch.signbit, "torch.aten.signbit.default reinterprets a tensor's bits"),
    "uint8_division": (lambda x: x.to(torch.uint8) // 3, "uint8"),
    "returns_none": (lambda x: None, "neither a tensor nor a number"),
    "nonzero": (torch.nonzero, "whose shape depends on the data"),
    "numpy_round_trip": (lambda x: torch.from_numpy(x.numpy()) * 2, "cannot import the model"),
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


WSE_UNSUPPORTED = {
    "complex": (lambda x: torch.view_as_real(torch.complex(x, x * 2)), "computes on tensor<3x4x4xcomplex<f32>>"),
}  # argmax, cumsum, sort, topk, kthvalue and scatter run on the wse target: test/python/wse/test_wse_host_ops.py


@pytest.mark.parametrize("function, reason", list(WSE_UNSUPPORTED.values()), ids=list(WSE_UNSUPPORTED))
def test_an_op_the_wafer_does_not_run_is_refused_at_the_users_line(function, reason):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(Model(function), (torch.randn(3, 4, 4),), target="wse", machine="small")
    line = one_error_line(str(info.value), re.escape(__file__) + r":\d+:\d+: ")
    assert reason in line and "the wse target" in line


TOO_BIG_FOR_SMALL = {
    "elementwise": (lambda x: x * 2, (torch.randn(4096, 4096),), "does not fit"),
    "matmul": (lambda x: x @ torch.ones(4096, 4096), (torch.randn(512, 4096),), "SRAM"),
}


@pytest.mark.parametrize("function, inputs, reason", list(TOO_BIG_FOR_SMALL.values()), ids=list(TOO_BIG_FOR_SMALL))
def test_a_layer_too_big_for_the_small_preset_names_the_users_line(function, inputs, reason):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(Model(function), inputs, target="wse", machine="small")
    assert reason in one_error_line(str(info.value), re.escape(__file__) + r":\d+:\d+: ")


def test_a_model_too_large_for_the_wafer_says_so():
    big = torch.nn.Linear(4096, 4096)
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(big, (torch.randn(64, 4096),), target="wse", machine="small")
    assert "error: " in str(info.value) and "Traceback" not in str(info.value)


# ---------------------------------------------------------------------------------------
# `wafer run` on files that do not define what it needs.

_MODEL = """import torch
class Model(torch.nn.Module):
    def forward(self, x):
        return {body}
def make_model():
    return Model()
def example_inputs():
    return {inputs}
"""
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
    "empty_file": ("", "example_inputs"),
    "not_utf8": (b"\xff\xfe import torch\n", "cannot read model file"),
    "sys_exit": ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
    "returns_dict": (_MODEL.format(body="{'y': x}", inputs="(torch.ones(2, 3),)"), "a dict"),
    "returns_none": (_MODEL.format(body="None", inputs="(torch.ones(2, 3),)"), "neither a tensor nor a number"),
    "data_dependent_shape": (_MODEL.format(body="x[x > 0]", inputs="(torch.ones(2, 3),)"), "depends on the data"),
    "example_inputs_none": (_MODEL.format(body="x", inputs="None"), "example_inputs()"),
    "example_inputs_strings": (_MODEL.format(body="x", inputs="('a', 'b')"), "input 0 is of type str"),
    "example_inputs_a_number": (_MODEL.format(body="x", inputs="5"), "input 0 is of type int"),
    "too_many_example_inputs": (_MODEL.format(body="x", inputs="(torch.ones(2), torch.ones(2))"), "too many"),
    "call_unit_not_a_word": (_MODEL.format(body="x", inputs="(torch.ones(2, 3),)") + "CALL_UNIT = 3\n",
                             "CALL_UNIT"),
    "untraceable_branch_on_data": (_MODEL.format(body="x * 2 if x.sum() > 0 else x", inputs="(torch.ones(2, 3),)"),
                                   "control flow depends on a tensor's values"),
}


@pytest.mark.parametrize("text, named", list(BAD_MODEL_FILES.values()), ids=list(BAD_MODEL_FILES))
def test_wafer_run_on_a_bad_model_file(text, named, request, tmp_path, capsys):
    name = request.node.callspec.id
    suffix = ".txt" if name == "wrong_extension" else ".py"
    path = tmp_path / f"model{suffix}"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    err = run_tool(wafer_cli.main, ["run", str(path), "--repeat", "1"], capsys)
    line = one_error_line(err, rf"({re.escape(str(path))}(:\d+)*: )?")  # at the user's line, where there is one
    assert named.lower() in line.lower(), line


def test_an_untraceable_branch_names_the_users_line(tmp_path, capsys):
    path = tmp_path / "model.py"
    path.write_text(_MODEL.format(body="x * 2 if x.sum() > 0 else x", inputs="(torch.ones(2, 3),)"))
    err = run_tool(wafer_cli.main, ["run", str(path), "--repeat", "1"], capsys)
    one_error_line(err, re.escape(f"{path}:4: "))  # the line of the branch, and no partial graph printed


def test_export_and_verify_name_what_is_wrong(tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text(_MODEL.format(body="{'y': x}", inputs="(torch.ones(2, 3),)"))
    (tmp_path / "a_file").write_text("")
    cases = [
        (["export", str(model), "-o", str(tmp_path / "out")], "a dict"),
        (["export", "model.onnx", "-o", str(tmp_path / "out")], "not 'model.onnx'"),
        (["export", "lenet", "-o", str(tmp_path / "a_file" / "out")], "cannot write the export folder"),
        (["export", "lenet", "-o", str(tmp_path / "out"), "--options", "threads="], "'threads' is given no value"),
        (["verify", str(tmp_path / "no_such_dir"), "lenet"], "no exported model"),
        (["verify", str(tmp_path), "lenet"], "no exported model"),
    ]
    for argv, named in cases:
        err = run_tool(wafer_cli.main, argv, capsys)
        assert named in one_error_line(err), (argv, err)


BAD_CLI_FLAGS = [
    ["run", "lenet", "--batch", "0"], ["run", "lenet", "--threads", "-2"], ["run", "lenet", "--tile-sizes", "8,x"],
    ["run", "lenet", "--target", "gpu"], ["run", "lenet", "--machine", "wse2"], ["run", "lenet", "--repeat", "zero"],
    ["run", "no-such-example"], ["run", "lenet", "--options", "warp-size=32"], ["fuzz", "--count", "-1"],
    ["run", "lenet", "--target", "wse", "--threads", "2"], ["verify", "/no/such/dir", "lenet"], ["frobnicate"],
    ["run", "lenet", "--threads", "abc"], ["run", "lenet", "--machine", "nosuch"], ["run", "lenet", "--target", "nosuch"],
    ["run", "lenet", "--batch", "abc"], ["run", "lenet", "--repeat", "0"], ["run", "lenet", "--tile-sizes", "0,0"],
    ["run", "lenet", "--mode", "diagonal"], ["run", "lenet", "--options", "pack=maybe"],
    ["run", "lenet", "--options", "threads="], ["run", "lenet", "--options", "threads=2", "--threads", "3"],
    ["run", "lenet", "--target", "wse", "--profile"], ["run", "lenet", "--heatmap", "heat.png"],
    ["run", "lenet", "--trace", "/no/such/dir/trace.json"], ["export", "lenet"], ["export", "lenet", "-o", "x", "--batch", "0"],
    ["fuzz", "--count", "abc"], ["fuzz", "--count", "1", "--out", "/dev/null/failures"], ["list", "extra"],
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
    assert count_error_lines(captured.err) == 1, captured.err
