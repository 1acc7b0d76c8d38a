"""wafer-fold-broadcast: read broadcast matmul operands in place instead of copying them."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir, rewrite
from torch_mlir.dialects import tensor

from .fold_transpose import transposed_operand_map
from .linalg_builders import multiply_accumulate, reassociation
from .linalg_queries import reassociation_groups
from .pass_base import WaferPass

_CONTRACTIONS = ("linalg.matmul", "linalg.batch_matmul")


def _broadcast_input_map(op: ir.OpView) -> ir.AffineMap | None:
    """The input map of a generic that only copies its input into a bigger
    output (`linalg.yield %in` under an identity output map), else None."""
    if op.name != "linalg.generic" or len(op.operands) != 2 or len(op.results) != 1:
        return None
    body = op.regions[0].blocks[0]
    ops = list(body.operations)
    if len(ops) != 1 or ops[0].operands[0] != body.arguments[0]:
        return None
    in_map, out_map = (ir.AffineMapAttr(m).value for m in op.attributes["indexing_maps"])
    if out_map != ir.AffineMap.get_identity(out_map.n_dims) or not in_map.is_projected_permutation:
        return None
    return in_map


def _collapse_groups(op: ir.OpView) -> list[list[int]] | None:
    """A tensor.collapse_shape's dim groups, when a collapsed index names one
    index of the source: each group merges at most one dim longer than 1
    (torch-mlir folding a Linear's leading 1s into a batch), or dims that the
    broadcast producing the source never reads (its batch dims)."""
    if op.name != "tensor.collapse_shape":
        return None
    shape = op.operands[0].type.shape
    groups = reassociation_groups(op)
    source = op.operands[0].owner
    in_map = _broadcast_input_map(source) if isinstance(source, ir.OpView) else None
    read = {ir.AffineDimExpr(e).position for e in in_map.results} if in_map is not None else set(range(len(shape)))
    if all(sum(shape[d] > 1 for d in g) <= 1 or not read.intersection(g) for g in groups):
        return groups
    return None


def _uncollapsed_map(operand_map: ir.AffineMap, groups: list[list[int]], shape: list[int]) -> ir.AffineMap:
    """The map that reads a collapse's source where `operand_map` read its result:
    a group's index goes to its one dim longer than 1, 0 to the others (and to
    every dim of a group the broadcast after does not read)."""
    zero = ir.AffineConstantExpr.get(0)
    results = []
    for expr, group in zip(operand_map.results, groups):
        long = [d for d in group if shape[d] > 1]
        kept = long[0] if len(long) == 1 else group[-1] if not long else None
        results += [expr if d == kept else zero for d in group]
    return ir.AffineMap.get(operand_map.n_dims, operand_map.n_symbols, results)


def read_in_place(value: ir.Value, operand_map: ir.AffineMap) -> tuple[ir.Value, ir.AffineMap, bool]:
    """The value a contraction operand copies and the map that reads it there.

    Looks through `linalg.transpose`, unit-dim collapses and broadcast
    generics, composing each into `operand_map`; the flag says whether a
    broadcast was among them.
    """
    found = False
    while isinstance(value.owner, ir.OpView):
        producer = value.owner
        if producer.name == "linalg.transpose":
            operand_map = transposed_operand_map(operand_map, list(producer.permutation))
        elif (groups := _collapse_groups(producer)) is not None:
            operand_map = _uncollapsed_map(operand_map, groups, producer.operands[0].type.shape)
        elif (in_map := _broadcast_input_map(producer)) is not None:
            # Input dim j is output dim in_map[j], which the operand map reads by operand_map[in_map[j]].
            results = [operand_map.results[ir.AffineDimExpr(e).position] for e in in_map.results]
            operand_map = ir.AffineMap.get(operand_map.n_dims, operand_map.n_symbols, results)
            found = True
        else:
            break
        value = producer.operands[0]
    return value, operand_map, found


def fold_broadcast_into_contraction(op, rewriter):
    """batch_matmul(A, broadcast(W)) -> a matmul-like contraction that reads W itself."""
    maps = [ir.AffineMapAttr(m).value for m in op.indexing_maps]
    reads = [read_in_place(v, m) for v, m in zip(op.operands[:2], maps[:2])]
    if not any(found for _, _, found in reads):
        return True
    init = op.operands[2]
    with rewriter.ip, op.location:
        rows = _batch_as_rows(op, maps[0], reads[1])
        if rows is not None:
            rewriter.replace_op(op, [rows])
            return False
        iterators = ["parallel"] * (maps[2].n_dims - 1) + ["reduction"]
        generic = multiply_accumulate([value for value, _, _ in reads], init, [r[1] for r in reads] + [maps[2]],
                                      iterators)
    rewriter.replace_op(op, generic)
    return False


def _batch_as_rows(op: ir.OpView, a_map: ir.AffineMap,
                   weight: tuple[ir.Value, ir.AffineMap, bool]) -> ir.Value | None:
    """batch_matmul(A, broadcast(W)) as one matmul of A's batches stacked as rows,
    [B*M, K] x W: one M loop for wafer-pack-matmul to block, not B loops of M
    rows that each stream all of W (a Linear on a [1, 7, 7, C] input). Only an
    A stored as [B, M, K] stacks; one read through transposed maps stays a generic."""
    value, weight_map, found = weight
    if op.name != "linalg.batch_matmul" or not found or _is_transpose(op.operands[0]):
        return None
    b, m, _, k = (ir.AffineDimExpr.get(d) for d in range(4))
    if a_map != ir.AffineMap.get(4, 0, [b, m, k]):
        return None
    if not all(op.operands[i].type.has_static_shape for i in (0, 2)):
        return None
    # Loops (b, m, n, k) become (r, n, k); W must read only n and k.
    w_results = []
    for expr in weight_map.results:
        if isinstance(expr, ir.AffineDimExpr):
            if expr.position < 2:
                return None
            expr = ir.AffineDimExpr.get(expr.position - 1)
        w_results.append(expr)
    batch, rows, depth = op.operands[0].type.shape
    columns = op.operands[2].type.shape[-1]
    element = op.operands[2].type.element_type
    stacked = reassociation([0, 1], [2])
    a = tensor.CollapseShapeOp(ir.RankedTensorType.get([batch * rows, depth], element), op.operands[0], stacked)
    init = tensor.CollapseShapeOp(ir.RankedTensorType.get([batch * rows, columns], element), op.operands[2], stacked)
    r, n, k = (ir.AffineDimExpr.get(d) for d in range(3))
    product = multiply_accumulate(
        [a.result, value], init.result,
        [ir.AffineMap.get(3, 0, [r, k]), ir.AffineMap.get(3, 0, w_results), ir.AffineMap.get(3, 0, [r, n])],
        ["parallel", "parallel", "reduction"])
    return tensor.ExpandShapeOp(op.results[0].type, product.result, stacked, [], [batch, rows, columns]).result


def _is_transpose(value: ir.Value) -> bool:
    """A transposed A is read in place by the generic form instead of stacked (a copy)."""
    return isinstance(value.owner, ir.OpView) and value.owner.name == "linalg.transpose"


def populate_fold_broadcast_patterns(patterns: rewrite.RewritePatternSet) -> None:
    for name in _CONTRACTIONS:
        patterns.add(name, fold_broadcast_into_contraction)


@dataclass(frozen=True)
class FoldBroadcast(WaferPass):
    """Fold broadcast producers (and the transposes around them) into matmul operands.

    torch-mlir lowers `x @ W` for a 3-D x (nn.MultiheadAttention's input
    projection at batch > 1) to a batch_matmul whose W is broadcast to every
    batch: a copy of the weight per batch entry on every call, which also
    keeps W from being packed once at compile time. The contraction becomes a
    linalg.generic that reads W through its indexing maps. A's batches are
    stacked as the rows of one matmul, so the kernel blocks all B*M rows at
    once (torch-mlir also folds a Linear's leading dims of 1 into the batch,
    through a collapse_shape of the broadcast). A transposed A is read in
    place instead, and wafer-pack-matmul sees the batch dim as a second M dim.
    """

    name = "wafer-fold-broadcast"
    summary = "Fold broadcast generics into the indexing maps of matmul operands"

    def apply(self, module: ir.Operation) -> None:
        patterns = rewrite.RewritePatternSet()
        populate_fold_broadcast_patterns(patterns)
        rewrite.apply_patterns_and_fold_greedily(module, patterns.freeze())
