"""wafer-attention-head-groups: attention's two contractions and softmax, a group of heads at a time."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, scf, tensor

from .cpu_target import TargetedPass, element_bytes
from .fuse_rows import (HEAD_GROUPS, RowGroup, generic_rows, is_init_value, reads_members_by_rows, row_extents,
                        tile_members)
from .linalg_builders import extract_slice, index_constant, largest_divisor, parallel_insert, remade_init
from .linalg_queries import HEADS, collapsed_heads, indexing_maps, map_dims, reassociation_groups
from .pack_matmul import record_strategy
from .pass_base import block_order, find_ops



@dataclass
class _Attention:
    """S = Q K^T (`scores`, a batch_matmul over batch x heads collapsed), the
    ops over the [batch, heads, ...] scores between it and P (`members`, in
    program order, `split`, the expand of S into them, first), and O = P V (`output`)."""

    scores: ir.OpView
    split: ir.OpView
    members: list[ir.OpView]
    output: ir.OpView

    @property
    def heads(self) -> list[int]:
        """The [batch, heads] extents `split` splits the contractions' batch into."""
        return list(ir.RankedTensorType(self.split.results[0].type).shape[:2])


@dataclass(frozen=True)
class AttentionHeadGroups(TargetedPass):
    """Compute Q K^T, the softmax and P V one group of heads at a time, in one
    `scf.forall` over (batch, head groups).

    Each op on its own writes and reads back every head's scores: a ViT-B/16's
    8 x 12 heads of 197 x 197 at batch 8 are 15 MB, which go to L3 and back
    three times (Q K^T, the softmax, P V). A group of heads whose scores fit
    in half of L2 keeps them there from one op to the next: the ops keep their
    own strategies (wafer-pack-matmul's kernels, wafer-fuse-rows' softmax) on
    the group's slices, serial in the loop. Applies where the scores of all
    heads outgrow L2 and every op between the contractions reads the scores'
    [batch, heads] dims first (an additive mask or a scale may read none of them).
    Where one head's scores outgrow half of L2 too (BERT over 384 tokens,
    Whisper's 1500 frames), the loop is over (batch, heads, blocks of queries)
    instead: a block's rows of scores fit in half of L2, and Q K^T, the softmax
    and P V take the block's queries against all of the head's keys and values.
    Not where a block would hold fewer queries than a vector has lanes (a
    prime number of them): its contractions would leave the register block
    mostly empty.

    The groups are also no bigger than leave one per thread: the ops in a
    group run on one thread, where each op on its own spread over them all
    (a batch of one image's 12 heads are 12 groups at most). With fewer heads
    than threads the ops are left to run on their own.

    Options:
      machine: the CPU (see cpu_target) whose L2 sizes the groups.
      threads: the threads the loop's iterations are spread over.
    """

    name = "wafer-attention-head-groups"
    summary = "Compute attention's contractions and softmax a group of heads at a time"

    threads: int = 1

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.batch_matmul"):
            attention = _attention(op.opview)
            if attention is None:
                continue
            scores = ir.RankedTensorType(attention.scores.results[0].type)
            head_bytes = scores.shape[1] * scores.shape[2] * element_bytes(scores.element_type)
            if scores.shape[0] * head_bytes <= self.cpu.l2_bytes or scores.shape[0] < self.threads:
                continue
            fit = self.cpu.l2_bytes // 2 // head_bytes
            if fit:
                _fuse(attention, largest_divisor(attention.heads[1], min(fit, scores.shape[0] // self.threads)),
                      scores.shape[1])
                continue
            # One head's scores outgrow half of L2 too: a block of its queries at a time.
            row_bytes = scores.shape[2] * element_bytes(scores.element_type)
            queries = largest_divisor(scores.shape[1], self.cpu.l2_bytes // 2 // row_bytes)
            if queries >= self.cpu.lanes and _blocks_queries(attention):
                _fuse(attention, 1, queries)


def _static(op: ir.OpView) -> bool:
    return all(isinstance(v.type, ir.RankedTensorType) and ir.RankedTensorType(v.type).has_static_shape
               for v in [*op.operands, *op.results])


def _attention(output: ir.OpView) -> _Attention | None:
    """The attention whose P V is `output`, if the ops between its contractions
    can be cut into groups of heads."""
    probabilities = collapsed_heads(output.operands[0])
    if probabilities is None or not _static(output) or len(list(output.operands[0].uses)) != 1:
        return None
    members, frontier, scores, split = [], [probabilities.owner], None, None
    while frontier:
        op = frontier.pop()
        if not isinstance(op, ir.OpView) or op in members:
            continue
        if op.name == "linalg.generic":
            frontier += [v.owner for v in op.operands if _in_chain(v)]
        elif op.name == "tensor.expand_shape" and reassociation_groups(op) == HEADS:
            producer = op.operands[0].owner  # S, split into [batch, heads]
            if (not isinstance(producer, ir.OpView) or producer.name != "linalg.batch_matmul" or not _static(producer)
                    or scores is not None or len(list(producer.results[0].uses)) != 1):
                return None
            scores, split = producer, op
        elif op.name in ("tensor.expand_shape", "tensor.collapse_shape"):
            frontier.append(op.operands[0].owner)
        else:
            return None
        members.append(op)
    if scores is None:
        return None
    attention = _Attention(scores, split, _downstream(split, sorted(members, key=block_order)), output)
    if (not all(_reads_heads_first(m) for m in attention.members)
            or not reads_members_by_rows(RowGroup(attention.members, attention.heads))
            or not all(_batch_first(op) for op in (scores, output)) or not _used_inside(attention.members, output)):
        return None
    return attention


def _downstream(split: ir.OpView, ops: list[ir.OpView]) -> list[ir.OpView]:
    """Those of `ops` (in program order) that read the scores, through `split`
    or another of them: the ops upstream of the scores (a mask's broadcast over
    the heads, made from one mask every layer reads) are inputs, not members."""
    reached = {split.operation}
    for op in ops:
        if any(isinstance(v.owner, ir.OpView) and v.owner.operation in reached for v in op.operands):
            reached.add(op.operation)
    return [op for op in ops if op.operation in reached]


def _batch_first(contraction: ir.OpView) -> bool:
    """Whether each operand of a batch_matmul holds its batch first (its indexing maps may move the rest)."""
    return all(isinstance(m.results[0], ir.AffineDimExpr) and ir.AffineDimExpr(m.results[0]).position == 0
               for m in indexing_maps(contraction))


def _in_chain(value: ir.Value) -> bool:
    """Whether an operand of a member is another member's result: a generic's
    or a reshape's that is not an init (a fill, an empty)."""
    owner = value.owner
    return (isinstance(owner, ir.OpView) and not is_init_value(value)
            and owner.name in ("linalg.generic", "tensor.expand_shape", "tensor.collapse_shape"))


def _reads_heads_first(op: ir.OpView) -> bool:
    """Whether `op` keeps the [batch, heads] dims first: a generic whose two
    first loops are rows (see `fuse_rows.generic_rows`), a reshape that leaves
    them alone or splits S's batch into them."""
    if op.name == "linalg.generic":
        return len(generic_rows(op)) >= 2
    groups = reassociation_groups(op)
    return groups[:2] == [[0], [1]] or op.name == "tensor.expand_shape" and groups == HEADS


def _used_inside(members: list[ir.OpView], output: ir.OpView) -> bool:
    """Whether every member's results are read by members only, but P's by its
    collapse into `output`; all in `output`'s block."""
    inside = {m.operation for m in members} | {output.operands[0].owner.operation}
    block = output.operation.block
    return all(m.operation.block == block and all(use.owner.operation in inside for r in m.results for use in r.uses)
               for m in members)


def _blocks_queries(attention: _Attention) -> bool:
    """Whether the attention can be cut into blocks of queries as well: both
    contractions write [batch, queries, ...] in order, P V reads P's queries
    second, and every member keeps the queries as a third row dim."""
    scores, output = indexing_maps(attention.scores), indexing_maps(attention.output)
    in_order = [0, 1, 2]
    return (map_dims(scores[2]) == in_order and map_dims(output[2]) == in_order and 1 in map_dims(scores[0])
            and map_dims(output[0])[1] == 1
            and all(m.operation == attention.split.operation or len(row_extents(m)) >= 3 for m in attention.members)
            and reads_members_by_rows(RowGroup(attention.members, [*attention.heads, 1])))


def _sliced_contraction(op: ir.OpView, offsets: list[ir.Value | int], shape: list[int],
                        inputs: list[ir.Value]) -> ir.Value:
    """`op` (a batch_matmul) on the slice of its result at `offsets` of `shape`:
    its inputs as given, its init made again (a fill) at that shape or sliced."""
    result = ir.RankedTensorType(op.results[0].type)
    init = remade_init(op.operands[2], shape)
    if init is None:
        init = extract_slice(op.operands[2], offsets, shape)
    clone = op.operation.clone()
    for i, value in enumerate([*inputs, init]):
        clone.operands[i] = value
    clone.results[0].set_type(ir.RankedTensorType.get(shape, result.element_type))
    return clone.results[0]


def _fuse(attention: _Attention, group: int, queries: int) -> None:
    """Replace the attention by an `scf.forall` over (batch, heads in steps of
    `group`), and blocks of `queries` where they are fewer than all."""
    output = attention.output
    batch, heads = attention.heads
    result = ir.RankedTensorType(output.results[0].type)
    tokens = result.shape[1]
    blocked = queries < tokens
    record_strategy(output, f"attention in groups of {group} of {heads} heads"
                    + (f", {queries} of {tokens} queries at a time" if blocked else ""))
    with ir.InsertionPoint(output), output.location:
        dest = tensor.EmptyOp(result.shape, result.element_type).result
        steps = [1, group, *([queries] if blocked else [])]
        loop = scf.ForallOp([0] * len(steps), [batch, heads, *([tokens] if blocked else [])], steps, [dest])
        loop.operation.attributes[HEAD_GROUPS] = ir.UnitAttr.get()
        with ir.InsertionPoint(loop.body):
            offsets = list(loop.induction_variables)
            first = arith.addi(arith.muli(offsets[0], index_constant(heads)), offsets[1])
            query = offsets[2] if blocked else 0

            def sliced(value: ir.Value, query_dim: int | None) -> ir.Value:
                """The group's heads of `value` ([batch x heads, ...]), and the block's queries along `query_dim`."""
                shape = [group, *ir.RankedTensorType(value.type).shape[1:]]
                at = [first, *[0] * (len(shape) - 1)]
                if blocked and query_dim is not None:
                    shape[query_dim], at[query_dim] = queries, query
                return extract_slice(value, at, shape)

            scores = attention.scores
            keys = ir.RankedTensorType(scores.results[0].type).shape[2]
            queries_of_q = map_dims(indexing_maps(scores)[0]).index(1)
            tiled = {scores.results[0]: _sliced_contraction(
                scores, [first, query, 0], [group, queries, keys],
                [sliced(scores.operands[0], queries_of_q), sliced(scores.operands[1], None)])}
            tile_members(attention.members, offsets, steps, tiled)
            collapse = output.operands[0].owner
            collapsed = ir.RankedTensorType(collapse.results[0].type)
            probabilities = tensor.CollapseShapeOp(
                ir.RankedTensorType.get([group, queries, *collapsed.shape[2:]], collapsed.element_type),
                tiled[collapse.operands[0]], collapse.attributes["reassociation"]).result
            shape = [group, queries, *result.shape[2:]]
            tiled_output = _sliced_contraction(output, [first, query, 0], shape,
                                               [probabilities, sliced(output.operands[1], None)])
            with ir.InsertionPoint(loop.terminator().block):
                parallel_insert(tiled_output, loop.inner_iter_args[0], [first, query, 0], shape)
    output.results[0].replace_all_uses_with(loop.results[0])
    output.operation.erase()
    collapse.erase()
    for member in reversed(attention.members):
        member.operation.erase()
    scores.operation.erase()
