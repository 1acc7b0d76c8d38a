"""The PyTorch front end: `wafer.compile(model, example_inputs)`.

This is the only module that imports torch.
"""

from __future__ import annotations

import collections
import contextlib
import io
import re
import sys
import sysconfig
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import torch
from torch.export.graph_signature import ConstantArgument, ExportGraphSignature, InputKind, InputSpec, OutputKind
from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode
from torch_mlir import fx, ir, passmanager
from torch_mlir.compiler_utils import TorchMlirCompilerError
from torch_mlir.extras.fx_decomp_util import get_decomposition_table
from torch_mlir.extras.fx_importer import _get_mlir_op_name_for_schema

from .adaptive_pooling import DECOMPOSITIONS as ADAPTIVE_POOLING, adaptive_pooling_to_decompose, unless_declined
from .attention_masks import masks_at_query_rank
from .bilinear_upsampling import UPSAMPLE, upsample_bilinear, whole_factor_upsampling
from .graph_edits import targets_in
from .grouped_matmuls import decompositions as grouped_matmuls
from .max_pool3d import MAX_POOL3D, max_pool3d, max_pool3d_to_decompose
from .nearest_upsampling import DECOMPOSITIONS as NEAREST_UPSAMPLING, whole_factor_nearest_upsampling
from .stable_sorts import DECOMPOSITIONS as SORTS, sorts_to_decompose
from .compiler import compile_module
from .context import make_context
from .depthwise_volume_convolution import depthwise_volume_convolution, has_depthwise_volume_convolution
from .diagnostics import Diagnostic, WaferError, collect_diagnostics, first_line
from .embedding_bags import decompose_embedding_bags
from .inplace import functionalize_temporaries
from .layer_locations import LayerLocations
from .local_decompositions import decompose_in_place, writes_in_place
from .nan_semantics import propagate_nans
from .precision import Boundary, at_precision, numpy_dtype, wse_defaults
from .real_fourier import decompose_real_fourier
from .shifted_moments import shift_normalized_inputs
from .state_in_lists import clone_state_in_lists
from .transposed_convolution import (
    depthwise_transposed_convolution,
    has_depthwise_transposed_convolution,
    keep_pads_apart_from_strided_transposed_convolutions,
)
from .unbatched_convolutions import DECOMPOSITIONS as UNBATCHED_CONVOLUTIONS, unbatched_convolutions
from .running_extrema import DECOMPOSITIONS as RUNNING_EXTREMA
from .special_functions import DECOMPOSITIONS as SPECIAL_FUNCTIONS
from .unlowered_ops import DECOMPOSITIONS as UNLOWERED, RECIPROCAL as UNLOWERED_RECIPROCAL, unlowered_ops_to_decompose
from .importer_gaps import refuse_importer_gaps
from .weight_literals import WeightLiterals


def import_model(model: torch.nn.Module, example_inputs: tuple, func_name: str = "forward"):
    """torch.export the model and lower it to linalg-on-tensors in a Wafer context."""
    return _export_and_import(model, example_inputs, func_name)[0]


