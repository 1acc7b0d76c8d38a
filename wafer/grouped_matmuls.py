"""Grouped matrix products (a mixture of experts' FFNs) as batched ones over blocks of rows, before import.

A grouped product multiplies the rows of `input` [S, K], in runs that the
cumulative ends `offs` [E] set at run time, each by its own matrix of
`weight` [E, K, N]: row s by weight[g(s)], g(s) the number of ends <= s; the
rows past the last end are zero. Hugging Face's mixtures of experts (Mixtral,
Qwen-MoE, OLMoE) sort their tokens by expert and call it as
`transformers::grouped_mm_fallback` (traced: their `torch._grouped_mm`
path is taken only in bf16), or as `aten._grouped_mm`; torch-mlir lowers
neither, and the runs' lengths are data.

Wafer's shapes are static, so the rows go in blocks of B: a block's rows
run across some experts, and each pair of a block and an expert that
its rows reach is an item, the block times that expert's matrix. The items
are at most ceil(S / B) + E - 1 (each expert's first row opens at most one
more): S + B (E - 1) rows of products, where multiplying every row by every
expert (E times the products) would not scale to 64 experts. Each row takes
its result from its own item, a gather; the items the bound counts but the
routing leaves unused repeat the last block.
"""

from __future__ import annotations

import math

import torch

aten = torch.ops.aten
GROUPED_MM = aten._grouped_mm.default
# Rows a block: fewer rows compute fewer products past an expert's own, down to
# where each item's product is too small to run at the packed kernel's speed.
# Measured on a Zen 4 (python bench/zoo.py --models moe: Mixtral, Qwen3-MoE and
# OLMoE at 128 and 1024 tokens, blocks of 8 to 256 rows): 16 was fastest in each.
_BLOCK_ROWS = 16


def grouped_mm(input, weight, offs=None, bias=None, out_dtype=None):  # noqa: A002  (the schema's name)
    """The 2-D x 3-D grouped product with offsets; NotImplemented (refused) for the other forms."""
    if offs is None or bias is not None or out_dtype not in (None, input.dtype) or input.dim() != 2 \
            or weight.dim() != 3:
        return NotImplemented
    rows, depth = input.shape
    experts, _, width = weight.shape
    block = min(_BLOCK_ROWS, rows)
    blocks = math.ceil(rows / block)
    items = blocks + min(experts - 1, blocks * (min(block, experts) - 1))
    row = torch.arange(blocks * block, device=input.device)
    group = (row[:, None] >= offs.to(torch.int64)[None, :]).sum(1)  # experts, past the last end
    owner = group.clamp(max=experts - 1).view(blocks, block)
    changes = torch.nn.functional.pad((owner[:, 1:] != owner[:, :-1]).to(torch.int64), (1, 0))
    run = torch.cumsum(changes, 1)  # each row's place among its block's experts
    count = run[:, -1] + 1
    start = torch.cumsum(count, 0) - count  # each block's first item
    row_item = (start[:, None] + run).flatten()
    item = torch.arange(items, device=input.device)
    item_block = (start[None, :] <= item[:, None]).sum(1) - 1
    place = item - start[item_block]  # the item's place among its block's experts (past them: unused)
    first_row = (run[item_block] < place[:, None]).sum(1).clamp(max=block - 1)  # where its run starts
    item_expert = owner[item_block, first_row]
    padded = torch.nn.functional.pad(input, (0, 0, 0, blocks * block - rows)).view(blocks, block, depth)
    if weight.stride(1) == 1 and weight.stride(2) != 1:  # a transposed view (a Linear's weights): gather them as stored
        matrices = weight.transpose(1, 2)[item_expert].transpose(1, 2)
    else:
        matrices = weight[item_expert]
    products = torch.bmm(padded[item_block], matrices).view(items * block, width)
    result = products[row_item * block + row % block]
    return torch.where((group < experts)[:, None], result, 0.0)[:rows]


def _third_party_grouped_mms() -> dict:
    """The grouped products that libraries register as ops of their own, where
    one is loaded: transformers' fallback computes `aten._grouped_mm`'s 2-D x
    3-D form, with zeros past the last end."""
    try:
        return {torch.ops.transformers.grouped_mm_fallback.default: grouped_mm}
    except (AttributeError, RuntimeError):
        return {}


def decompositions() -> dict:
    return {GROUPED_MM: grouped_mm, **_third_party_grouped_mms()}
