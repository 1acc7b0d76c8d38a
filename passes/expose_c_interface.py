"""wafer-expose-c-interface: give public functions a C-callable wrapper."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass


def public_functions(module: ir.Operation) -> list[ir.OpView]:
    """The `func.func` definitions in `module` that code outside it can call.

    A symbol is public unless its `sym_visibility` is "private" or "nested":
    `func.func public @f` spells the default out. The JIT runtime lists exactly
    these functions, so what it can invoke is what this pass exposes.
    """
    functions = []
    for op in module.regions[0].blocks[0].operations:
        if op.operation.name != "func.func" or not op.regions[0].blocks:
            continue  # not a function, or a declaration: no body to call
        if "sym_visibility" in op.attributes and ir.StringAttr(op.attributes["sym_visibility"]).value != "public":
            continue
        functions.append(op)
    return functions


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
