"""Grouped matrix products (a mixture of experts' FFNs) as batched ones over blocks of rows, before import.

A grouped product multiplies the rows of `input` [S, K], in runs that the
cumulative ends `offs` [E] set at run time, each by its own matrix of
`weight` [E, K, N]: row s by weight[g(s)], g(s) the number of ends <= s; the
rows past the last end are zero. Hugging Face's mixtures of experts (Mixtral,
Qwen-MoE, OLMoE) sort their tokens by expert and call it as
`transformers::grouped_mm_fallback` (traced: their `torch._grouped_mm`
path is taken only in bf16), or as `aten._grouped_mm`; torch-mlir lowers
neither, and the runs' lengths are data.

Wafer's shapes are static, so the rows go in blocks of B = ceil(S / E): a
block's rows run across a range of experts, and each pair of a block and an
expert in its range is an item, the block times that expert's matrix. The
items are at most ceil(S / B) + E - 1 (each expert's first row opens at most
one more), which with B = S / E bounds the products, and the expert matrices
read, at twice what one product per row would take, whatever the routing;
multiplying every row by every expert (E times the products) would not scale
to 64 experts. Each row takes its result from its own item, a gather; the
items the bound counts but the routing leaves unused repeat the last block.
"""

from __future__ import annotations

import math

import torch

aten = torch.ops.aten
GROUPED_MM = aten._grouped_mm.default


def grouped_mm(input, weight, offs=None, bias=None, out_dtype=None):  # noqa: A002  (the schema's name)
    """The 2-D x 3-D grouped product with offsets; NotImplemented (refused) for the other forms."""
    if offs is None or bias is not None or out_dtype not in (None, input.dtype) or input.dim() != 2 \
            or weight.dim() != 3:
        return NotImplemented
    rows, depth = input.shape
    experts, _, width = weight.shape
    block = max(1, math.ceil(rows / experts))
    blocks = math.ceil(rows / block)
    items = blocks + min(experts - 1, blocks * (min(block, experts) - 1))
    row = torch.arange(blocks * block, device=input.device)
    group = (row[:, None] >= offs.to(torch.int64)[None, :]).sum(1)  # experts, past the last end
    owner = group.clamp(max=experts - 1).view(blocks, block)
    first = owner[:, 0]
    count = owner[:, -1] - first + 1
    start = torch.cumsum(count, 0) - count  # each block's first item
    item = torch.arange(items, device=input.device)
    item_block = (start[None, :] <= item[:, None]).sum(1) - 1
    item_expert = (first[item_block] + item - start[item_block]).clamp(max=experts - 1)
    padded = torch.nn.functional.pad(input, (0, 0, 0, blocks * block - rows)).view(blocks, block, depth)
    if weight.stride(1) == 1 and weight.stride(2) != 1:  # a transposed view (a Linear's weights): gather them as stored
        matrices = weight.transpose(1, 2)[item_expert].transpose(1, 2)
    else:
        matrices = weight[item_expert]
    products = torch.bmm(padded[item_block], matrices).view(items * block, width)
    row_item = start.repeat_interleave(block) + owner.flatten() - first.repeat_interleave(block)
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
