"""Which functions a module exposes: shared by wafer-expose-c-interface and the JIT runtime."""

from __future__ import annotations

from torch_mlir import ir


def public_functions(module: ir.Operation) -> list[ir.OpView]:
    """The `func.func` definitions in `module` that code outside it can call.

    A symbol is public unless its `sym_visibility` is "private" or "nested":
    `func.func public @f` spells the default out. The runtime lists exactly
    the functions the pass gives a C interface, because both ask here.
    """
    functions = []
    for op in module.regions[0].blocks[0].operations:
        if op.operation.name != "func.func" or not op.regions[0].blocks:
            continue  # not a function, or a declaration: no body to call
        if "sym_visibility" in op.attributes and ir.StringAttr(op.attributes["sym_visibility"]).value != "public":
            continue
        functions.append(op)
    return functions
