"""The transformer's own kernels against PyTorch: a broadcast projection
(wafer-fold-broadcast) and the attention around its batched matmuls.

Sizes leave remainders for every tile (odd batches, rows and columns).
"""

import math

import pytest
import torch
from torch_reference import compile_checked

import wafer
import wafer.pipelines.cpu
from wafer.passes.cpu_target import host_flags


class Projection(torch.nn.Module):
    """x @ W for a 3-D x: torch-mlir broadcasts W to a batch_matmul."""

    def __init__(self, k: int, n: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(k, n))

    def forward(self, x):
        return x.transpose(0, 1) @ self.w


@pytest.mark.parametrize("shape,n", [((3, 17, 65), 33), ((1, 5, 8), 1000)])
def test_broadcast_projection_reads_the_weight_once(shape, n):
    torch.manual_seed(0)
    b, m, k = shape
    exe = compile_checked(Projection(k, n), (torch.randn(b, m, k),))
    # One matmul of all m * b rows; a ragged N past a cache tile comes in two parts.
    columns = [int(s.split()[2].split("x")[1]) for s in exe.compile_report.strategies
               if s.startswith(f"packed matmul {m * b}x") and s.split()[2].endswith(f"x{k}:")]
    assert sum(columns) == n, exe.compile_report.strategies


@pytest.mark.parametrize("shape", [(1, 7, 7, 48), (2, 3, 5, 48), (4, 5, 48)])
def test_linear_on_leading_dims_is_one_matmul(shape):
    """A Linear on a 3-D or 4-D input (ConvNeXt's channels-last MLP): all leading
    dims stacked as the rows of one packed matmul, W read once."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(shape[-1], 40).eval()
    exe = compile_checked(linear, (torch.randn(*shape),))
    rows = math.prod(shape[:-1])
    assert any(s.startswith(f"packed matmul {rows}x40x{shape[-1]}:") for s in exe.compile_report.strategies), \
        exe.compile_report.strategies


class SelfAttention(torch.nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.mha = torch.nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


@pytest.mark.parametrize("batch,threads", [(3, 1), (3, 2)])
def test_multihead_attention(batch, threads):
    torch.manual_seed(0)
    compile_checked(SelfAttention(24, 3).eval(), (torch.randn(batch, 19, 24),), threads=threads)


class Attention(torch.nn.Module):
    def forward(self, q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v)


@pytest.mark.parametrize("machine,shape,threads,group,queries", [
    # AVX-512's 1 MB L2: half holds 3 heads of a ViT's ragged 197 tokens, all 4 of 150 tokens.
    ("avx512", (2, 6, 197, 40), 1, 3, 0),
    ("avx512", (3, 4, 150, 24), 2, 4, 0),
    ("avx2", (2, 6, 197, 40), 2, 1, 0),   # a 512 KB L2: one head at a time
    ("avx2", (3, 4, 150, 24), 1, 2, 0),
    ("avx512", (2, 3, 48, 16), 2, 0, 0),  # all heads' scores fit in L2: each op on its own
    ("avx512", (1, 12, 197, 40), 8, 1, 0),  # a group a thread at least: 12 of one head for 8 threads
    ("avx512", (1, 7, 197, 40), 8, 0, 0),   # fewer heads than threads: each op over all of them
    # One head's scores outgrow half of L2: blocks of queries whose rows fit in it.
    ("avx512", (1, 2, 400, 16), 2, 1, 200),
    ("avx2", (2, 2, 750, 8), 1, 1, 75),
    ("avx512", (1, 2, 401, 16), 2, 0, 0),  # 401 is prime: blocks of one query, left alone
])
def test_attention_runs_a_group_of_heads_at_a_time(machine, shape, threads, group, queries):
    """Where all heads' scores outgrow L2, both contractions and the softmax run
    on one group of heads per loop iteration, the group's scores in half of L2,
    or on one head's block of queries where one head's scores outgrow it too,
    and match PyTorch."""
    torch.manual_seed(0)
    inputs = tuple(torch.randn(*shape) for _ in range(3))
    compiled = compile_checked(Attention(), inputs, threads=threads, machine=machine)
    strategies = [s for s in compiled.compile_report.strategies if s.startswith("attention in groups")]
    blocks = f", {queries} of {shape[2]} queries at a time" if queries else ""
    assert strategies == ([f"attention in groups of {group} of {shape[1]} heads{blocks}"] if group else [])


def test_softmax_of_a_one_head_group_fused_by_rows():
    """A group of one head splits its scores [1, q, k] into [1, 1, q, k]: the
    softmax is still fused a tile of query rows at a time, not taken a whole
    head at a time (whose tiles over 197 ragged keys were scalar code): its
    max, exp, sum, the sum's reciprocal and the product."""
    torch.manual_seed(0)
    inputs = tuple(torch.randn(2, 6, 197, 40) for _ in range(3))
    compiled = compile_checked(Attention(), inputs, threads=2, machine="avx2")
    assert "attention in groups of 1 of 6 heads" in compiled.compile_report.strategies
    assert any(s.startswith("rows fused: 5 ops over 1x1x197 rows") for s in compiled.compile_report.strategies)


