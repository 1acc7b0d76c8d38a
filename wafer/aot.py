"""Ahead-of-time artifacts: a compiled model that runs without Python or MLIR.

    wafer.export(model, example_inputs, "out")   # or: wafer export lenet -o out
    out/libmodel.so   int forward(const float *in0, float *out0): plain row-major buffers
    out/model.h       its declaration, with the shapes, and model_init / model_last_error
    out/weights.bin   the weights, read by the library on its first call
    out/model_main    runs the model on .npy files: model_main in0.npy out0.npy

The object code is the JIT's: the cpu pipeline's LLVM-dialect module, compiled
by an `ExecutionEngine` (position-independent) and dumped as an object file.
The system C compiler (`$CC`, default `cc`) links it with two C files: model.c,
generated here, which wraps the memref descriptors of the C interface
(`_mlir_ciface_forward`, results as out-params after the inputs) around plain
pointers; and aot_runtime/runtime.c, which defines what the JIT runtime
provides in Python: the hooks wafer-lower-assert's code calls when a runtime
check fails (the entry point then returns MODEL_CHECK_FAILED) and the weights.

Weights: `externalize_constants` turns each large constant into an external
symbol, as for the JIT. model.c defines each one as a zero-filled, 64-byte
aligned array of its size under the symbol's name, and the library reads
weights.bin into them before its first call. The compiled code addresses them
as it would initialized globals, unchanged, at the cost of one copy at load.
A version script exports only the entry point, model_init, model_last_error
and the entry point's description that model_main reads (`wafer_model`), so
neither the weights' symbols nor the compiled code's helpers leak.

weights.bin, little-endian: the 8-byte `WEIGHTS_MAGIC`, a u64 count, count x
(u64 offset, u64 bytes), then each array at its offset, 64-byte aligned, in
the order model.c lists them; the library checks the count and each size.

The code is compiled for this machine's CPU (the JIT's host target). With
threads > 1 the library calls the OpenMP runtime: libiomp5.so is copied next
to it and found through an `$ORIGIN` rpath. exported.py calls the artifact
from Python.
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch_mlir import ir
from torch_mlir.execution_engine import ExecutionEngine

from .compiler import lower_for_cpu, uses_openmp
from .cpu_runtime import openmp_runtime
from .diagnostics import WaferError, unlinked
from .external_constants import externalize_constants
from .signatures import Signature, TensorSpec, public_signatures
from .symbols import ASSERT_FAILED, ASSERT_PENDING

LIBRARY, HEADER, WEIGHTS, EXECUTABLE = "libmodel.so", "model.h", "weights.bin", "model_main"
WEIGHTS_MAGIC = b"WAFERWB1"
RUNTIME_SOURCES = Path(__file__).parent / "aot_runtime"
_ALIGNMENT = 64
_OPENMP = "libiomp5.so"
# The compiled function keeps its C interface (`_mlir_ciface_forward`) but gives its
# own name to the plain-buffer entry point that model.c defines.
_COMPILED_PREFIX = "wafer_compiled_"
# The names model.c and runtime.c use besides the entry point's.
_RESERVED_PREFIXES = ("wafer_", "model_")

# The C element type of each dtype: f16 and bf16 as their bits, complex as (real, imaginary) pairs.
_C_TYPES = {
    "float16": "uint16_t", "bfloat16": "uint16_t", "float32": "float", "float64": "double", "bool": "bool",
    "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
    "complex64": "float", "complex128": "double",
}


@dataclass(frozen=True)
class Artifact:
    """What `export` wrote into `directory`, and the signature of its entry point."""

    directory: Path
    signature: Signature

    @property
    def library(self) -> Path:
        return self.directory / LIBRARY

    @property
    def header(self) -> Path:
        return self.directory / HEADER

    @property
    def weights(self) -> Path:
        return self.directory / WEIGHTS

    @property
    def executable(self) -> Path:
        return self.directory / EXECUTABLE


def export(model, example_inputs, out_dir, **options) -> Artifact:
    """Compile an `nn.Module` for the CPU, specialized to the example inputs' shapes,
    into a library, header, weights file and runner in `out_dir` (see the module
    docstring). `options` are the cpu pipeline's; `threads` defaults to 1."""
    from .frontend import import_model

    example_inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    compiler = c_compiler()  # before the import and lowering: fail in a moment, not after them
    return export_module(import_model(model, example_inputs), out_dir, compiler=compiler, **options)


