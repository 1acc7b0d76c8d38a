"""wafer-fold-transpose: read transposed operands in place instead of copying."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir, rewrite
from torch_mlir.dialects import linalg

from .pass_base import WaferPass

_CONTRACTIONS = {"linalg.matmul": linalg.matmul, "linalg.batch_matmul": linalg.batch_matmul}


def transposed_operand_map(operand_map: ir.AffineMap, permutation: list[int]) -> ir.AffineMap:
    """The map that reads a transpose's input where `operand_map` read its output.

    `linalg.transpose` sets output dim i to input dim permutation[i], so input
    dim permutation[i] is indexed by the expression that indexed output dim i.
    """
    results = [None] * len(permutation)
    for out_dim, in_dim in enumerate(permutation):
        results[in_dim] = operand_map.results[out_dim]
    return ir.AffineMap.get(operand_map.n_dims, operand_map.n_symbols, results)


def fold_transpose_into_contraction(op, rewriter):
    """matmul(A, transpose(W)) -> matmul(A, W) with a transposed indexing map."""
    operands = list(op.operands)
    maps = [ir.AffineMapAttr(m).value for m in op.indexing_maps]
    folded = False
    for i, operand in enumerate(operands[:2]):
        if not isinstance(operand.owner, ir.OpView) or operand.owner.name != "linalg.transpose":
            continue
        producer = operand.owner
        if op.name == "linalg.batch_matmul" and producer.permutation[0] != 0:
            continue  # batch_matmul reads its batch dim first in every operand
        operands[i] = producer.operands[0]
        maps[i] = transposed_operand_map(maps[i], list(producer.permutation))
        folded = True
    if not folded:
        return True
    with rewriter.ip, op.location:
        replacement = _CONTRACTIONS[op.name](
            operands[0],
            operands[1],
            outs=[operands[2]],
            indexing_maps=maps,
        )
    rewriter.replace_op(op, [replacement])
    return False


def populate_fold_transpose_patterns(patterns: rewrite.RewritePatternSet) -> None:
    for name in _CONTRACTIONS:
        patterns.add(name, fold_transpose_into_contraction)


@dataclass(frozen=True)
class FoldTranspose(WaferPass):
    """Fold `linalg.transpose` producers into matmul and batch_matmul operands.

    torch-mlir lowers `nn.Linear` to `matmul(x, transpose(W))`; left alone, the
    weight is transposed into a fresh buffer on every call. Reading W through a
    transposed indexing map keeps it a constant and removes the copy.
    """

    name = "wafer-fold-transpose"
    summary = "Fold linalg.transpose into the indexing maps of matmul operands"

    def apply(self, module: ir.Operation) -> None:
        patterns = rewrite.RewritePatternSet()
        populate_fold_transpose_patterns(patterns)
        rewrite.apply_patterns_and_fold_greedily(module, patterns.freeze())