def _export_and_import(model: torch.nn.Module, example_inputs: tuple, func_name: str):
    """The linalg-on-tensors module of `model` and the `torch.export` program it came from.

    A functional program goes straight to torch-mlir, whose own decompositions
    cover the common ops: torch's `run_decompositions` re-traces the whole program
    (0.3-0.6 s of a LeNet or transformer compile), and its layer norm computes in
    f64 (the transformer layer at batch 32 ran in 174 ms with it, 136 without).
    In-place ops on temporaries become their functional twins (inplace.py);
    a program that still mutates tensors, or that uses an op only torch's
    decompositions reach, is decomposed (and functionalized) first: with the
    decompositions of just the ops that need one (`_partial_decompositions`),
    in place in its graph where it writes no state (local_decompositions.py),
    then, if torch-mlir still cannot lower the result, with the whole table.
    The importer consumes the program it is given, so after a failed direct
    import the program is exported anew.
    """
    ctx = make_context()
    with collect_diagnostics(ctx) as diagnostics:
        try:
            # torch.export writes the partial graph of a model it cannot trace to
            # stderr before it raises: the WaferError says what and where instead.
            with torch.no_grad(), _mha_fast_path_disabled(), warnings.catch_warnings(), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore", FutureWarning)  # torch.export's own deprecations
                program = _export(model, example_inputs)
                _output_types(program)  # what the model returns is refused before the import
                refuse_importer_gaps(program)
                functionalize_temporaries(program)
                if not _mutates(program) and not _has_unregistered_ops(program, ctx) and not _needs_decomposition(program):
                    try:
                        return _import_program(program, func_name, ctx), program
                    except TorchMlirCompilerError:  # an op only torch's decompositions lower
                        diagnostics.clear()
                        program = _export(model, example_inputs)
                else:
                    table = _partial_decompositions(program, _decompositions(), ctx)
                    in_place = not _mutates(program) and decompose_in_place(
                        program, table, lambda op: _is_registered(op, ctx))
                    decomposed = program if in_place else program.run_decompositions(table)
                    _refuse_state_writes(decomposed)
                    if not _has_unregistered_ops(decomposed, ctx):  # else a decomposition made one
                        try:
                            return _import_program(decomposed, func_name, ctx), program
                        except TorchMlirCompilerError:  # an op the whole table decomposes
                            diagnostics.clear()
                    if in_place:  # consumed: the whole table starts from the program as exported
                        program = _export(model, example_inputs)
                decomposed = program.run_decompositions(_decompositions())
                _refuse_state_writes(decomposed)
                return _import_program(decomposed, func_name, ctx), program
        except WaferError:
            raise
        except Exception as err:  # torch.export and torch-mlir raise many kinds
            raise WaferError(_explain_import_error(err, diagnostics)) from None


def _export(model, example_inputs):
    """`model`'s program from torch.export, its embedding bags (embedding_bags.py)
    and the real parts of its Fourier transforms (real_fourier.py) computed by ops
    torch-mlir lowers."""
    program = torch.export.export(model, example_inputs)
    decompose_embedding_bags(program)
    decompose_real_fourier(program)
    return program


_STATE_WRITES = {
    OutputKind.BUFFER_MUTATION: "buffer",
    OutputKind.PARAMETER_MUTATION: "parameter",
    OutputKind.USER_INPUT_MUTATION: "input",
}


def _refuse_state_writes(program) -> None:
    """A model that writes its own buffers (a BatchNorm in training mode updates its
    running statistics), parameters or inputs changes state that eager keeps from
    call to call; Wafer compiles buffers and parameters as constants and never
    writes the caller's inputs, so such a model is refused, not run differently."""
    writes = [f"{_STATE_WRITES[spec.kind]} '{spec.target}'" for spec in program.graph_signature.output_specs
              if spec.kind in _STATE_WRITES]
    if writes:
        raise WaferError(f"error: the model writes its {', '.join(writes)} in place; Wafer compiles a model "
                         "without state between calls (for batch norm, call model.eval() first)")


def _import_program(program, func_name: str, ctx):
    """Import `program` as it is: a program that needed torch's decompositions
    has had them, so its buffer writes show in its output specs."""
    propagate_nans(program)
    shift_normalized_inputs(program)
    keep_pads_apart_from_strided_transposed_convolutions(program)
    masks_at_query_rank(program)
    clone_state_in_lists(program)
    module = fx.export_and_import(
        _unwritten_buffers_as_constants(program),
        output_type=fx.OutputType.RAW,
        func_name=func_name,
        fx_importer=LayerLocations(context=ctx, hooks=WeightLiterals()),
        decomposition_table={},
    )
    for pipeline, description in _LOWERINGS:
        _lower(module, pipeline, description)
    return module


