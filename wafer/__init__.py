"""Wafer: an MLIR-native ML compiler for CPUs and wafer-scale accelerators.

    compiled = wafer.compile(model, example_inputs, target="cpu")
    exe = wafer.compile_mlir(linalg_text, target="cpu")
"""

from .compiler import compile_mlir
from .diagnostics import WaferError

__all__ = ["compile", "compile_mlir", "CompiledModel", "WaferError"]


def __getattr__(name: str):
    # The torch front end is imported on first use: `wafer-opt` never pays for torch.
    if name in ("compile", "CompiledModel"):
        from . import frontend

        return getattr(frontend, name)
    raise AttributeError(name)
