"""wafer-unoptimized-glue: LLVM compiles the functions wafer-outline-kernels left as glue without -O2."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .outline_kernels import GLUE
from .pass_base import WaferPass


@dataclass(frozen=True)
class UnoptimizedGlue(WaferPass):
    """Mark each `llvm.func` tagged as glue `optimize_none` and `no_inline`.

    A separate step on the LLVM dialect because convert-func-to-llvm carries
    a func.func's discardable attributes over to the llvm.func, but not the
    ones it would need for this (`passthrough`, `no_inline`). Its C wrapper
    carries the tag too: a load of each descriptor and one call.
    """

    name = "wafer-unoptimized-glue"
    summary = "Compile the glue wafer-outline-kernels left without LLVM's optimizer"

    def apply(self, module: ir.Operation) -> None:
        for function in module.regions[0].blocks[0].operations:  # functions are the module's own ops
            if function.name != "llvm.func" or GLUE not in function.attributes:
                continue
            del function.attributes[GLUE]
            for flag in ("optimize_none", "no_inline"):
                function.attributes[flag] = ir.UnitAttr.get()
