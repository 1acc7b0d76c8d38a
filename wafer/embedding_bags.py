"""Embedding bags as gathers and reductions, before import.

torch-mlir lowers `aten.embedding_bag` only as a plain sum (no padding index,
per-sample weights or closing offset): a mean or max bag (`nn.EmbeddingBag`'s
default is the mean) failed to import. Each bag is the reduction of the rows its
indices gather, so every mode is an `embedding` followed by a sum, a mean or a
maximum, which the CPU strategies vectorize:
- bags of one length (`nn.EmbeddingBag` on a 2-D batch, whose offsets are an
  `arange` in the graph): the gathered rows as a (bags, length, dim) tensor,
  reduced over the length;
- any offsets (known only at run time): a (bags, indices) membership mask,
  a matrix product with the gathered rows for sums and means, a masked
  maximum for max bags.
A padding index takes no part in a bag (nor in a mean's count), per-sample
weights scale the rows, and an empty bag is zeros, as in PyTorch. Only the
bags themselves are computed: a program that reads the op's other results
(offset2bag, bag sizes, max indices) keeps the op.
"""

from __future__ import annotations

import operator

import torch

from .local_decompositions import splice, trace_alone

aten = torch.ops.aten
EMBEDDING_BAGS = (aten.embedding_bag.default, aten.embedding_bag.padding_idx, aten._embedding_bag.default)
SUM, MAX = 0, 2  # aten's modes; 1 is the mean


def decompose_embedding_bags(program: torch.export.ExportedProgram) -> None:
    """Replace the bags of each embedding_bag in `program` by the ops that compute them."""
    graph = program.graph_module.graph
    for node in [node for node in graph.nodes if node.op == "call_function" and node.target in EMBEDDING_BAGS]:
        bags = _only_bags_read(node)
        normalized = node.normalized_arguments(program.graph_module, normalize_to_only_use_kwargs=True)
        if bags is None or normalized is None:
            continue
        arguments = normalized.kwargs
        length = _bag_length(arguments)
        names = [name for name in ("weight", "indices", "offsets", "per_sample_weights")
                 if isinstance(arguments[name], torch.fx.Node) and not (name == "offsets" and length)]
        graph_module = trace_alone(_bags_of(arguments, names, length), [arguments[name] for name in names], bags)
        if graph_module is None:
            continue
        bags.meta.update({key: value for key, value in node.meta.items() if key not in bags.meta})
        splice(program, bags, graph_module, [arguments[name] for name in names])
        for unread in list(node.users):
            graph.erase_node(unread)
        graph.erase_node(node)
        if length and not arguments["offsets"].users:  # the arange of bags of one length
            graph.erase_node(arguments["offsets"])
    program.graph_module.recompile()


def _only_bags_read(node: torch.fx.Node) -> torch.fx.Node | None:
    """The getitem of `node`'s bags, if no other result of it is read."""
    results = {user.args[1]: user for user in node.users if user.target is operator.getitem}
    if len(results) != len(node.users) or 0 not in results:
        return None
    return results[0] if all(not user.users for index, user in results.items() if index) else None


def _bags_of(arguments: dict, names: list[str], length: int | None):
    """The function of the operands `names` that computes the bags `arguments` describe."""
    mode, padding = arguments["mode"], arguments.get("padding_idx")

    def bags(*tensors):
        operand = dict(zip(names, tensors))
        indices = operand["indices"]
        rows = _weighted_rows(operand["weight"], indices, operand.get("per_sample_weights"), padding)
        if length:
            return _fixed_length_bags(rows, indices.reshape(-1, length), length, mode, padding)
        return _bags_at_offsets(rows, indices, operand["offsets"], mode, padding, arguments["include_last_offset"])
    return bags


def _bag_length(arguments: dict) -> int | None:
    """The one length of every bag, where the offsets are `arange(0, n, length)` over n indices."""
    offsets, indices = arguments["offsets"], arguments["indices"]
    if offsets.target != aten.arange.start_step or arguments["include_last_offset"]:
        return None
    start, end, step = (offsets.args + (1,))[:3]
    if not all(isinstance(value, int) for value in (start, end, step)):
        return None
    return step if start == 0 and step > 0 and end == indices.meta["val"].numel() and end % step == 0 else None


def _weighted_rows(weight, indices, per_sample_weights, padding):
    """The rows `indices` gather, scaled by their weights, zero at the padding index."""
    rows = aten.embedding(weight, indices)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(-1)
    if padding is not None and padding >= 0:
        rows = torch.where((indices == padding).unsqueeze(-1), 0.0, rows)
    return rows


def _fixed_length_bags(rows, indices, length: int, mode: int, padding):
    rows = rows.reshape(*indices.shape, rows.shape[-1])
    kept = None if padding is None or padding < 0 else (indices != padding)
    if mode == MAX:
        if kept is None:
            return rows.amax(1)
        return _masked_max(rows, kept.unsqueeze(-1), dim=1)
    total = rows.sum(1)
    if mode == SUM:
        return total
    if kept is None:
        return total / length
    return total / kept.sum(1, keepdim=True).clamp(min=1).to(rows.dtype)


def _bags_at_offsets(rows, indices, offsets, mode: int, padding, include_last_offset: bool):
    count = indices.shape[0]
    starts = offsets[:-1] if include_last_offset else offsets
    ends = offsets[1:] if include_last_offset else torch.cat([offsets[1:], offsets.new_full((1,), count)])
    positions = torch.arange(count, device=indices.device)
    member = (positions >= starts.unsqueeze(1)) & (positions < ends.unsqueeze(1))
    if padding is not None and padding >= 0:
        member = member & (indices != padding)
    if mode == MAX:
        return _masked_max(rows.unsqueeze(0), member.unsqueeze(-1), dim=1)
    total = member.to(rows.dtype) @ rows
    if mode == SUM:
        return total
    return total / member.sum(1, keepdim=True).clamp(min=1).to(rows.dtype)


def _masked_max(rows, kept, dim: int):
    """The maximum over `dim` of the rows `kept` marks; zeros where it marks none."""
    largest = torch.where(kept, rows, float("-inf")).amax(dim)
    return torch.where(kept.any(dim), largest, 0.0)