# torch-mlir's lowering from the imported program to linalg-on-tensors, as its
# fx.export_and_import(output_type=LINALG_ON_TENSORS) runs it.
_LOWERINGS = (
    ("builtin.module(func.func(torch-match-quantized-custom-ops), "
     "torchdynamo-export-to-torch-backend-pipeline{ extra-library=})", "Lowering TorchFX IR -> Torch Backend IR"),
    ("builtin.module(torch-backend-to-linalg-on-tensors-backend-pipeline{allow-non-finites=True})",
     "Lowering Torch Backend IR -> Linalg-on-Tensors Backend IR"),
)


def _lower(module: ir.Module, pipeline: str, description: str) -> None:
    """Run `pipeline` on `module` as torch-mlir's `run_pipeline_with_repro_report`
    does, with a repro of its input saved if it fails, but without printing the
    weights: that function prints the whole module before each pipeline, in case
    it fails, resource blobs in hex included (540 MB for a 4-layer GPT-2, 0.9 s
    each time; eliding them with `large_resource_limit` still formats each one).
    The repro holds the module's ops, whose weights print as references."""
    before = module.operation.clone()
    with module.context as ctx:
        ctx.emit_error_diagnostics = True  # as torch-mlir sets it: a pass's errors reach the handler
        try:
            passmanager.PassManager.parse(pipeline).run(module.operation)
        except ir.MLIRError as err:
            path = Path(tempfile.gettempdir()) / "wafer-import.mlir"  # one name, as torch-mlir has it
            path.write_text("\n".join(op.get_asm(large_elements_limit=10, enable_debug_info=True)
                                      for op in before.regions[0].blocks[0].operations))
            raise TorchMlirCompilerError(f"{description} failed with the following diagnostics:\n{err}\n"
                                         f"reproduce with: torch-mlir-opt -pass-pipeline='{pipeline}' {path}") from None


def _decompositions() -> dict:
    """torch-mlir's decomposition table, less attention: torch-mlir imports
    scaled_dot_product_attention itself, and the re-traced math path gives
    its result strides that a later `view` rejects (GPT-2 at batch > 1:
    "Cannot view a tensor with shape [2, 128, 768] and strides (768, 1536, 1)")."""
    table = {op: fn for op, fn in get_decomposition_table().items() if op.overloadpacket not in _ATTENTION_OPS}
    table[torch.ops.aten.gelu.default] = torch._decomp.decomposition_table[torch.ops.aten.gelu.default]
    table[torch.ops.aten.convolution.default] = unless_declined(depthwise_volume_convolution,
                                                                depthwise_transposed_convolution)
    own = {**ADAPTIVE_POOLING, UPSAMPLE: upsample_bilinear, MAX_POOL3D: max_pool3d, **NEAREST_UPSAMPLING, **SORTS,
           **UNLOWERED, **SPECIAL_FUNCTIONS, **RUNNING_EXTREMA, **UNBATCHED_CONVOLUTIONS, **grouped_matmuls()}
    for op, decomposition in own.items():
        table[op] = unless_declined(decomposition, table.get(op))
    return table


