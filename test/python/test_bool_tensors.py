"""Bool tensors big enough for Wafer to tile and vectorize around them, against PyTorch.

A memref of i1 holds a byte per element, while LLVM packs a vector of i1 as
bits: wafer-vectorize and wafer-vectorize-copies must leave bool tiles and
copies to scalar loops (a masked attention at batch 8 came back wrong).
"""

import pytest
import torch
from torch_reference import compile_checked


class WhereBroadcastMask(torch.nn.Module):
    """A [B, 1, T, T] keep-mask expanded over heads: 1.5 M bools, tiled by wafer-fuse."""

    def forward(self, mask, x):
        return torch.where(mask.expand_as(x), x, 0.0), mask.expand_as(x).contiguous()


class MaskedAttention(torch.nn.Module):
    def forward(self, q, k, v, mask):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize("threads", [1, 2])
def test_broadcast_bool_mask(threads):
    torch.manual_seed(0)
    x = torch.randn(8, 12, 128, 128)
    compile_checked(WhereBroadcastMask(), (torch.randn(8, 1, 128, 128) > 0, x), threads=threads)


def test_masked_attention_at_batch_8():
    torch.manual_seed(0)
    q, k, v = (torch.randn(8, 12, 128, 16) for _ in range(3))
    compile_checked(MaskedAttention(), (q, k, v, torch.randn(8, 1, 128, 128) > -1))
