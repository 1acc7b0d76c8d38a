"""wafer-verify-cpu-support: reject, up front, ops the CPU target cannot lower."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import PassFailure, WaferPass

# Dialects the CPU pipeline lowers to LLVM. torch-mlir's fx importer emits only
# these when its linalg-on-tensors lowering succeeds.
SUPPORTED_DIALECTS = frozenset(
    {
        "builtin", "func", "arith", "math", "linalg", "tensor", "tm_tensor",
        "ml_program", "scf", "affine", "bufferization", "memref", "cf", "complex",
        "vector", "index", "ub",
    }
)


@dataclass(frozen=True)
class VerifyCpuSupport(WaferPass):
    """Fail at the first op outside the dialects the CPU pipeline lowers.

    Without this check an unsupported op fails deep inside the LLVM lowering
    with a message about conversion, far from the user's model; here the error
    names the op and points at its source location.
    """

    name = "wafer-verify-cpu-support"
    summary = "Check that every op belongs to a dialect the CPU target lowers"

    def apply(self, module: ir.Operation) -> None:
        unsupported: list[ir.Operation] = []

        def find(op: ir.Operation) -> ir.WalkResult:
            if op.name.split(".", 1)[0] in SUPPORTED_DIALECTS:
                return ir.WalkResult.ADVANCE
            unsupported.append(op)
            return ir.WalkResult.INTERRUPT

        module.walk(find)
        if unsupported:
            op = unsupported[0]
            raise PassFailure(op.location, f"'{op.name}' is not supported by the CPU target")