def _partial_decompositions(program, table: dict, ctx: ir.Context) -> dict:
    """The entries of `table` (`_decompositions()`) for the ops of `program` that need one:
    - an op torch-mlir has no op for (GPT-2's aten.diff), in the graph or not:
      another's decomposition may call one (logsumexp's calls `squeeze.dims`);
    - a composite op (CompositeImplicitAutograd: its kernel only calls other
      aten ops, so decomposing it changes no numerics): torch-mlir registers some
      that it cannot lower, such as `&` (aten.__and__.Tensor, GPT-2's mask);
    - the ops `_needs_decomposition` finds, and those of `_IMPORTED_NOT_LOWERED`,
      `_LOWERED_WRONGLY` and reciprocal whether the graph has them or not:
      another's decomposition may call them (an LSTM's calls `unbind`, lgamma's
      divides a scalar by a tensor, a reciprocal);
    - a composite op that torch-mlir has no op for and the table no entry:
      its own kernel (MaxViT's `swapaxes`, which otherwise sent the program
      through the whole table, a second export and a re-trace).
    The rest stay as a direct import has them. The whole table would also turn
    GPT-2's layer norms into `var_mean` and its `addmm`s into `mm` and `add`
    (1005 ops imported for 4 layers, 918 this way), and re-traces more slowly
    (0.47 s for 4 layers, 0.36 s this way)."""
    ops = {node.target for node in program.graph.nodes
           if node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload)}
    needed = {op for op in ops if op in table and _is_composite(op)}
    unregistered = {op for op in table if not _is_registered(op, ctx)}
    own = {op: op.decompose for op in ops - table.keys() if _is_composite(op) and not _is_registered(op, ctx)}
    called = {*_IMPORTED_NOT_LOWERED, *_LOWERED_WRONGLY, UNLOWERED_RECIPROCAL}
    decomposed = needed | unregistered | _needs_decomposition(program) | called
    return {op: table[op] for op in decomposed} | own


def _is_composite(op: torch._ops.OpOverload) -> bool:
    return torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), "CompositeImplicitAutograd")


_LOWERED_WRONGLY = (torch.ops.aten.softshrink.default, torch.ops.aten.log_sigmoid.default)
# Ops torch-mlir imports but does not lower (test_frontend_decompositions.py checks that it
# still does not). A direct import of a program with one failed only after
# lowering the rest, then exported the program again for the whole table.
_IMPORTED_NOT_LOWERED = (
    torch.ops.aten.unbind.int, torch.ops.aten.im2col.default, torch.ops.aten.logsumexp.default,
    torch.ops.aten.meshgrid.indexing, torch.ops.aten.prelu.default, torch.ops.aten.xlogy.Tensor,
    torch.ops.aten.upsample_bilinear2d.vec, torch.ops.aten._upsample_bilinear2d_aa.vec)


def _needs_decomposition(program) -> set:
    """The ops (empty if none) that the graph uses and torch-mlir lowers wrongly
    or not at all, which the decompositions below get right:
    - GELU's tanh approximation: torch-mlir uses sqrt(2/pi) for pi = 22/7
      (0.79772 for 0.79788: results off by 5e-5); torch's own decomposition.
    - Softshrink: torch-mlir's lowering subtracts lambda below -lambda too
      (softshrink(-2) = -2.5, not -1.5); torch's own decomposition.
    - Log-sigmoid: torch-mlir's log(sigmoid(x)) is -inf below about -88
      (logsigmoid(-100) = -100); torch's own decomposition, min(x, 0) - log1p(exp(-|x|)).
    - The ops of `_IMPORTED_NOT_LOWERED` (unbind, im2col, logsumexp, ...), and
      circular padding, which torch-mlir does not lower; torch's decompositions.
    - A depthwise transposed convolution: torch-mlir's lowering fails on an
      invalid collapse_shape; Wafer's decomposition (transposed_convolution.py)
      of aten.convolution, which a conv_transpose2d decomposes into.
    - A depthwise 3-D convolution, which torch-mlir does not lower: 2-D
      depthwise convolutions of the depth slices (depthwise_volume_convolution.py).
    - Adaptive pooling whose windows differ in size or spacing: torch-mlir
      assumes one window and one stride; Wafer's decomposition (adaptive_pooling.py).
      3-D adaptive average pooling and max pooling, which torch-mlir lowers to
      scalar code (adaptive_pooling.py, max_pool3d.py).
    - Bilinear upsampling by whole factors: torch-mlir gathers every element
      with its indices checked at run time; Wafer's decomposition
      (bilinear_upsampling.py) blends slices.
    - Nearest upsampling by whole factors: torch's decomposition gathers every
      element too; Wafer's (nearest_upsampling.py) broadcasts.
    - A stable sort and an unsorted topk, which torch-mlir does not lower, as
      the sort and the sorted topk it does (stable_sorts.py).
    - A padded fold, searchsorted, cdist, median, erfinv, isfinite, fmod, hypot
      and integer powers, which torch-mlir does not lower, and reciprocal,
      whose lowering refuses zeros (unlowered_ops.py).
    - erfc, lgamma, digamma and i0, which torch-mlir does not lower, in float64
      from the functions it does (special_functions.py); cummax and cummin as
      log-step scans (running_extrema.py).
    - An unbatched 2-D or 3-D convolution, whose lowering crashed the process,
      as a batch of one (unbatched_convolutions.py).
    A grouped matrix product (a mixture of experts'), which torch-mlir has no
    op for, is taken as such (grouped_matmuls.py)."""
    ops = set()
    if any(node.target == torch.ops.aten.gelu.default and node.kwargs.get("approximate") == "tanh"
           for node in program.graph.nodes):
        ops.add(torch.ops.aten.gelu.default)
    ops |= {node.target for node in program.graph.nodes
            if node.target in (*_LOWERED_WRONGLY, *_IMPORTED_NOT_LOWERED)}
    if any(node.target == torch.ops.aten.pad.default and "circular" in (*node.args[2:3], node.kwargs.get("mode"))
           for node in program.graph.nodes):
        ops.add(torch.ops.aten.pad.default)
    if has_depthwise_transposed_convolution(program) or has_depthwise_volume_convolution(program):
        ops.add(torch.ops.aten.convolution.default)
    return (ops | adaptive_pooling_to_decompose(program) | max_pool3d_to_decompose(program)
            | whole_factor_upsampling(program) | whole_factor_nearest_upsampling(program) | sorts_to_decompose(program)
            | unlowered_ops_to_decompose(program) | targets_in(program, {**SPECIAL_FUNCTIONS, **RUNNING_EXTREMA})
            | unbatched_convolutions(program))


