"""Attention masks at the rank of the query, before import.

`scaled_dot_product_attention` broadcasts its `attn_mask` from the right, as
any elementwise op does: a (L, S) causal mask serves every batch and head.
torch-mlir's import of a mask of lower rank than the query fails: a 2-D one
with an invalid `tensor.collapse_shape`, a 3-D one with "query and mask batch
dimension mismatch". Viewing the mask with unit leading dims, which is what
the broadcast means, gives it the (1, 1, L, S) form that imports.
"""

from __future__ import annotations

import torch

from .graph_edits import call_like

aten = torch.ops.aten
_ATTENTION = aten.scaled_dot_product_attention.default
_MASK = 3  # attn_mask's place in the schema


def masks_at_query_rank(program) -> None:
    """View each attention mask in `program` of lower rank than its query with unit leading dims."""
    graph = program.graph_module.graph
    changed = False
    for node in [node for node in graph.nodes if node.op == "call_function" and node.target == _ATTENTION]:
        mask = node.args[_MASK] if len(node.args) > _MASK else node.kwargs.get("attn_mask")
        if not isinstance(mask, torch.fx.Node):
            continue
        query, value = node.args[0].meta["val"], mask.meta["val"]
        if value.dim() >= query.dim():
            continue
        with graph.inserting_before(node):
            viewed = call_like(graph, aten.view.default, (mask, [1] * (query.dim() - value.dim()) + list(value.shape)),
                               mask)
        node.replace_input_with(mask, viewed)
        changed = True
    if changed:
        graph.lint()
        program.graph_module.recompile()