def export_module(module: ir.Module, out_dir, compiler: list[str] | None = None, **options) -> Artifact:
    """Export a linalg-on-tensors module with one public function of static shapes;
    it is lowered in place. The files are built in a scratch folder and moved into
    `out_dir` at the end, so a failed export leaves an earlier one whole."""
    compiler = compiler or c_compiler()
    if options.get("profile"):
        raise WaferError("error: an exported model cannot be profiled: its kernel timers live in the JIT "
                         "runtime (profile it with `wafer run --profile`)")
    if options.get("out_params") is False:
        raise WaferError("error: an exported model writes its results into the caller's buffers: "
                         "drop out_params=False")
    signature = _entry_signature(public_signatures(module))
    _, _, report = lower_for_cpu(module, **{"threads": 1, **options})
    openmp = uses_openmp(report)
    _rename_compiled_entry(module, signature.name)
    weights = externalize_constants(module)
    with tempfile.TemporaryDirectory(prefix="wafer-export-") as scratch:
        build = Path(scratch)
        (build / HEADER).write_text(_header_source(signature))
        _write_weights(build / WEIGHTS, list(weights.values()))
        _write_object(module, signature.name, weights, openmp, build / "model.o")
        (build / "model.c").write_text(_entry_source(signature, weights))
        (build / "exports.map").write_text(
            f"{{ global: {signature.name}; model_init; model_last_error; wafer_model; local: *; }};\n")
        files = _link(compiler, build, openmp)
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name in files:
                shutil.move(build / name, out / name)
        except OSError as err:
            raise WaferError(f"error: cannot write the export folder '{out}': {err.strerror}") from None
    return Artifact(out, signature)


def c_compiler() -> list[str]:
    """The C compiler that links the artifact: `$CC` (a command, maybe with flags), else `cc`."""
    command = shlex.split(os.environ.get("CC", "cc"))
    if not command or shutil.which(command[0]) is None:
        name = command[0] if command else ""
        raise WaferError(f"error: no C compiler '{name}' to link the exported model: install one (e.g. gcc) "
                         "or point CC at one")
    return command


def _entry_signature(signatures: dict[str, Signature]) -> Signature:
    if len(signatures) != 1:
        raise WaferError(f"error: an exported model has one entry point, and the module has {len(signatures)} "
                         f"public functions ({', '.join(signatures) or 'none'})")
    signature = next(iter(signatures.values()))
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", signature.name) or signature.name.startswith(_RESERVED_PREFIXES):
        raise WaferError(f"error: @{signature.name} cannot name a C function: an exported model's entry point "
                         f"needs a C identifier that does not start with {' or '.join(_RESERVED_PREFIXES)}")
    for i, spec in enumerate(signature.args):
        if None in spec.shape:
            raise WaferError(f"error: argument {i} of @{signature.name} is {spec}; an exported model takes "
                             "static shapes only")
    return signature


def _rename_compiled_entry(module: ir.Module, name: str) -> None:
    with module.context:
        table = ir.SymbolTable(module.operation)
        ir.SymbolTable.replace_all_symbol_uses(name, _COMPILED_PREFIX + name, module.operation)
        ir.SymbolTable.set_symbol_name(table[name], _COMPILED_PREFIX + name)


def _write_object(module: ir.Module, entry: str, weights: dict[str, np.ndarray], openmp: bool, path: Path) -> None:
    """Compile the LLVM-dialect module as the JIT does and save its object code.

    The engine compiles on the first lookup, and links what it compiles, so the
    symbols that the library defines in C must resolve here too: to the weights'
    arrays, and to a placeholder for the assert hooks, never called. (Dumping
    without a lookup would look up every function's packed wrapper, which
    private functions do not have.)
    """
    engine = ExecutionEngine(module, opt_level=2, shared_libs=[openmp_runtime()] if openmp else [],
                             enable_object_dump=True, enable_pic=True)
    placeholder = ctypes.c_char()
    for symbol in (ASSERT_FAILED, ASSERT_PENDING):
        engine.raw_register_runtime("_mlir_ciface_" + symbol, ctypes.c_void_p(ctypes.addressof(placeholder)))
    for symbol, array in weights.items():
        engine.raw_register_runtime(symbol, ctypes.c_void_p(array.ctypes.data))
    if not engine.raw_lookup("_mlir_ciface_" + entry):
        raise unlinked(f"the JIT could not compile @{entry} to object code")
    engine.dump_to_object_file(str(path))