_ATTENTION_OPS = (torch.ops.aten.scaled_dot_product_attention, torch.ops.aten._scaled_dot_product_attention_math,
                  torch.ops.aten._scaled_dot_product_flash_attention_for_cpu)


def _unwritten_buffers_as_constants(program):
    """`program` with each buffer kept in `program.constants` that it never writes
    made a constant tensor input, which it is.

    torch.export keeps non-persistent buffers (BERT's `position_ids`) out of the
    state dict, in `constants`; torch-mlir's frozen import looks every buffer up
    in the state dict, but constant tensors in `constants`.
    """
    signature = program.graph_signature
    written = {spec.target for spec in signature.output_specs if spec.kind == OutputKind.BUFFER_MUTATION}
    specs = [
        InputSpec(InputKind.CONSTANT_TENSOR, spec.arg, spec.target)
        if spec.kind == InputKind.BUFFER and spec.target in program.constants and spec.target not in written
        else spec
        for spec in signature.input_specs
    ]
    if specs == signature.input_specs:
        return program
    return program._update(program.graph_module, ExportGraphSignature(specs, signature.output_specs))


def _has_unregistered_ops(program, ctx: ir.Context) -> bool:
    """Does the graph use an op that torch-mlir has no op for (GPT-2's aten.diff)?

    The importer makes it a `torch.operator`, which no lowering takes, so the
    direct import would fail only after lowering everything else (4 s of a
    4-layer GPT-2): only torch's decompositions reach linalg from it. The name
    is the importer's own, from its naming function.
    """
    return any(node.op == "call_function" and hasattr(node.target, "_schema") and not _is_registered(node.target, ctx)
               for node in program.graph.nodes)


def _is_registered(op, ctx: ir.Context) -> bool:
    return ctx.is_registered_operation(_get_mlir_op_name_for_schema(op._schema))


def _mutates(program) -> bool:
    """Does the exported graph hold an in-place op (e.g. `y[:, 2:4] = x`'s copy_)?"""
    return any(node.op == "call_function" and writes_in_place(node) for node in program.graph.nodes)


