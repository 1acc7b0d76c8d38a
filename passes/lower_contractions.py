"""wafer-lower-contractions: vector.contract -> broadcast-FMA outer products, late."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured, vector

from .pass_base import WaferPass, find_ops
from .transform_script import transform_script

_LOWERED = ("vector.contract", "vector.outerproduct")


@dataclass(frozen=True)
class LowerContractions(WaferPass):
    """Lower each `vector.contract` to outer products, and those to broadcast FMAs.

    wafer-pack-matmul leaves each K step of its kernels one contraction, and
    wafer-direct-conv each tap one outer product; lowered there, a step would
    be kc x mr ops (extract, broadcast, FMA) that every pass and walk of the
    fuse, vectorize and bufferize stages went through. The lowering is
    upstream's, in the order its patterns need: a contraction's permuted
    reads become transposes, then each contraction becomes one outer product
    per K, and each outer product one FMA per row of the block.
    """

    name = "wafer-lower-contractions"
    summary = "Lower vector.contract and vector.outerproduct to broadcast FMAs"

    def apply(self, module: ir.Operation) -> None:
        if not find_ops(module, lambda op: op.name in _LOWERED):
            return
        with transform_script(module) as root:
            funcs = structured.MatchOp.match_op_names(root, ["func.func"]).result
            patterns = transform.ApplyPatternsOp(funcs)
            with ir.InsertionPoint(patterns.patterns):
                vector.ApplyLowerContractionPatternsOp(lowering_strategy=vector.VectorContractLowering.OuterProduct)
                vector.ApplyTransferPermutationPatternsOp()
                vector.ApplyLowerOuterProductPatternsOp()
                transform.ApplyCanonicalizationPatternsOp()
