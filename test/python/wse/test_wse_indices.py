"""Ops built from linalg.index on the WSE target: every PE must see global loop indices.

wse-distribute runs each generic on every PE's tiles; wse-materialize-indices
feeds loop indices in as iota inputs, dealt like the loops. Odd sizes leave
partial tiles, which a PE-local index would misplace.
"""

import pytest
import torch
import torch.nn.functional as F

from wse_checks import compile_and_check

MODES = ("pipelined", "whole-wafer")


@pytest.mark.parametrize("fn, shape", [
    (lambda x: torch.tril(x) + 1, (6, 9)),
    (lambda x: torch.tril(x, -2), (17, 9)),
    (lambda x: torch.triu(x, 1) * 2, (17, 9)),
    (lambda x: torch.triu(x), (2, 6, 9)),
    (lambda x: torch.eye(17) * x, (17, 17)),
    (lambda x: torch.eye(6, 9) + x, (6, 9)),
], ids=["tril", "tril-below", "triu-above", "triu-batched", "eye-times", "eye-rect-plus"])
@pytest.mark.parametrize("mode", MODES)
def test_index_masks_match_pytorch(fn, shape, mode):
    torch.manual_seed(0)
    program = compile_and_check(fn, torch.randn(*shape), mode=mode)
    assert "linalg.index" not in str(program.executable.module)


def test_diag_embed_matches_pytorch():
    """A gather from a tensor above the generic, clamped with arith.minui: it runs on the host."""
    compile_and_check(torch.diag_embed, torch.randn(3, 7))


def attention(kind: str):
    """scaled_dot_product_attention with a causal, boolean or additive mask."""

    def run(q, k, v, mask):
        if kind == "causal":
            n = q.shape[-2]
            return F.scaled_dot_product_attention(q, k[..., :n, :], v[..., :n, :], is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask > 0 if kind == "boolean" else mask)

    return run


@pytest.mark.parametrize("kind", ["causal", "boolean", "additive"])
@pytest.mark.parametrize("mode", MODES)
def test_masked_attention_matches_pytorch(kind, mode):
    """torch-mlir imports masked attention as tm_tensor.attention, which the simplify
    stage decomposes; one query row the boolean mask hides entirely (PyTorch gives 0)."""
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 17, 8), torch.randn(2, 3, 33, 8), torch.randn(2, 3, 33, 5)
    mask = torch.randn(2, 1, 17, 33)
    mask[1, 0, 4] = -1.0
    program = compile_and_check(attention(kind), q, k, v, mask, mode=mode)
    simplify = next(stage for stage in program.compile_report.stages if stage.name == "simplify")
    assert (simplify.ops_before["tm_tensor.attention"], simplify.ops_after["tm_tensor.attention"]) == (1, 0)
