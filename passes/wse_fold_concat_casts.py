"""wse-fold-concat-casts: concatenate the static tensors a cast made dynamic."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass, find_ops


def _forgets_sizes(cast: ir.Operation) -> bool:
    """A tensor.cast whose result only loses sizes its source knows."""
    source, result = (ir.RankedTensorType(value.type) for value in (cast.operands[0], cast.results[0]))
    return source.rank == result.rank and all(
        result.is_dynamic_dim(d) or result.get_dim_size(d) == source.get_dim_size(d) for d in range(result.rank))


@dataclass(frozen=True)
class WseFoldConcatCasts(WaferPass):
    """Have each tensor.concat read the sources of the casts that only forget
    sizes, and drop those casts once unused.

    torch-mlir lowers `torch.roll` (Swin's shifted windows) to two slices, each
    cast to a dynamic size along the rolled dim, and their concat, whose own
    result is static. canonicalize keeps the casts, and the wse target places
    static shapes only (`wse-verify-support`): this pass runs before it. A
    concat whose operands are all static infers the same result type.
    """

    name = "wse-fold-concat-casts"
    summary = "Have tensor.concat read the static sources of casts that only forget sizes"

    def apply(self, module: ir.Operation) -> None:
        folded = []
        for concat in find_ops(module, lambda op: op.name == "tensor.concat"):
            for position, value in enumerate(list(concat.operands)):
                cast = value.owner
                if isinstance(cast, ir.OpView) and cast.name == "tensor.cast" and _forgets_sizes(cast.operation):
                    concat.operands[position] = cast.operands[0]
                    if not any(cast.operation == seen for seen in folded):
                        folded.append(cast.operation)
        for cast in folded:
            if not any(True for _ in cast.results[0].uses):
                cast.erase()
