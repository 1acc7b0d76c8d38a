"""wafer-fold-const-globals: read immutable ml_program globals as constants."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith

from .pass_base import PassFailure, WaferPass


@dataclass(frozen=True)
class FoldConstGlobals(WaferPass):
    """Replace `ml_program.global_load_const @g` with `arith.constant` of @g's value.

    Bufferization has no model for `global_load_const`. The global is
    immutable (the op's verifier checks it), so its initial value is the value
    every load sees; as a constant it is bufferized like any other weight, and
    canonicalize can fold through it. An external global has no value to fold:
    that is an error at the load.
    """

    name = "wafer-fold-const-globals"
    summary = "Replace ml_program.global_load_const with arith.constant of the global's value"

    def apply(self, module: ir.Operation) -> None:
        symbols = ir.SymbolTable(module)
        loads: list[ir.Operation] = []

        def find(op: ir.Operation) -> ir.WalkResult:
            if op.name == "ml_program.global_load_const":
                loads.append(op)
            return ir.WalkResult.ADVANCE

        module.walk(find)
        for load in loads:
            name = ir.FlatSymbolRefAttr(load.attributes["global"]).value
            value = symbols[name].attributes["value"]
            if str(value).startswith("#ml_program.extern"):  # the attribute has no Python class
                raise PassFailure(load.location, f"global @{name} is external: its value is not known at compile time")
            with ir.InsertionPoint(load), load.location:
                constant = arith.ConstantOp(load.results[0].type, value)
            load.results[0].replace_all_uses_with(constant.result)
            load.erase()
