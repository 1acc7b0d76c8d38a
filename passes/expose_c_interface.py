"""wafer-expose-c-interface: give public functions a C-callable wrapper."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..symbols import public_functions
from .pass_base import WaferPass


@dataclass(frozen=True)
class ExposeCInterface(WaferPass):
    """Mark every public `func.func` with `llvm.emit_c_interface`.

    The LLVM lowering then emits `_mlir_ciface_<name>`, which takes memref
    descriptors by pointer: the calling convention the JIT runtime uses.
    """

    name = "wafer-expose-c-interface"
    summary = "Mark public functions llvm.emit_c_interface for the JIT runtime"

    def apply(self, module: ir.Operation) -> None:
        for op in public_functions(module):
            op.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
