"""An exported model (aot.py) called from Python, as the check of what runs without it.

The library describes its entry point itself (`wafer_model`, model_io.h), so
the signature comes from the artifact, not from the model it was made from.
`ExportedExecutable` calls the library in process through ctypes, like the JIT
runtime's executables; `run_main` runs the standalone `model_main` on .npy
files in a child process, which is what `wafer verify` checks.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .aot import EXECUTABLE, LIBRARY
from .diagnostics import WaferError
from .signatures import Executable, Signature, TensorSpec


class _Tensor(ctypes.Structure):  # struct wafer_tensor of aot_runtime/model_io.h
    _fields_ = [("name", ctypes.c_char_p), ("descr", ctypes.c_char_p), ("rank", ctypes.c_int),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("nbytes", ctypes.c_uint64)]


class _Model(ctypes.Structure):  # struct wafer_model of aot_runtime/model_io.h
    _fields_ = [("function", ctypes.c_char_p), ("call", ctypes.c_void_p), ("num_inputs", ctypes.c_int),
                ("num_outputs", ctypes.c_int), ("tensors", ctypes.POINTER(_Tensor))]


_CALL = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_void_p))


class ExportedExecutable(Executable):
    """The model `wafer export` wrote into `directory`: `exe.forward(*arrays)`."""

    def __init__(self, directory):
        self.directory = Path(directory)
        library = self.directory / LIBRARY
        if not library.is_file():
            raise WaferError(f"error: no exported model in '{directory}' (no {LIBRARY}): run `wafer export` first")
        try:
            self._library = ctypes.CDLL(str(library.resolve()))
            model = _Model.in_dll(self._library, "wafer_model")
        except (OSError, ValueError) as err:
            raise WaferError(f"error: cannot load the exported model '{library}': {err}") from None
        specs = []
        for i in range(model.num_inputs + model.num_outputs):
            tensor = model.tensors[i]
            dtype = np.lib.format.descr_to_dtype(tensor.descr.decode())
            specs.append(TensorSpec(tuple(tensor.shape[d] for d in range(tensor.rank)), dtype))
        name = model.function.decode()
        super().__init__({name: Signature(name, tuple(specs[:model.num_inputs]), tuple(specs[model.num_inputs:]))})
        self._call = _CALL(model.call)
        self._last_error = self._library.model_last_error
        self._last_error.restype = ctypes.c_char_p

    def checked_call(self, name: str, args) -> tuple[Signature, list[np.ndarray]]:
        try:
            return super().checked_call(name, args)
        except WaferError as err:  # say which model refused the arguments
            raise WaferError(f"{err} (the model exported to {self.directory})") from None

    def invoke(self, name: str, *args):
        signature, arrays = self.checked_call(name, args)
        outputs = [np.empty(spec.shape, spec.dtype) for spec in signature.results]
        buffers = (ctypes.c_void_p * len(arrays + outputs))(*[a.ctypes.data for a in arrays + outputs])
        if self._call(buffers) != 0:
            message = (self._last_error() or b"error: the model failed").decode(errors="replace")
            raise WaferError(f"{message} (in {self.directory / LIBRARY})")
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def run_main(self, *args) -> list[np.ndarray]:
        """Call the entry point through `model_main` and .npy files in a scratch folder,
        in a child process: the artifact as it runs without Python."""
        signature, arrays = self.checked_call(self.functions[0], args)
        executable = self.directory / EXECUTABLE
        with tempfile.TemporaryDirectory(prefix="wafer-run-") as scratch:
            in_paths = [os.path.join(scratch, f"in{i}.npy") for i in range(len(arrays))]
            out_paths = [os.path.join(scratch, f"out{i}.npy") for i in range(len(signature.results))]
            for path, array in zip(in_paths, arrays):
                np.save(path, array)
            try:
                done = subprocess.run([str(executable), *in_paths, *out_paths], capture_output=True, text=True)
            except OSError as err:
                raise WaferError(f"error: cannot run '{executable}': {err.strerror}") from None
            if done.returncode != 0:
                lines = done.stderr.strip().splitlines() or [f"error: exited with status {done.returncode}"]
                raise WaferError(f"{lines[-1].removeprefix('model_main: ')} (running {executable})")
            return [np.load(path) for path in out_paths]