def _write_weights(path: Path, arrays: list[np.ndarray]) -> None:
    """weights.bin: the arrays at 64-byte aligned offsets after a table of (offset, bytes)."""
    offsets, offset = [], _aligned(len(WEIGHTS_MAGIC) + 8 + 16 * len(arrays))
    for array in arrays:
        offsets.append(offset)
        offset = _aligned(offset + array.nbytes)
    table = np.array([[o, a.nbytes] for o, a in zip(offsets, arrays)], dtype="<u8").reshape(-1, 2)
    with open(path, "wb") as file:
        file.write(WEIGHTS_MAGIC + np.array([len(arrays)], dtype="<u8").tobytes() + table.tobytes())
        for start, array in zip(offsets, arrays):
            file.write(b"\0" * (start - file.tell()))
            file.write(array.tobytes())


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGNMENT) * _ALIGNMENT


def _buffers(signature: Signature) -> list[tuple[str, TensorSpec, bool]]:
    """(name, spec, is an output) for each buffer of the entry point, inputs first."""
    return ([(f"in{i}", spec, False) for i, spec in enumerate(signature.args)]
            + [(f"out{i}", spec, True) for i, spec in enumerate(signature.results)])


def _parameters(signature: Signature) -> str:
    return ", ".join(f"{'' if output else 'const '}{_C_TYPES[spec.dtype.name]} *{name}"
                     for name, spec, output in _buffers(signature))


def _header_source(signature: Signature) -> str:
    shapes = "\n".join(f" *   {name:5} {spec.dtype.name} {'scalar' if spec.scalar else spec.shape}"
                       for name, spec, _ in _buffers(signature))
    return f"""\
/* {LIBRARY}: @{signature.name} of a model compiled ahead of time by Wafer.
 *
 * One buffer per input and output, row-major and contiguous, of these dtypes and
 * shapes (float16 and bfloat16 as their bits, complex as (real, imaginary) pairs):
{shapes}
 * The outputs are written in place. The weights are read from {WEIGHTS} next to
 * {LIBRARY} on the first call, or from the path given to model_init before it.
 */
#ifndef WAFER_MODEL_H
#define WAFER_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

enum {{ MODEL_OK = 0, MODEL_CHECK_FAILED = 1, MODEL_NO_WEIGHTS = 2 }};

/* Runs @{signature.name}. Returns MODEL_OK, MODEL_CHECK_FAILED (a runtime check failed;
 * the outputs are undefined) or MODEL_NO_WEIGHTS; model_last_error() says why. */
int {signature.name}({_parameters(signature)});

/* Loads the weights from weights_path, or when it is NULL from {WEIGHTS} next to {LIBRARY}.
 * Call it before the first call from any thread, or not at all. Returns MODEL_OK or MODEL_NO_WEIGHTS. */
int model_init(const char *weights_path);

/* Why the last failed call on this thread failed: a one-line message, or NULL. */
const char *model_last_error(void);

#ifdef __cplusplus
}}
#endif

#endif
"""


