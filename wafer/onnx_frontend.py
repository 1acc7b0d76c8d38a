"""The ONNX front end: `wafer.compile_onnx(path)`.

An ONNX file is data: `onnx.load` parses a protobuf and nothing in the file
runs. Weights kept in external-data files are read only from the model's own
folder. torch-mlir's ONNX importer makes each node a `torch.operator
"onnx.<Op>"` located by the node's name; its pipelines lower those to torch
ops and on to linalg-on-tensors, which `compile_module` takes like any other
model. Neither this module nor the importer imports torch.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnx.version_converter
from google.protobuf.message import DecodeError
from onnx.external_data_helper import (  # onnx is pinned: _get_all_tensors is the walk its own loader uses
    ExternalDataInfo, _get_all_tensors, load_external_data_for_tensor, uses_external_data)
from torch_mlir import ir, passmanager
from torch_mlir.extras.onnx_importer import ModelInfo, NodeImporter

from .compiler import compile_module
from .context import make_context
from .diagnostics import WaferError, first_line, location_names

FUNC_NAME = "forward"
# An older model is converted to this opset first: torch-mlir's patterns cover
# the ops as recent opsets define them (opset 11's MaxPool has none), as in
# IREE's `iree-import-onnx --opset-version 17`.
MIN_OPSET = 17
# The torch-onnx dialect to torch ops, node by node: a node it has no pattern
# for stays a `torch.operator`, one whose pattern fails makes the pass fail.
ONNX_TO_TORCH = "func.func(convert-torch-onnx-to-torch)"
TORCH_TO_LINALG = "torch-onnx-to-torch-backend-pipeline,torch-backend-to-linalg-on-tensors-backend-pipeline"


class OnnxModel:
    """A compiled ONNX model: call it with numpy arrays, one per graph input in
    order; it returns an array, or a tuple of them when the graph has several
    outputs. The executable's report, `compile_report`, `last_peak_bytes` and
    `estimate()` read through."""

    def __init__(self, executable, input_names: list[str], output_names: list[str]):
        self.executable = executable
        self.input_names = input_names
        self.output_names = output_names

    @property
    def input_specs(self):
        """Each graph input's static shape and numpy dtype (`TensorSpec`), in order."""
        return self.executable.signature(FUNC_NAME).args

    def __call__(self, *inputs: np.ndarray):
        return self.executable.invoke(FUNC_NAME, *inputs)

    def __getattr__(self, name: str):
        if name.startswith("__") or "executable" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.executable, name)


def compile_onnx(path, target: str = "cpu", batch: int | None = None, **options) -> OnnxModel:
    """Compile the ONNX model at `path` for `target`.

    Wafer compiles static shapes: `batch` fixes each input's dynamic leading
    dimension, and any other dynamic dimension is an error. `options` go to
    the target pipeline, as for `wafer.compile`.
    """
    start = time.perf_counter()
    model = load_onnx(path, batch)
    module = import_onnx(model, str(path))
    import_seconds = time.perf_counter() - start
    executable = compile_module(module, target, **options)
    executable.compile_report.record_import(import_seconds)
    return OnnxModel(executable, [i.name for i in graph_inputs(model)], [o.name for o in model.graph.output])


def load_onnx(path, batch: int | None = None) -> onnx.ModelProto:
    """The checked, shape-inferred model at `path` with its external data,
    its inputs' shapes made static."""
    path = Path(path)
    model = _read_model(path)
    _load_external_data(model, path)
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as err:
        raise WaferError(f"error: '{path}' is not a valid ONNX model: {_one_line(err)}") from None
    model = _upgrade_opset(model, path)
    _make_inputs_static(model, batch, path)
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, ValueError) as err:
        raise WaferError(f"error: {path}: shape inference failed: {_one_line(err)}") from None
    model.graph.name = FUNC_NAME  # the importer names its function after the graph
    return model


def _upgrade_opset(model: onnx.ModelProto, path: Path) -> onnx.ModelProto:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), MIN_OPSET)
    if opset >= MIN_OPSET:
        return model
    try:
        return onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as err:  # the converter raises whatever its C++ adapters throw
        raise WaferError(f"error: {path}: cannot convert the model from opset {opset} to {MIN_OPSET}: "
                         f"{_one_line(err)}") from None


def _one_line(err: Exception) -> str:
    """onnx's checker and shape inference spread a message over lines."""
    return " ".join(str(err).split())


