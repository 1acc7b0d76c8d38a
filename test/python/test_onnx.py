"""`wafer.compile_onnx` and `wafer run model.onnx`: ONNX files exported from the
bundled examples and from torchvision, checked against PyTorch eager and ONNX
Runtime; external data confined to the model's folder; one-line errors."""

import os
import pickle
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import wafer
from wafer.examples.models import EXAMPLES
from wafer.torchvision_schemas import declare_torchvision_schemas
from wafer.tools import wafer_cli

BATCH = 2


def export(model, inputs, path, dynamo=False, **options):
    """`path`, holding `model` exported by torch.onnx; the legacy (TorchScript)
    exporter needs no onnxscript, which only the bench extra installs."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, inputs, path, dynamo=dynamo, verbose=False, **options)
    return path


def assert_matches(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def onnxruntime_outputs(path, inputs):
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})


def tiny_model(path, nodes, inputs, outputs, opsets=(("", 17),), initializers=()):
    """`path`, holding a graph built with onnx.helper; `inputs` and `outputs`
    are (name, element type, shape) triples."""
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info(*i) for i in inputs],
                              [helper.make_tensor_value_info(*o) for o in outputs], list(initializers))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid(*o) for o in opsets]), path)
    return path


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """name -> (ONNX path, model, inputs, compiled), each exported and compiled once."""
    folder, cache = tmp_path_factory.mktemp("examples"), {}

    def get(name):
        if name not in cache:
            model, inputs = EXAMPLES[name].build(BATCH)
            # The legacy exporter cannot trace the transformer's attention (is_causal becomes a tensor).
            dynamo = name == "transformer"
            if dynamo:
                pytest.importorskip("onnxscript")
            path = export(model, inputs, folder / f"{name}.onnx", dynamo=dynamo)
            cache[name] = path, model, inputs, wafer.compile_onnx(path, threads=1)
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_matches_pytorch(examples, name):
    _, model, inputs, compiled = examples(name)
    assert compiled.input_names and len(compiled.input_specs) == len(inputs)
    with torch.no_grad():
        assert_matches(compiled(*(x.numpy() for x in inputs)), model(*inputs))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_matches_onnxruntime(examples, name):
    path, _, inputs, compiled = examples(name)
    (expected,) = onnxruntime_outputs(path, inputs)
    assert_matches(compiled(*(x.numpy() for x in inputs)), expected)


def test_compiles_for_the_simulated_wafer(examples):
    path, model, inputs, _ = examples("mlp")
    compiled = wafer.compile_onnx(path, target="wse")
    with torch.no_grad():
        assert_matches(compiled(*(x.numpy() for x in inputs)), model(*inputs))
    assert compiled.report.seconds > 0


def import_torchvision():
    declare_torchvision_schemas()
    return pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    """torchvision's ResNet-18 with random weights on a 64x64 image, exported and compiled."""
    torchvision = import_torchvision()
    torch.manual_seed(0)
    model, inputs = torchvision.models.resnet18().eval(), (torch.randn(1, 3, 64, 64),)
    path = export(model, inputs, tmp_path_factory.mktemp("resnet18") / "resnet18.onnx")
    return path, model, inputs, wafer.compile_onnx(path, threads=1)


def test_torchvision_resnet18_matches_pytorch(resnet18):
    _, model, inputs, compiled = resnet18
    with torch.no_grad():
        assert_matches(compiled(inputs[0].numpy()), model(*inputs))


def test_torchvision_resnet18_matches_onnxruntime(resnet18):
    path, _, inputs, compiled = resnet18
    (expected,) = onnxruntime_outputs(path, inputs)
    assert_matches(compiled(inputs[0].numpy()), expected)


def test_an_old_opset_is_converted_and_initializers_listed_as_inputs_are_not_inputs(tmp_path):
    model, inputs = EXAMPLES["lenet"].build()
    path = export(model, inputs, tmp_path / "lenet.onnx", opset_version=11, keep_initializers_as_inputs=True)
    compiled = wafer.compile_onnx(path, threads=1)
    assert len(compiled.input_names) == 1
    with torch.no_grad():
        assert_matches(compiled(inputs[0].numpy()), model(*inputs))


