"""wafer-realign-stack: each function aligns its own stack frame, so vector spills never split a cache line."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass


@dataclass(frozen=True)
class RealignStack(WaferPass):
    """Give every defined `llvm.func` LLVM's `stackrealign` attribute.

    The x86-64 ABI aligns the stack to 16 bytes at a call. LLVM picks which
    registers go to the stack during register allocation, after it has
    decided to leave the frame pointer free, and then it can no longer
    realign the frame: a 32- or 64-byte vector spill gets whatever alignment
    the caller's stack pointer happened to have, and `vmovups` it. Where that
    is not a multiple of the vector, every spill and reload in a microkernel's
    loop straddles two cache lines, and the same code runs several times
    slower, depending on how deep the Python stack was when it was called.
    `stackrealign` reserves the frame pointer up front and aligns the frame
    to its largest spill slot in the prologue (three instructions a call).
    """

    name = "wafer-realign-stack"
    summary = "Align each function's stack frame to its widest spill slot"

    def apply(self, module: ir.Operation) -> None:
        stackrealign = ir.StringAttr.get("stackrealign")
        for function in module.regions[0].blocks[0].operations:  # functions are the module's own ops
            if function.name != "llvm.func" or not function.regions[0].blocks:
                continue
            flags = list(function.attributes["passthrough"]) if "passthrough" in function.attributes else []
            if stackrealign not in flags:
                function.attributes["passthrough"] = ir.ArrayAttr.get([*flags, stackrealign])