@pytest.mark.parametrize("threads", [1, 2])
def test_multihead_attention_over_groups_of_heads(threads):
    """nn.MultiheadAttention's heads come from one projection, split and transposed."""
    torch.manual_seed(0)
    compiled = compile_checked(SelfAttention(96, 8).eval(), (torch.randn(3, 160, 96),), threads=threads,
                               machine="avx512")
    assert any(s.startswith("attention in groups") for s in compiled.compile_report.strategies)


class HeadTransposes(torch.nn.Module):
    """The attention's head transposes: one moves whole rows (the outer dims),
    one moves the rows' own dim (K transposed for the scores)."""

    def forward(self, x):
        return x.permute(1, 0, 2) * 2, x.transpose(1, 2) + 1


@pytest.mark.parametrize("threads", [1, 2])
def test_transposes_big_enough_to_tile_over_threads(threads):
    """Over a million elements (wafer-fuse's loose-elements), with tile remainders."""
    compile_checked(HeadTransposes(), (torch.randn(130, 129, 65),), threads=threads)


class Softmax(torch.nn.Module):
    def forward(self, x):
        return torch.softmax(x, -1)


@pytest.mark.parametrize("shape", [(1, 1000), (17, 33, 65), (2, 3, 130, 128)])
def test_softmax_rows(shape):
    """Row max and sum as vector reductions, exp as a polynomial; the last
    shape is big enough for wafer-fuse to tile the elementwise ops too."""
    torch.manual_seed(0)
    compile_checked(Softmax(), (torch.randn(*shape) * 10,))


@pytest.mark.parametrize("shape", [(1, 1000), (17, 33, 65)])
def test_layer_norm_rows(shape):
    torch.manual_seed(0)
    norm = torch.nn.LayerNorm(shape[-1])
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    compile_checked(norm.eval(), (torch.randn(*shape) * 3 + 1,))


@pytest.mark.parametrize("model,shape", [
    (Softmax(), (1, 12, 197, 197)),  # ViT's scores: 197 rows do not split in tiles of 8
    (torch.nn.LayerNorm(768), (8, 128, 768)),  # a tile of 8 rows of 768 features
])
def test_row_reductions_are_vector_reductions(tmp_path, model, shape):
    """Every row reduction becomes vector reductions, a row at a time, whatever
    the fused tile's rows: its tile holds whole rows (1 of 197, not a ragged 8
    with dynamic sizes), and it is vectorized whenever one row fits a vector
    tile (8 rows of 768 are more than wafer-vectorize's max-tile-elements)."""
    torch.manual_seed(0)
    compile_checked(model.eval(), (torch.randn(*shape),), threads=1, dump_ir=str(tmp_path))
    vectorized = (tmp_path / "05-vectorize.mlir").read_text()
    assert "vector.reduction" in vectorized
    assert '"reduction"]' not in vectorized  # no linalg reduction left as a scalar loop


class Exp(torch.nn.Module):
    def forward(self, x):
        return torch.exp(x)


@pytest.mark.parametrize("scalef", [
    False,
    pytest.param(True, marks=pytest.mark.skipif("avx512f" not in host_flags(), reason="the host has no AVX-512F")),
])
def test_exp_polynomial_within_two_ulp(scalef, tmp_path, monkeypatch):
    """Both ways of scaling by 2^n: the exponent bits and selects at the bounds,
    and AVX-512's vscalefps (whole zmm vectors, on a host that has it)."""
    monkeypatch.setattr(wafer.pipelines.cpu, "host_flags", lambda: {"avx512f"} if scalef else set())
    normal = torch.cat([torch.linspace(-87.3, 88.7, 4100), torch.tensor([0.0, -1e-8, 1e-8])])
    # The top: the last float whose exp is finite, the first that overflows, far past both.
    edges = torch.tensor([-float("inf"), float("inf"), float("nan"), -100.0, 89.0, 88.72283172607422,
                          88.72283935546875, 1e30, -1e30])
    x = torch.cat([normal, edges])
    got = wafer.compile(Exp(), (x.reshape(-1, 16),), target="cpu", dump_ir=str(tmp_path))(x.reshape(-1, 16)).flatten()
    want = torch.exp(x.double())
    assert ((got[:len(normal)].double() - want[:len(normal)]).abs() / want[:len(normal)]).max() < 2 * 2.0**-23
    torch.testing.assert_close(got[len(normal):], torch.exp(edges), equal_nan=True)
    assert ("x86.avx512.mask.scalef" in (tmp_path / "07-lower.mlir").read_text()) == scalef