def _read_model(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise WaferError(f"error: no such file '{path}'")
    if not path.is_file():
        raise WaferError(f"error: '{path}' is not a file")
    try:
        model = onnx.load(path, load_external_data=False)
    except DecodeError:
        raise WaferError(f"error: '{path}' is not an ONNX model: it does not parse as one") from None
    except OSError as err:
        raise WaferError(f"error: cannot read '{path}': {err.strerror}") from None
    if not model.HasField("graph"):
        raise WaferError(f"error: '{path}' is not an ONNX model: it holds no graph")
    return model


def _load_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Read each tensor's external data from a file in the model's own folder;
    a location that leads elsewhere (`../secret.bin`, an absolute path, a
    symbolic link out) is refused before anything is read."""
    folder = path.resolve().parent
    external = [tensor for tensor in _get_all_tensors(model) if uses_external_data(tensor)]
    for tensor in external:
        location = ExternalDataInfo(tensor).location
        if not _inside(folder, location):
            raise WaferError(f"error: {path}: tensor '{tensor.name}' keeps its data in '{location}', "
                             f"outside the model's folder; Wafer reads external data only from '{folder}'")
    for tensor in external:
        try:
            load_external_data_for_tensor(tensor, str(folder))
        except (OSError, ValueError) as err:
            raise WaferError(f"error: {path}: cannot read the data of tensor '{tensor.name}' from "
                             f"'{ExternalDataInfo(tensor).location}': {_one_line(err)}") from None


def _inside(folder: Path, location: str) -> bool:
    """Is `location`, relative to `folder` with every link followed, a path inside it?"""
    try:
        return not Path(location).is_absolute() and (folder / location).resolve().is_relative_to(folder)
    except (OSError, ValueError):  # a loop of links, a NUL byte
        return False


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The inputs a caller gives: old exporters also list each initializer as
    an input, which the importer drops."""
    initialized = {tensor.name for tensor in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initialized]


def _make_inputs_static(model: onnx.ModelProto, batch: int | None, path: Path) -> None:
    """Give each input's dynamic leading dimension the size `batch`; refuse
    inputs that are not tensors or keep a dynamic dimension."""
    for value in graph_inputs(model):
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            raise WaferError(f"error: {path}: input '{value.name}' is not a tensor of known rank")
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_value"):
                continue
            if axis == 0 and batch is not None:
                dim.dim_value = batch
                continue
            symbol = f" ('{dim.dim_param}')" if dim.dim_param else ""
            hint = ": give its size with batch=N (`wafer run --batch N`)" if axis == 0 else ""
            raise WaferError(f"error: {path}: input '{value.name}' has a dynamic dimension {axis}{symbol}; "
                             f"Wafer compiles static shapes{hint}")


def import_onnx(model: onnx.ModelProto, file: str) -> ir.Module:
    """The linalg-on-tensors module of `model`, in a Wafer context; errors name
    the node that fails and its op."""
    nodes = _name_nodes(model)
    info = ModelInfo(model)
    module = info.create_module(context=make_context())
    try:
        with warnings.catch_warnings():
            # The importer warns of each value shape inference left untyped, an
            # output of an op it does not know; the lowering's errors name the op.
            warnings.simplefilter("ignore", UserWarning)
            NodeImporter.define_function(info.main_graph, module.operation).import_all()
    except Exception as err:  # the importer raises OnnxImportError, and asserts
        reason = first_line(str(err)) or type(err).__name__
        raise WaferError(f"error: {file}: cannot import the graph: {reason}") from None
    opsets = {opset.domain: opset.version for opset in model.opset_import}
    _run(module, ONNX_TO_TORCH, file, nodes, lambda node, _: _unsupported(node, opsets))
    unconverted = _unconverted_nodes(module, nodes)
    if unconverted:
        raise WaferError("\n".join(f"error: {file}: {_unsupported(node, opsets)}" for node in unconverted))
    _run(module, TORCH_TO_LINALG, file, nodes, lambda node, message: f"{node.op_type} node '{node.name}': {message}")
    return module


def _name_nodes(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    """The graph's nodes by name, after naming each unnamed one `<Op>#<index>`:
    the importer locates each op by its node's name, and errors quote it."""
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}#{index}"
    return {node.name: node for node in model.graph.node}


def _unsupported(node: onnx.NodeProto, opsets: dict[str, int]) -> str:
    op = f"{node.domain}.{node.op_type}" if node.domain else node.op_type
    return f"node '{node.name}': Wafer cannot lower the ONNX op {op} (opset {opsets.get(node.domain)})"


def _run(module: ir.Module, pipeline: str, file: str, nodes: dict[str, onnx.NodeProto], describe) -> None:
    """Run `pipeline`; on failure, one error line per failing node, from
    `describe(node, message)`, or per message that names no node."""
    try:
        passmanager.PassManager.parse(f"builtin.module({pipeline})", module.context).run(module.operation)
    except ir.MLIRError as err:
        lines = []
        for diagnostic in err.error_diagnostics:
            message = first_line(diagnostic.message)
            named = [nodes[name] for name in location_names(diagnostic.location) if name in nodes]
            line = f"error: {file}: {describe(named[0], message) if named else message}"
            if line not in lines:
                lines.append(line)
        raise WaferError("\n".join(lines) or f"error: {file}: lowering failed") from None


def _unconverted_nodes(module: ir.Module, nodes: dict[str, onnx.NodeProto]) -> list[onnx.NodeProto]:
    """The nodes whose `torch.operator` no pattern converted, in graph order."""
    found = {}

    def visit(op: ir.Operation) -> ir.WalkResult:
        if op.name == "torch.operator":
            found.update((name, nodes[name]) for name in location_names(op.location) if name in nodes)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return list(found.values())
