"""wse-generalize-named: generalize the named linalg ops but chosen families, ahead of fusion."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects.transform import structured

from .pass_base import WaferPass, find_ops
from .transform_script import match_tagged, tag, transform_script

_NOT_NAMED = ("linalg.generic", "linalg.yield", "linalg.index")


@dataclass(frozen=True)
class WseGeneralizeNamed(WaferPass):
    """Generalize every named linalg op except the families in `keep`.

    Run before linalg-fuse-elementwise-ops, it lets fusion merge elementwise
    chains, fold fills and fold broadcasts and transposes into matmuls,
    while the kept ops stay out of its reach. Fused into a convolution's
    input, a producer (batch norm and ReLU before the next convolution)
    would read through the window: on the wafer it runs once per
    multiply-add of every output channel, and no later pass can move it
    back onto the input tensor. Left out, it is the previous convolution's
    epilogue and runs once per element. (A producer fused into a matmul's
    operand reads through a projected map; wafer-hoist-broadcast-compute
    moves it back out.)

    Options:
      keep: the op families (names after `linalg.`, as prefixes) to leave named.
    """

    name = "wse-generalize-named"
    summary = "Generalize named linalg ops except the kept families (convolutions by default)"

    keep: tuple[str, ...] = ("conv_", "depthwise_conv_")

    def apply(self, module: ir.Operation) -> None:
        kept = tuple(f"linalg.{family}" for family in self.keep)
        named = find_ops(module, lambda op: op.name.startswith("linalg.") and op.name not in _NOT_NAMED
                         and not op.name.startswith(kept))
        if not named:
            return
        for op in named:
            tag(op, "generalize")
        with transform_script(module) as root:
            structured.GeneralizeOp(match_tagged(root, "generalize"))