class MaskedAttention(torch.nn.Module):
    """scaled_dot_product_attention with each kind of mask torch-mlir imports as
    tm_tensor.attention, which wafer-decompose-attention rewrites."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def forward(self, q, k, v, mask):
        sdpa = torch.nn.functional.scaled_dot_product_attention
        if self.kind == "additive":
            return sdpa(q, k, v, attn_mask=mask)
        if self.kind == "boolean":
            return sdpa(q, k, v, attn_mask=mask > 0)
        if self.kind == "scaled":
            return sdpa(q, k, v, attn_mask=mask, scale=0.3)
        n = q.shape[-2]
        return sdpa(q, k[..., :n, :], v[..., :n, :], is_causal=True)


@pytest.mark.parametrize("kind", ["additive", "boolean", "scaled", "causal"])
@pytest.mark.parametrize("threads", [1, 2])
def test_masked_attention_is_decomposed(kind, threads):
    """Odd heads, rows and key lengths; one query row the boolean mask hides
    entirely (PyTorch gives it zeros)."""
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 17, 8), torch.randn(2, 3, 33, 8), torch.randn(2, 3, 33, 5)
    mask = torch.randn(2, 1, 17, 33)
    mask[1, 0, 4] = -1.0
    exe = compile_checked(MaskedAttention(kind), (q, k, v, mask), threads=threads)
    simplify = next(stage for stage in exe.compile_report.stages if stage.name == "simplify")
    assert (simplify.ops_before["tm_tensor.attention"], simplify.ops_after["tm_tensor.attention"]) == (1, 0)
    assert sum("packed matmul" in s for s in exe.compile_report.strategies) == 2, exe.compile_report.strategies


@pytest.mark.parametrize("kind", ["additive", "boolean", "causal"])
@pytest.mark.parametrize("machine,tokens,strategy", [
    ("avx2", 150, "attention in groups of 2 of 4 heads"),  # 8 heads of 88 KB scores outgrow a 512 KB L2
    ("avx2", 400, "attention in groups of 1 of 4 heads, 100 of 400 queries at a time"),  # a 625 KB head
])
def test_masked_attention_runs_a_group_of_heads_at_a_time(kind, machine, tokens, strategy):
    """Masked attention, which torch-mlir imports over batch x heads collapsed,
    is cut into groups of heads (or blocks of queries) as unmasked attention
    is, and matches PyTorch; one query row the boolean mask hides entirely."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, tokens, 8) for _ in range(3))
    mask = torch.randn(2, 1, tokens, tokens)
    mask[1, 0, 4] = -1.0
    exe = compile_checked(MaskedAttention(kind), (q, k, v, mask), threads=2, machine=machine)
    assert strategy in exe.compile_report.strategies


@pytest.mark.parametrize("mask_shape", [(17, 33), (3, 17, 33), (1, 17, 33)])
@pytest.mark.parametrize("boolean", [False, True])
def test_a_mask_of_lower_rank_broadcasts_over_batch_and_heads(mask_shape, boolean):
    """A (L, S) causal-style mask for every batch and head: torch-mlir's import
    of a mask below the query's rank failed (an invalid collapse_shape, or
    "query and mask batch dimension mismatch")."""
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 17, 8), torch.randn(2, 3, 33, 8), torch.randn(2, 3, 33, 5)
    mask = torch.randn(*mask_shape)
    compile_checked(MaskedAttention("boolean" if boolean else "additive"), (q, k, v, mask), threads=1)


class BufferMaskedAttention(torch.nn.Module):
    """GPT-Neo's eager attention: a causal mask sliced out of a bool buffer
    sized for the longest sequence, then `torch.where` on the scores."""

    def __init__(self, longest: int):
        super().__init__()
        causal = torch.tril(torch.ones(longest, longest, dtype=torch.bool))
        self.register_buffer("bias", causal.view(1, 1, longest, longest), persistent=False)

    def forward(self, q, k, v):
        n = q.shape[-2]
        scores = torch.where(self.bias[:, :, :n, :n], q @ k.transpose(-1, -2), torch.finfo(q.dtype).min)
        return torch.softmax(scores, -1) @ v


@pytest.mark.parametrize("threads", [1, 2])
def test_a_mask_sliced_from_a_bool_buffer_converts_only_the_slice(threads):
    """The buffer's bytes become i1 over the 17x17 window a call reads, not over
    all of the 1024x1024 buffer (1 MB as i1) on every call (wafer-slice-elementwise)."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 3, 17, 8) for _ in range(3))
    exe = compile_checked(BufferMaskedAttention(1024), (q, k, v), threads=threads)
    assert exe.last_peak_bytes < 1024 * 1024 // 4, exe.last_peak_bytes


class LinearGelu(torch.nn.Module):
    """GPT-2's MLP up-projection: the tanh GELU (x ** 3 inside) fused into the
    matmul kernel's vector epilogue, as math.fpowi on vectors, which LLVM's
    powi (one scalar exponent) cannot take; and a power by a tensor of integers."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(64, 256)

    def forward(self, x, n):
        return torch.nn.functional.gelu(self.up(x), approximate="tanh"), torch.pow(x, n)


def test_integer_powers_of_vectors():
    torch.manual_seed(0)
    x = torch.rand(1, 128, 64) + 0.5
    compile_checked(LinearGelu().eval(), (x, torch.randint(-3, 4, x.shape)))