def test_batch_fixes_a_dynamic_leading_dimension_and_nothing_else(tmp_path):
    model, _ = EXAMPLES["mlp"].build()
    path = export(model, (torch.randn(2, 784),), tmp_path / "mlp.onnx", input_names=["pixels"],
                  dynamic_axes={"pixels": {0: "batch"}})
    with pytest.raises(wafer.WaferError, match=r"input 'pixels' has a dynamic dimension 0 \('batch'\).*batch=N"):
        wafer.compile_onnx(path)
    x = torch.randn(3, 784)
    with torch.no_grad():
        assert_matches(wafer.compile_onnx(path, batch=3, threads=1)(x.numpy()), model(x))

    inner = tiny_model(tmp_path / "inner.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                       [("x", TensorProto.FLOAT, [4, "n"])], [("y", TensorProto.FLOAT, [4, "n"])])
    with pytest.raises(wafer.WaferError, match=r"input 'x' has a dynamic dimension 1 \('n'\); Wafer compiles static"):
        wafer.compile_onnx(inner, batch=3)


def weight_model(folder, location="weights.bin"):
    """y = x @ W, W an initializer 'weight' kept in the external-data file `location`."""
    weight = np.arange(16, dtype=np.float32).reshape(4, 4)
    path = tiny_model(folder / "model.onnx", [helper.make_node("MatMul", ["x", "weight"], ["y"], name="matmul")],
                      [("x", TensorProto.FLOAT, [1, 4])], [("y", TensorProto.FLOAT, [1, 4])],
                      initializers=[onnx.numpy_helper.from_array(weight, "weight")])
    onnx.save(onnx.load(path), path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    if location != "weights.bin":  # point the tensor elsewhere
        model = onnx.load(path, load_external_data=False)
        (entry,) = [e for e in model.graph.initializer[0].external_data if e.key == "location"]
        entry.value = location
        path.write_bytes(model.SerializeToString())
    return path, weight


def test_external_data_is_read_from_the_models_folder(tmp_path):
    path, weight = weight_model(tmp_path)
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(wafer.compile_onnx(path, threads=1)(x), x @ weight)


@pytest.mark.parametrize("where", ["parent", "absolute", "link"])
def test_external_data_outside_the_models_folder_is_refused(tmp_path, where):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.zeros(16, np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    if where == "link":
        (folder / "link.bin").symlink_to(secret)
    location = {"parent": "../secret.bin", "absolute": str(secret), "link": "link.bin"}[where]
    path, _ = weight_model(folder, location)
    with pytest.raises(wafer.WaferError) as error:
        wafer.compile_onnx(path)
    message = str(error.value)
    assert message == (f"error: {path}: tensor 'weight' keeps its data in '{location}', outside the model's "
                       f"folder; Wafer reads external data only from '{folder.resolve()}'")


@pytest.mark.parametrize("node, inputs, outputs, opsets, op", [
    (helper.make_node("Frobnicate", ["x"], ["y"], name="frobnicate0", domain="com.example"),
     [("x", TensorProto.FLOAT, [2, 3])], [("y", TensorProto.FLOAT, [2, 3])], (("", 17), ("com.example", 1)),
     "com.example.Frobnicate (opset 1)"),
    (helper.make_node("StringNormalizer", ["x"], ["y"], name="normalize0"),
     [("x", TensorProto.STRING, [3])], [("y", TensorProto.STRING, [3])], (("", 17),), "StringNormalizer (opset 17)"),
    (helper.make_node("DFT", ["x"], ["y"], name="dft0"),  # torch-mlir has a pattern, which fails on it
     [("x", TensorProto.FLOAT, [4, 4, 1])], [("y", TensorProto.FLOAT, [4, 4, 2])], (("", 17),), "DFT (opset 17)"),
], ids=["custom-domain", "strings", "pattern-fails"])
def test_unsupported_op_is_named_with_its_node(tmp_path, node, inputs, outputs, opsets, op):
    path = tiny_model(tmp_path / "model.onnx", [node], inputs, outputs, opsets)
    with pytest.raises(wafer.WaferError) as error:
        wafer.compile_onnx(path)
    assert str(error.value) == f"error: {path}: node '{node.name}': Wafer cannot lower the ONNX op {op}"


def test_an_unnamed_node_is_named_by_its_op_and_place(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Frobnicate", ["r"], ["y"], domain="com.example")]
    path = tiny_model(tmp_path / "model.onnx", nodes, [("x", TensorProto.FLOAT, [2])], [("y", TensorProto.FLOAT, [2])],
                      (("", 17), ("com.example", 1)))
    with pytest.raises(wafer.WaferError) as error:
        wafer.compile_onnx(path)
    assert "node 'Frobnicate#1': Wafer cannot lower the ONNX op com.example.Frobnicate" in str(error.value)


class WritesAFile:
    """A pickle that, loaded, would create `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def bad_file(tmp_path, kind):
    path = tmp_path / f"{kind}.onnx"
    if kind == "text":
        path.write_text("hello, not a model\n")
    elif kind == "pickle":  # torch.save's format: loading it would run the payload
        path.write_bytes(pickle.dumps(WritesAFile(tmp_path / "ran")))
    elif kind == "truncated":
        path.write_bytes(tiny_model(tmp_path / "whole.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                                    [("x", TensorProto.FLOAT, [2])], [("y", TensorProto.FLOAT, [2])]).read_bytes()[:40])
    elif kind == "malformed":  # parses, but a node reads a value nothing defines
        tiny_model(path, [helper.make_node("Relu", ["nothing"], ["y"], name="relu")],
                   [("x", TensorProto.FLOAT, [2])], [("y", TensorProto.FLOAT, [2])])
    return path


NOT_ONNX = "error: '{path}' is not an ONNX model: it does not parse as one"


@pytest.mark.parametrize("kind, message", [
    ("missing", "error: no such file '{path}'"),
    ("text", NOT_ONNX),
    ("pickle", NOT_ONNX),
    ("truncated", NOT_ONNX),
    ("malformed", "error: '{path}' is not a valid ONNX model: Nodes in a graph must be topologically sorted, "
                  "however input 'nothing' of node: name: relu OpType: Relu is not output of any previous nodes."),
], ids=["missing", "text", "pickle", "truncated", "malformed"])
def test_bad_file_is_one_error_line_from_the_cli(tmp_path, capsys, kind, message):
    path = bad_file(tmp_path, kind)
    assert wafer_cli.main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == message.format(path=path) + "\n"
    assert not (tmp_path / "ran").exists()


def test_wafer_run_onnx_checks_and_times_it(examples, capsys):
    path, *_ = examples("mlp")
    assert wafer_cli.main(["run", str(path), "--threads", "1", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert f"model: {path}  inputs: ({BATCH}, 784)  target: cpu" in out
    assert "latency (median of 2, " in out
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        assert "no reference: onnxruntime is not installed" in out
    else:
        assert "max |wafer - onnxruntime|" in out and ": OK" in out and "wafer/onnxruntime" in out


def test_wafer_run_onnx_takes_batch_and_refuses_the_wse_target(tmp_path, capsys):
    model, _ = EXAMPLES["mlp"].build()
    path = export(model, (torch.randn(2, 784),), tmp_path / "mlp.onnx", input_names=["x"],
                  dynamic_axes={"x": {0: "batch"}})
    assert wafer_cli.main(["run", str(path), "--batch", "3", "--threads", "1", "--repeat", "1"]) == 0
    assert "inputs: (3, 784)" in capsys.readouterr().out
    assert wafer_cli.main(["run", str(path), "--target", "wse"]) == 1
    assert capsys.readouterr().err.startswith("error: wafer run takes an .onnx model for --target cpu only")
