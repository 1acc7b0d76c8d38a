"""wafer-bf16-builtins: define compiler-rt's f32 -> bf16 rounding where the module uses bf16."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass

_TRUNCATE = "__truncsfbf2"

# Round to nearest even in integer ops, as compiler-rt does: add 0x7fff plus the
# kept mantissa's lowest bit, keep the high half. A NaN keeps its sign and high
# mantissa bits and is made quiet.
_DEFINITION = f"""
llvm.func weak @{_TRUNCATE}(%x: f32) -> bf16 {{
  %bits = llvm.bitcast %x : f32 to i32
  %c16 = llvm.mlir.constant(16 : i32) : i32
  %c1 = llvm.mlir.constant(1 : i32) : i32
  %half = llvm.mlir.constant(32767 : i32) : i32
  %quiet = llvm.mlir.constant(64 : i32) : i32
  %high = llvm.lshr %bits, %c16 : i32
  %odd = llvm.and %high, %c1 : i32
  %biased = llvm.add %bits, %half : i32
  %even = llvm.add %biased, %odd : i32
  %rounded = llvm.lshr %even, %c16 : i32
  %nan = llvm.fcmp "uno" %x, %x : f32
  %quiet_nan = llvm.or %high, %quiet : i32
  %chosen = llvm.select %nan, %quiet_nan, %rounded : i1, i32
  %narrow = llvm.trunc %chosen : i32 to i16
  %result = llvm.bitcast %narrow : i16 to bf16
  llvm.return %result : bf16
}}
"""


def _uses_bf16(module: ir.Operation) -> bool:
    """Whether any op takes or gives a bf16 value, or a vector or tensor of them."""
    found = False

    def visit(op: ir.Operation) -> ir.WalkResult:
        nonlocal found
        types = [v.type for v in (*op.operands, *op.results)]
        found = any(isinstance(t.element_type if isinstance(t, ir.ShapedType) else t, ir.BF16Type) for t in types)
        return ir.WalkResult.INTERRUPT if found else ir.WalkResult.ADVANCE

    module.walk(visit)
    return found


@dataclass(frozen=True)
class Bf16Builtins(WaferPass):
    """Add a weak `__truncsfbf2` to a module that computes in bf16.

    x86 has no bf16 arithmetic: the pipeline computes in f32 and rounds in
    integer ops, but LLVM still promotes a bf16 scalar it broadcasts or
    inserts into a vector to f32 and rounds it back with compiler-rt's
    `__truncsfbf2`, where the CPU lacks AVX-512 BF16. libgcc has it only from
    GCC 13 on, so the JIT could not link the model. A CPU with the
    instruction never calls it; a library that defines it wins over the weak copy.
    """

    name = "wafer-bf16-builtins"
    summary = "Define compiler-rt's f32 -> bf16 truncation in modules that use bf16"

    def apply(self, module: ir.Operation) -> None:
        body = module.regions[0].blocks[0]
        defined = any(op.name == "llvm.func" and ir.StringAttr(op.attributes["sym_name"]).value == _TRUNCATE
                      for op in body.operations)
        if defined or not _uses_bf16(module):
            return
        definition = ir.Module.parse(_DEFINITION)  # kept alive until its function is moved out
        for op in list(definition.body.operations):
            body.append(op)