def _entry_source(signature: Signature, weights: dict[str, np.ndarray]) -> str:
    """model.c: the weight arrays, the plain-buffer entry point, and its description
    for model_main (model_io.h)."""
    buffers = _buffers(signature)
    ranks = sorted({len(spec.shape) for _, spec, _ in buffers})
    memrefs = "\n".join(
        f"struct memref{rank} {{ void *allocated, *aligned; int64_t offset;"
        + (f" int64_t sizes[{rank}], strides[{rank}];" if rank else "") + " };" for rank in ranks)
    compiled = ", ".join(f"struct memref{len(spec.shape)} *" for _, spec, _ in buffers) or "void"
    arrays = "\n".join(f'unsigned char wafer_weight{i}[{array.nbytes}] __asm__("{symbol}") '
                       "__attribute__((aligned(64)));" for i, (symbol, array) in enumerate(weights.items()))
    table = "".join(f"{{wafer_weight{i}, {array.nbytes}}}, " for i, array in enumerate(weights.values()))
    descriptors = "\n".join(f"    struct memref{len(spec.shape)} {name}_memref = {_descriptor(name, spec)};"
                            for name, spec, _ in buffers)
    pointers = ", ".join(f"&{name}_memref" for name, _, _ in buffers)
    shapes = "\n".join(f"static const int64_t wafer_{name}_shape[] = {{{', '.join(map(str, spec.shape))}}};"
                       for name, spec, _ in buffers if spec.shape)
    tensors = ",\n".join(
        f'    {{"{name}", "{np.lib.format.dtype_to_descr(spec.dtype)}", {len(spec.shape)}, '
        f'{f"wafer_{name}_shape" if spec.shape else "NULL"}, {math.prod(spec.shape) * spec.dtype.itemsize}}}'
        for name, spec, _ in buffers)
    arguments = ", ".join(f"buffers[{i}]" for i in range(len(buffers)))
    return f"""\
/* Generated by `wafer export`: the entry point @{signature.name} on plain buffers. */
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "model_io.h"

{memrefs}

void _mlir_ciface_{signature.name}({compiled});

/* The compiled code's external constants, filled from {WEIGHTS}. */
{arrays}
const struct wafer_weight wafer_weights[] = {{{table}{{NULL, 0}}}};

int {signature.name}({_parameters(signature)}) {{
    int status = wafer_begin_call();
    if (status != MODEL_OK)
        return status;
{descriptors}
    _mlir_ciface_{signature.name}({pointers});
    return wafer_end_call();
}}

{shapes}
static const struct wafer_tensor wafer_tensors[] = {{
{tensors}
}};

static int wafer_call(void *const *buffers) {{ return {signature.name}({arguments}); }}

const struct wafer_model wafer_model = {{
    "{signature.name}", wafer_call, {len(signature.args)}, {len(signature.results)}, wafer_tensors}};
"""


def _descriptor(name: str, spec: TensorSpec) -> str:
    """A memref descriptor's initializer for a row-major buffer."""
    fields = f"(void *){name}, (void *){name}, 0"
    if not spec.shape:
        return f"{{{fields}}}"
    strides = [math.prod(spec.shape[i + 1:]) for i in range(len(spec.shape))]
    return f"{{{fields}, {{{', '.join(map(str, spec.shape))}}}, {{{', '.join(map(str, strides))}}}}}"


def _link(compiler: list[str], build: Path, openmp: bool) -> list[str]:
    """Link libmodel.so from the object code and the C shims, then model_main against it;
    the names of the files that make the artifact."""
    includes = ["-I", str(build), "-I", str(RUNTIME_SOURCES), f'-DWAFER_WEIGHTS_MAGIC="{WEIGHTS_MAGIC.decode()}"']
    openmp_flags = []
    if openmp:
        shutil.copy2(openmp_runtime(), build / _OPENMP)
        openmp_flags = [str(build / _OPENMP), "-Wl,-rpath,$ORIGIN"]
    _compile(compiler + [
        "-shared", "-fPIC", "-O2", "-pthread", "-o", str(build / LIBRARY), str(build / "model.o"),
        str(build / "model.c"), str(RUNTIME_SOURCES / "runtime.c"), *includes, f"-Wl,-soname,{LIBRARY}",
        f"-Wl,--version-script={build / 'exports.map'}", *openmp_flags, "-lm",
    ], LIBRARY)
    _compile(compiler + [
        "-O2", "-o", str(build / EXECUTABLE), str(RUNTIME_SOURCES / "model_main.c"), *includes,
        str(build / LIBRARY), "-Wl,-rpath,$ORIGIN", f"-Wl,-rpath-link,{build}",
    ], EXECUTABLE)
    return [LIBRARY, HEADER, WEIGHTS, EXECUTABLE] + ([_OPENMP] if openmp else [])


def _compile(command: list[str], target: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as err:
        raise WaferError(f"error: cannot run the C compiler '{command[0]}': {err.strerror}") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        first = next((line for line in lines if "error" in line), lines[0] if lines else f"status {done.returncode}")
        raise WaferError(f"error: '{command[0]}' could not build {target}: {first.strip()}")
