"""wafer-fold-transpose: read transposed operands in place instead of copying."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir, rewrite
from torch_mlir.dialects import linalg, tensor

from .linalg_builders import reassociation
from .linalg_queries import reassociation_groups
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


def _producer(value: ir.Value, name: str) -> ir.OpView | None:
    owner = value.owner
    return owner if isinstance(owner, ir.OpView) and owner.name == name else None


def collapsed_transpose(collapse: ir.OpView) -> tuple[list[list[int]], list[int]] | None:
    """For collapse_shape(transpose(x)), where each group of the collapse reads
    a run of x's dims in their order: x's groups (in x's order) and the
    permutation of the collapsed dims, so that the value is
    transpose(collapse_shape(x, groups), permutation); None otherwise.

    torch-mlir imports attention's Q K^T as a transpose of K's two last dims,
    then a collapse of its batch and heads into one batch dim: the transpose,
    a copy of K on every call, folds into the batch_matmul only seen this way.
    """
    transpose = _producer(collapse.src, "linalg.transpose")
    if transpose is None:
        return None
    permutation = list(transpose.permutation)
    runs = []
    for group in reassociation_groups(collapse):
        source_dims = [permutation[d] for d in group]
        if source_dims != list(range(source_dims[0], source_dims[0] + len(source_dims))):
            return None
        runs.append(source_dims)
    in_source_order = sorted(runs)
    return in_source_order, [in_source_order.index(run) for run in runs]


def _transposed_source(operand: ir.Value) -> tuple[ir.Value, list[list[int]] | None, list[int]] | None:
    """What a contraction can read in place of `operand`: a transpose's input,
    the dim groups to collapse it by first (None: as it is; see
    `collapsed_transpose`), and the permutation its indexing map then takes."""
    transpose = _producer(operand, "linalg.transpose")
    if transpose is not None:
        return transpose.operands[0], None, list(transpose.permutation)
    collapse = _producer(operand, "tensor.collapse_shape")
    found = collapsed_transpose(collapse) if collapse is not None else None
    if found is None:
        return None
    groups, permutation = found
    return collapse.src.owner.operands[0], groups, permutation


def _collapsed(source: ir.Value, groups: list[list[int]]) -> ir.Value:
    """`source` collapsed by `groups`, a group with a dynamic dim dynamic."""
    source_type = ir.RankedTensorType(source.type)
    dynamic = ir.ShapedType.get_dynamic_size()
    shape = [dynamic if any(source_type.is_dynamic_dim(d) for d in group)
             else math.prod(source_type.shape[d] for d in group) for group in groups]
    return tensor.collapse_shape(ir.RankedTensorType.get(shape, source_type.element_type), source,
                                 reassociation(*groups))


def fold_transpose_into_contraction(op, rewriter):
    """matmul(A, transpose(W)) -> matmul(A, W) with a transposed indexing map."""
    operands = list(op.operands)
    maps = [ir.AffineMapAttr(m).value for m in op.indexing_maps]
    collapses = {}
    for i, operand in enumerate(operands[:2]):
        found = _transposed_source(operand)
        if found is None:
            continue
        source, groups, permutation = found
        if op.name == "linalg.batch_matmul" and permutation[0] != 0:
            continue  # batch_matmul reads its batch dim first in every operand
        operands[i], collapses[i] = source, groups
        maps[i] = transposed_operand_map(maps[i], permutation)
    if not collapses:
        return True
    with rewriter.ip, op.location:
        for i, groups in collapses.items():
            if groups is not None:
                operands[i] = _collapsed(operands[i], groups)
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
    transposed indexing map keeps it a constant and removes the copy. A
    transpose seen through a collapse of whole runs of its dims folds too
    (attention's K^T, its batch and heads collapsed into one batch dim).
    """

    name = "wafer-fold-transpose"
    summary = "Fold linalg.transpose into the indexing maps of matmul operands"

    def apply(self, module: ir.Operation) -> None:
        patterns = rewrite.RewritePatternSet()
        populate_fold_transpose_patterns(patterns)
        rewrite.apply_patterns_and_fold_greedily(module, patterns.freeze())
