"""wse-bias-after-sums: a sum whose init is a broadcast bias starts from zero and adds the bias after."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg

from ..wse_target.distribution import combiner
from .matmul_bias import add_bias_after_sums
from .pass_base import WaferPass, find_ops


def _sums_over_k(op: ir.Operation) -> bool:
    """A contraction with a k, or a convolution over input channels, that sums
    (a max pool does not): the ops whose k wse-place may split over the
    columns. A depthwise convolution keeps its windows whole on each PE.
    Whether the init is a broadcast bias, `add_bias_after_sums` checks."""
    if not op.name.startswith("linalg.") or len(op.operands) != 3:
        return False
    if linalg.isa_contraction_op(op):
        over_k = bool(list(linalg.infer_contraction_dimensions(op).k))
    else:
        over_k = linalg.isa_convolution_op(op) and bool(list(linalg.infer_convolution_dimensions(op).input_channel))
    return over_k and combiner(op) == "add"


@dataclass(frozen=True)
class WseBiasAfterSums(WaferPass):
    """C = broadcast(bias); C += A x B  ->  C = 0; C += A x B; C + bias.

    PEs that each sum part of k combine their partial sums only when every
    part starts from the sum's identity (`combines_across`): with the bias as
    the init, a convolution kept all of k on each PE, and wse-place never saw
    the split of k over the PE columns (`reduction_split_loops`). From zero,
    the bias is an elementwise epilogue, which linalg-fuse-elementwise-ops
    joins to the activation after it. A depthwise convolution keeps its init:
    its bias would be an epilogue of its own where nothing elementwise follows
    (ConvNeXt's, before a permute and a layer norm). Runs on named ops, before
    they are generalized.
    """

    name = "wse-bias-after-sums"
    summary = "Sum contractions and convolutions from zero and add their broadcast bias after"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, _sums_over_k):
            add_bias_after_sums(op.opview)