@contextlib.contextmanager
def _mha_fast_path_disabled():
    """nn.TransformerEncoderLayer's eval fast path calls one fused op that
    has no linalg lowering; the slow path decomposes into matmuls and softmax."""
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


def _explain_import_error(err: Exception, diagnostics: list[Diagnostic]) -> str:
    """Name the op that failed and where it is in the model, from the diagnostics."""
    errors = [d for d in diagnostics if d.severity == "error"]
    if not errors:
        lines = str(err).strip().splitlines() or [""]
        frame = _user_frame(err)
        where = f"{frame.filename}:{frame.lineno}: " if frame else ""
        if isinstance(err, GuardOnDataDependentSymNode):
            return (f"{where}error: cannot import the model: its control flow depends on a tensor's values, "
                    "which torch.export cannot trace (use torch.where, or torch.cond)")
        return f"{where}error: cannot import the model: {type(err).__name__}: {lines[0]}"
    text = "\n".join(d.message for d in errors)
    ops = sorted(set(re.findall(r'name = "(torch\.[\w.]+)"', text)))
    ops += sorted(set(re.findall(r"'(torch\.aten\.[\w.]+)'", text)) - set(ops))
    header = [f"error: the model uses {', '.join(ops)}, which Wafer cannot lower"] if ops else []
    return "\n".join(header + [str(_first_line(d)) for d in errors])


def _user_frame(err: Exception) -> traceback.FrameSummary | None:
    """The innermost frame of `err`'s traceback in the user's own code: not in
    Python's standard library, torch or Wafer, nor in code compiled from a string."""
    library_roots = (sysconfig.get_paths()["stdlib"],
                     *(str(Path(module.__file__).parent) for module in (torch, sys.modules[__package__])))
    frames = [frame for frame in traceback.extract_tb(err.__traceback__)
              if not frame.filename.startswith(("<", *library_roots))]
    return frames[-1] if frames else None


def _first_line(d: Diagnostic) -> Diagnostic:
    """Keep a diagnostic's first line: the rest is an IR dump of the op."""
    return Diagnostic(d.severity, d.location, first_line(d.message))


class CompiledModel:
    """A compiled `nn.Module`: call it with torch tensors or numpy arrays."""

    def __init__(self, executable, output_structure, output_dtypes: list[torch.dtype | type],
                 boundary: Boundary | None = None):
        """`output_dtypes` holds a torch dtype per tensor result, and `int`,
        `float` or `bool` for a Python number the model returns (`x.item()`).
        A model compiled at a lower precision casts at its `boundary`."""
        self.executable = executable
        self._structure = output_structure
        self._boundary = boundary
        if boundary is not None:
            output_dtypes = [boundary.output_dtype(dtype) for dtype in output_dtypes]
        self._dtypes = output_dtypes
        # Looked up once: through torch it takes ~7 us, a sixth of a LeNet call.
        self._numpy_dtypes = [dtype if isinstance(dtype, type) else numpy_dtype(dtype) for dtype in output_dtypes]

    @property
    def compile_report(self):
        return self.executable.compile_report

    @property
    def report(self):
        """The WSE target's report of the last call (None before the first)."""
        return self.executable.report

    @property
    def last_peak_bytes(self) -> int:
        """The CPU target's peak heap memory during the last call."""
        return self.executable.last_peak_bytes

    def estimate(self):
        """The WSE target's timing report, without running the model."""
        return self.executable.estimate()

    def __call__(self, *inputs, **keywords):
        if keywords:
            raise WaferError(f"error: the compiled model takes its inputs by position, "
                             f"got keyword {', '.join(map(repr, keywords))}")
        as_torch = False
        arrays = []
        for x in inputs:  # the executable converts and checks the rest
            if self._boundary is not None:
                x = self._boundary.input(x)
            if isinstance(x, torch.Tensor):
                as_torch, x = True, _to_numpy(x)
            arrays.append(x)
        results = self.executable.invoke("forward", *arrays)
        results = results if isinstance(results, tuple) else (results,)
        if self._boundary is not None:
            results = [self._boundary.output(r) for r in results]
        if as_torch:
            results = [_to_torch(r, dtype) for r, dtype in zip(results, self._dtypes)]
        else:
            results = [r if r.dtype == dtype else r.astype(dtype) for r, dtype in zip(results, self._numpy_dtypes)]
        if self._structure is None:
            return results[0]
        if hasattr(self._structure, "_fields"):  # a namedtuple takes its fields one by one
            return self._structure(*results)
        return self._structure(results)  # tuple, list, or torch.return_types' struct sequences


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # the same 16 bits, as ml_dtypes' bf16
        return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return tensor.numpy()


