"""wafer-fold-broadcast: read broadcast matmul operands in place instead of copying them."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir, rewrite
from .fold_transpose import transposed_operand_map
from .linalg_builders import multiply_accumulate
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


def read_in_place(value: ir.Value, operand_map: ir.AffineMap) -> tuple[ir.Value, ir.AffineMap, bool]:
    """The value a contraction operand copies and the map that reads it there.

    Looks through `linalg.transpose` and broadcast generics, composing each
    into `operand_map`; the flag says whether any was found.
    """
    found = False
    while isinstance(value.owner, ir.OpView):
        producer = value.owner
        if producer.name == "linalg.transpose":
            operand_map = transposed_operand_map(operand_map, list(producer.permutation))
        elif (in_map := _broadcast_input_map(producer)) is not None:
            # Input dim j is output dim in_map[j], which the operand map reads by operand_map[in_map[j]].
            results = [operand_map.results[ir.AffineDimExpr(e).position] for e in in_map.results]
            operand_map = ir.AffineMap.get(operand_map.n_dims, operand_map.n_symbols, results)
        else:
            break
        value, found = producer.operands[0], True
    return value, operand_map, found


def fold_broadcast_into_contraction(op, rewriter):
    """batch_matmul(A, broadcast(W)) -> a matmul-like generic that reads W itself."""
    maps = [ir.AffineMapAttr(m).value for m in op.indexing_maps]
    if not any(_broadcast_input_map(v.owner) is not None for v in op.operands[:2] if isinstance(v.owner, ir.OpView)):
        return True
    reads = [read_in_place(v, m) for v, m in zip(op.operands[:2], maps[:2])]
    inputs = [value for value, _, _ in reads]
    init = op.operands[2]
    iterators = ["parallel"] * (maps[2].n_dims - 1) + ["reduction"]
    with rewriter.ip, op.location:
        generic = multiply_accumulate(inputs, init, [r[1] for r in reads] + [maps[2]], iterators)
    rewriter.replace_op(op, generic)
    return False


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
    linalg.generic that reads W (and A, when it is a transpose) through its
    indexing maps; wafer-pack-matmul sees the batch dim as a second M dim.
    """

    name = "wafer-fold-broadcast"
    summary = "Fold broadcast generics into the indexing maps of matmul operands"

    def apply(self, module: ir.Operation) -> None:
        patterns = rewrite.RewritePatternSet()
        populate_fold_broadcast_patterns(patterns)
        rewrite.apply_patterns_and_fold_greedily(module, patterns.freeze())
