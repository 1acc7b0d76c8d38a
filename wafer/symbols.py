"""The symbols compiled code and the JIT runtime share: which functions a
module exposes (wafer-expose-c-interface), which the runtime provides
(wafer-lower-assert, wafer-profile-kernels), which it reads (wafer-count-heap,
wafer-plan-buffers) and which it compiles apart (wafer-outline-kernels)."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import func

ASSERT_FAILED = "wafer_assert_failed"  # void (const char *message): record a failed cf.assert
ASSERT_PENDING = "wafer_assert_pending"  # bool (void): has one failed in this call?
HEAP_COUNTERS = "wafer_heap_counters"  # i64 *(void): {heap bytes held now, the most held since reset}
KERNEL_BEGIN = "wafer_kernel_begin"  # void (i64 kernel): a timed kernel starts
KERNEL_END = "wafer_kernel_end"  # void (i64 kernel): it ends
KERNELS_ATTR = "wafer.kernels"  # on the module: the timed kernels' names, indexed by their ids
OUTLINED_KERNEL = "wafer_kernel"  # wafer-outline-kernels' functions: wafer_kernel0, wafer_kernel1, ...
ARENA_BYTES = "wafer.arena_bytes"  # on a function: the bytes of the arena its temporaries share


def declare_runtime(name: str, inputs: list[ir.Type], results: list[ir.Type]) -> None:
    """A private declaration; `llvm.emit_c_interface` makes it call `_mlir_ciface_<name>`,
    the symbol `ExecutionEngine.register_runtime` provides."""
    declaration = func.FuncOp(name, ir.FunctionType.get(inputs, results), visibility="private")
    declaration.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()


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