def _to_torch(result, dtype: torch.dtype | type):
    """A result as the model returns it: a tensor of `dtype`, or a Python number."""
    if isinstance(dtype, type):
        return dtype(result.item())
    if dtype == torch.bfloat16:
        return torch.from_numpy(result.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(result).to(dtype)


def compile(model: torch.nn.Module, example_inputs, target: str = "cpu", precision: str = "fp32",
            **options) -> CompiledModel:
    """Compile `model` for `target`, specialized to the example inputs' shapes.

    `options` go to the target pipeline (e.g. `tile_sizes=(8, 64)`).
    `precision="fp16"` (or "bf16") computes in 16 bits behind an edge that
    keeps the model's dtypes (precision.py); on the wse target its sums of
    products then accumulate in 16 bits too, unless `accumulate="fp32"`.
    """
    example_inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    model, example_inputs, boundary = at_precision(model, example_inputs, precision)
    if target == "wse":
        options = {**wse_defaults(boundary), **options}
    start = time.perf_counter()
    module, program = _export_and_import(model, example_inputs, "forward")
    structure, dtypes = _output_types(program)
    import_seconds = time.perf_counter() - start
    executable = compile_module(module, target, **options)
    executable.compile_report.record_import(import_seconds)
    return CompiledModel(executable, structure, dtypes, boundary)


# The Python number each kind of traced scalar result stands for.
_NUMBERS = {torch.SymInt: int, torch.SymFloat: float, torch.SymBool: bool, int: int, float: float, bool: bool}


def _output_types(program) -> tuple[type | None, list[torch.dtype]]:
    """How the model returns its tensors (None: a single tensor, else the tuple
    or list type) and their dtypes, from the exported program: compiling never
    runs the model itself (a transformer layer at batch 32 ran 0.1 s)."""
    spec = program.call_spec.out_spec
    output = next(node for node in program.graph.nodes if node.op == "output")
    nodes = {node.name: node for node in output.args[0] if isinstance(node, torch.fx.Node)}
    # A result fixed at export (`x.shape[0] * 3` at a static shape) is a constant, not a node.
    values = [spec.arg.value if isinstance(spec.arg, ConstantArgument) else
              nodes[spec.arg.name].meta.get("val") if spec.arg.name in nodes else None
              for spec in program.graph_signature.output_specs if spec.kind == OutputKind.USER_OUTPUT]
    structure = None if spec.is_leaf() else spec.context if spec.type is collections.namedtuple else spec.type
    if structure not in (None, list) and not issubclass(structure, tuple):
        returned = f"a {structure.__name__}"
    elif not all(child.is_leaf() for child in spec.children()):
        returned = f"a nested {structure.__name__}"
    elif not all(isinstance(value, (torch.Tensor, *_NUMBERS)) for value in values):
        returned = "a value that is neither a tensor nor a number"
    else:
        return structure, [value.dtype if isinstance(value, torch.Tensor) else _NUMBERS[type(value)]
                           for value in values]
    raise WaferError(f"error: the model returns {returned}; Wafer supports tensors, numbers and tuples of them")
