"""The packed matmul kernel (wafer-pack-matmul) against numpy.

Sizes are chosen to leave remainders everywhere: M, N and K that the
register block, the cache tile and the K unroll do not divide, a single row
(the wide-N matrix-vector kernel), weights read transposed, and batches.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
from linalg_programs import MATMUL
from torch_reference import Lambda, compile_checked

import wafer
from wafer.passes.cpu_target import PRESETS
from wafer.passes.kernel_defaults import PARALLEL_FLOPS
from wafer.passes.matmul_plan import block_rows, least_padded_panels, plan_kernel
from wafer.tuning.signature import ContractionSignature
from wafer.tuning.space import default_choice, shape_of

# C = A W^T + bias, relu: the weights [N, K] as wafer-fold-transpose leaves them.
LINEAR = """
func.func @forward(%a: tensor<{m}x{k}xf32>, %w: tensor<{n}x{k}xf32>, %bias: tensor<{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %mm = linalg.generic {{indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%a, %w : tensor<{m}x{k}xf32>, tensor<{n}x{k}xf32>) outs(%f : tensor<{m}x{n}xf32>) {{
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }} -> tensor<{m}x{n}xf32>
  %r = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}}
      ins(%mm, %bias : tensor<{m}x{n}xf32>, tensor<{n}xf32>) outs(%e : tensor<{m}x{n}xf32>) {{
  ^bb0(%x: f32, %b: f32, %o: f32):
    %s = arith.addf %x, %b : f32
    %y = arith.maximumf %s, %zero : f32
    linalg.yield %y : f32
  }} -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}
"""

BATCH_MATMUL = """
func.func @forward(%a: tensor<{b}x{m}x{k}xf32>, %w: tensor<{b}x{k}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32> {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{b}x{m}x{n}xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<{b}x{m}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32>
  %r = linalg.batch_matmul ins(%a, %w : tensor<{b}x{m}x{k}xf32>, tensor<{b}x{k}x{n}xf32>) outs(%f : tensor<{b}x{m}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32>
  return %r : tensor<{b}x{m}x{n}xf32>
}}
"""

rng = np.random.default_rng(0)


def random(*shape):
    return rng.standard_normal(shape, dtype=np.float32)


def assert_strategy(exe, expected: str):
    assert any(expected in line for line in exe.compile_report.strategies), exe.compile_report.strategies


@pytest.mark.parametrize("m,n,k,parts", [
    (1, 1000, 64, ["1x1000x64"]), (1, 4000, 64, ["1x3840x64", "1x160x64"]),  # N over 8 cache tiles: split
    (17, 33, 65, ["17x33x65"]), (64, 96, 128, ["64x96x128"]), (9, 16, 7, ["9x16x7"]), (3, 10, 1, ["3x10x1"])])
def test_matmul_remainders(m, n, k, parts):
    # A preset, not the host: the split follows the cache sizes.
    exe = wafer.compile_mlir(MATMUL.format(m=m, n=n, k=k), machine="avx512")
    a, b = random(m, k), random(k, n)
    np.testing.assert_allclose(exe.forward(a, b), a @ b, rtol=1e-4, atol=1e-4)
    for part in parts:
        assert_strategy(exe, f"packed matmul {part}")


def test_single_row_gets_a_wide_block():
    exe = wafer.compile_mlir(MATMUL.format(m=1, n=1000, k=64), machine="avx512")
    assert_strategy(exe, "register block 1x256")


@pytest.mark.parametrize("m,n,k", [(1, 512, 784), (32, 10, 84), (13, 130, 100)])
def test_linear_with_transposed_weights(m, n, k):
    exe = wafer.compile_mlir(LINEAR.format(m=m, n=n, k=k))
    a, w, bias = random(m, k), random(n, k), random(n)
    np.testing.assert_allclose(exe.forward(a, w, bias), np.maximum(a @ w.T + bias, 0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("m,n,k,threads", [(24, 96, 37, 1), (72, 160, 300, 2)])
def test_accumulator_in_place(m, n, k, threads):
    """M and N that whole register blocks tile (no packed C), but not whole cache
    tiles (72 rows are a 64-row tile and a ragged one); K odd; a bias epilogue."""
    exe = wafer.compile_mlir(LINEAR.format(m=m, n=n, k=k), threads=threads)
    a, w, bias = random(m, k), random(n, k), random(n)
    np.testing.assert_allclose(exe.forward(a, w, bias), np.maximum(a @ w.T + bias, 0), rtol=1e-4, atol=1e-4)


def test_batch_matmul_in_place():
    exe = wafer.compile_mlir(BATCH_MATMUL.format(b=3, m=16, n=64, k=24))
    a, w = random(3, 16, 24), random(3, 24, 64)
    np.testing.assert_allclose(exe.forward(a, w), a @ w, rtol=1e-4, atol=1e-4)


def test_batch_matmul():
    exe = wafer.compile_mlir(BATCH_MATMUL.format(b=3, m=20, n=40, k=24))
    a, w = random(3, 20, 24), random(3, 24, 40)
    np.testing.assert_allclose(exe.forward(a, w), a @ w, rtol=1e-4, atol=1e-4)
    assert_strategy(exe, "packed matmul 3x20x40x24")


@pytest.mark.parametrize("options", [dict(register_tile=(4, 16), cache_tile=(8, 32), k_unroll=2),
                                     dict(register_tile=(16, 16), cache_tile=(16, 16), k_unroll=16),
                                     dict(pack=False)])
def test_kernel_options(options):
    exe = wafer.compile_mlir(MATMUL.format(m=17, n=33, k=65), **options)
    a, b = random(17, 65), random(65, 33)
    np.testing.assert_allclose(exe.forward(a, b), a @ b, rtol=1e-4, atol=1e-4)
    assert bool(exe.compile_report.strategies) == options.get("pack", True)


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(threads):
    """threads=2 runs the cache tiles as an OpenMP parallel loop; same numbers."""
    exe = wafer.compile_mlir(MATMUL.format(m=130, n=520, k=70), threads=threads, wake_instructions=0)
    a, b = random(130, 70), random(70, 520)
    np.testing.assert_allclose(exe.forward(a, b), a @ b, rtol=1e-4, atol=1e-4)
    assert (exe.compile_report.stages[-1].ops_after["omp.parallel"] > 0) == (threads > 1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,n,k,block", [(256, 256, 512, 128), (100, 1000, 384, 128), (136, 72, 520, 104)])
def test_operands_packed_one_k_block_at_a_time(m, n, k, block, threads):
    """Both operands per call and K over 128 steps: B is packed a K block at a
    time and each cache tile packs its rows of A per block. Ragged M and N pad
    A and B in every block; 520 = 5 blocks of 104, 13 K steps each."""
    exe = wafer.compile_mlir(MATMUL.format(m=m, n=n, k=k), threads=threads, machine="avx512")
    a, b = random(m, k), random(k, n)
    np.testing.assert_allclose(exe.forward(a, b), a @ b, rtol=1e-4, atol=1e-4)
    assert_strategy(exe, f"k block {block}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("tokens", [256, 384])
def test_attention_values_keep_k_whole(threads, tokens):
    """P V: V (a head's tokens x 64) is at most a quarter of P (tokens x tokens),
    a temporary the kernel reads in place, so K stays whole: a packed copy of
    V costs less than a pass over the output per K block."""
    torch.manual_seed(0)
    model = Lambda(lambda p, v: torch.softmax(p, -1) @ v)
    inputs = (torch.randn(2, 4, tokens, tokens), torch.randn(2, 4, tokens, 64))
    compiled = compile_checked(model, inputs, threads=threads, machine="avx512")
    assert_strategy(compiled, f"packed matmul 8x{tokens}x64x{tokens}")
    assert not any("k block" in s for s in compiled.compile_report.strategies), compiled.compile_report.strategies


def test_batch_matmul_packed_one_k_block_at_a_time():
    exe = wafer.compile_mlir(BATCH_MATMUL.format(b=2, m=96, n=128, k=256), threads=2, machine="avx512")
    a, w = random(2, 96, 256), random(2, 256, 128)
    np.testing.assert_allclose(exe.forward(a, w), a @ w, rtol=1e-4, atol=1e-4)
    assert_strategy(exe, "k block 128")


SPLIT_DIMS = """
func.func @forward(%a: tensor<19x1x3x10xf32>, %b: tensor<40x3x10xf32>) -> tensor<19x1x40xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<19x1x40xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<19x1x40xf32>) -> tensor<19x1x40xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, u, n, h, k) -> (m, u, h, k)>, affine_map<(m, u, n, h, k) -> (n, h, k)>, affine_map<(m, u, n, h, k) -> (m, u, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%a, %b : tensor<19x1x3x10xf32>, tensor<40x3x10xf32>) outs(%c : tensor<19x1x40xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<19x1x40xf32>
  return %r : tensor<19x1x40xf32>
}
"""


def test_unit_and_split_dims():
    """Attention-style operands: a unit m dim and K split into heads."""
    exe = wafer.compile_mlir(SPLIT_DIMS)
    a, b = random(19, 1, 3, 10), random(40, 3, 10)
    np.testing.assert_allclose(exe.forward(a, b), np.einsum("muhk,nhk->mun", a, b), rtol=1e-4, atol=1e-4)
    assert_strategy(exe, "packed matmul 19x40x30")


@pytest.mark.parametrize("stride,padding,shape", [(1, 1, (2, 5, 9, 11)), (2, 0, (1, 3, 13, 8)), (1, 2, (3, 1, 7, 7))])
def test_im2col_convolution_matches_pytorch(stride, padding, shape):
    """Convolutions through im2col + the packed kernel, odd sizes and strides
    (small enough for wafer-direct-conv, which is turned off)."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(shape[1], 7, 3, stride=stride, padding=padding), torch.nn.ReLU())
    x = torch.randn(*shape)
    compiled = compile_checked(conv, (x,), direct_conv=False)
    assert any(s.startswith("im2col") for s in compiled.compile_report.strategies)


def test_small_matmul_stays_serial():
    """Below parallel-flops the cache tiles are a serial loop even with threads.
    100 rows are 10 register blocks of 10 (blocks of 8 or 7 would pad M): two
    balanced tiles of 5 (50 rows), not 6 and 4; N's 10 panels two tiles of 5,
    not 4, 4 and 2 (AVX-512's blocks, on any host)."""
    exe = wafer.compile_mlir(MATMUL.format(m=100, n=300, k=8), threads=2, machine="avx512")
    assert exe.compile_report.stages[-1].ops_after["omp.parallel"] == 0
    assert_strategy(exe, "register block 10x32, k unroll 8, cache tile 50x160, serial")


def test_a_recurrent_step_sized_matmul_is_split_over_the_threads():
    """An LSTM's step (8x128 @ 128x512, 1 MFLOP) is over parallel-flops: its four
    cache tiles go to the threads (at 4 MFLOP every step ran on one core)."""
    exe = wafer.compile_mlir(MATMUL.format(m=8, n=512, k=128), threads=2, machine="avx512", wake_instructions=0)
    assert exe.compile_report.stages[-1].ops_after["omp.parallel"] > 0
    assert_strategy(exe, "register block 8x32, k unroll 8, cache tile 8x128")
    assert not any("serial" in line for line in exe.compile_report.strategies)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride", [1, 2])
def test_big_convolution_parallel_gather_and_tile_packed_columns(threads, stride):
    """A gather over 2^18 values spread over the threads, and the columns packed
    inside each parallel cache tile (one tile of 24 rows covers M; 1665 pixels
    leave one column, split off as a contraction of its own); strided windows
    stay scalar copies. AVX-512's blocks, on any host."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(20, 24, 3, stride=stride, padding=1)
    x = torch.randn(1, 20, 45 * stride, 37 * stride)
    compiled = compile_checked(conv, (x,), direct_conv=False, threads=threads, machine="avx512",
                               wake_instructions=0)
    report = compiled.compile_report
    assert any(s.startswith("packed matmul 24x1664x180") and "serial" not in s for s in report.strategies)
    assert_strategy(compiled, "packed matmul 24x1x180")
    assert (report.stages[-1].ops_after["omp.parallel"] > 0) == (threads > 1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride,batch", [(1, 2), (2, 1)])
def test_convolution_gathered_inside_row_aligned_tiles(threads, stride, batch):
    """56-pixel rows: cache tiles of 4 rows gather and pack their own columns
    (runs of 8 pixels, read whole at stride 2), batch 2 one image per tile."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 16, 3, stride=stride, padding=1)
    x = torch.randn(batch, 8, 56 * stride, 56 * stride)
    compiled = compile_checked(conv, (x,), direct_conv=False, threads=threads, machine="avx512")
    assert_strategy(compiled, "cache tile 16x224")


def test_convolution_whose_tiles_are_not_whole_rows():
    """Rows of 40 pixels and cache tiles of 64 columns (a kernel `wafer tune` tries):
    whole rows come 160 columns (4 rows) at a time, and 5 rows are no multiple of
    them, so no tile is whole image rows and the columns are gathered before the
    tiles, not in them (wafer-pack-matmul used to fail on resnet18's first conv
    this way)."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(24, 64, 3)
    compiled = compile_checked(conv, (torch.randn(1, 24, 7, 42),),
                               direct_conv=False, threads=2, machine="avx512", winograd=False,
                               register_tile=(4, 32), cache_tile=(64, 64))
    assert_strategy(compiled, "packed matmul 64x200x216: register block 4x32, k unroll 8, cache tile 64x64")


@pytest.mark.parametrize("threads", [1, 2])
def test_tiles_widen_to_whole_rows_for_the_activation(threads):
    """A 152-pixel row is 4.75 panels of 32: whole rows come 19 panels (4 rows) at
    a time, past twice the 4-panel cache tile. The tile widens to them, so the
    bias and ReLU6 join it instead of running as a pass of their own."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(16, 96, 1), torch.nn.ReLU6()).eval()
    compiled = compile_checked(model, (torch.randn(1, 16, 152, 152),), threads=threads, machine="avx512")
    assert_strategy(compiled, "packed matmul 96x23104x16: register block 8x32, k unroll 8, cache tile 96x608")
    assert_strategy(compiled, "select per 1x96x4x152 tile")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bias", [False, True])
def test_parts_of_a_split_convolution_compute_into_the_result(threads, bias):
    """A 1x1 convolution on 55x55 (3025 pixels) splits into whole cache tiles
    and a remainder. Each part zeroes its own tiles (with its bias, or its
    batch norm folded, added after the sums) and the first writes its sums
    in place in the result: a call holds no second C. Before, all of C was
    filled, the first part's sums went to a buffer of their own, and were
    copied into the result."""
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(16, 64, 1, bias=bias)]
    if not bias:
        norm = torch.nn.BatchNorm2d(64)
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        layers.append(norm)
    model = torch.nn.Sequential(*layers, torch.nn.ReLU6()).eval()
    x = torch.randn(1, 16, 55, 55)
    compiled = compile_checked(model, (x,), threads=threads, machine="avx512")
    assert_strategy(compiled, "packed matmul 64x2944x16")
    assert_strategy(compiled, "packed matmul 64x81x16")
    compiled(x)
    assert compiled.last_peak_bytes < 1.25 * 64 * 55 * 55 * 4


@pytest.mark.parametrize("threads", [1, 2])
def test_columns_copied_straight_into_panels(threads):
    """24-pixel rows: runs of 8 pixels fill the packed panels directly from the
    input (13 channels, K=117 odd; tiles of 4 rows = 3 panels; batch 2)."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(13, 32, 3, padding=1)
    x = torch.randn(2, 13, 28, 24)
    compiled = compile_checked(conv, (x,), direct_conv=False, threads=threads, machine="avx512")
    assert_strategy(compiled, "packed matmul 32x1344x117: register block 8x32, k unroll 3, cache tile 32x96")


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_strided_columns_copied_into_panels_a_run_at_a_time(stride):
    """32-pixel rows of a strided window: each row's run is one read of
    stride x 32 input elements and one shuffle that keeps every stride-th. No
    padding: the last window's read runs past the input row's end (masked)."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 32, 3, stride=stride)
    width = 31 * stride + 3
    compiled = compile_checked(conv, (torch.randn(1, 3, width, width),), direct_conv=False, threads=1, machine="avx512")
    assert_strategy(compiled, "packed matmul 32x1024x27: register block 8x32, k unroll 3")
    shuffles = {stage.name: stage.ops_after["vector.shuffle"] for stage in compiled.compile_report.stages}
    assert shuffles["pack"] == (stride > 1)


@pytest.mark.parametrize("channels,size,stride", [(32, 7, 1), (48, 28, 2)])
def test_oriented_convolution_rows_copied_into_panels(tmp_path, channels, size, stride):
    """Pixels as A's rows, in blocks of 7 (half or all of a 14- or 7-pixel
    output row): each block's pixels, for one window, are one run copied from
    the input into its panel row. No im2col buffer of the whole image is built
    first, nor packed from."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(channels, 64, 3, stride=stride, padding=1)
    out = size // stride
    compiled = compile_checked(conv, (torch.randn(1, channels, size, size),),
                               direct_conv=False, threads=1, machine="avx512",
                               winograd=False, dump_ir=str(tmp_path))
    assert_strategy(compiled, f"oriented {out * out}x64x{channels * 9}: A and B swapped")
    assert_strategy(compiled, "register block 7x32")
    packed = (tmp_path / "03-pack.mlir").read_text()
    assert f"tensor<1x{channels}x3x3x{out}x{out}xf32>" not in packed


def test_whole_image_panels_copied_a_channel_per_thread(tmp_path):
    """A's panels of an oriented 256-channel conv on 14x14 (1.8 MB, outside any
    cache tile) are copied in an scf.forall over the channels, each iteration
    writing its channel's 9 K rows."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(256, 128, 3, padding=1)
    compiled = compile_checked(conv, (torch.randn(1, 256, 14, 14),), direct_conv=False, threads=2, machine="avx512",
                               winograd=False, dump_ir=str(tmp_path))
    assert_strategy(compiled, "oriented 196x128x2304")
    packed = (tmp_path / "03-pack.mlir").read_text()
    assert "in (256) shared_outs" in packed
    assert "[1, 28, 9, 7]" in packed  # a channel's slab of the [1, 28, 2304, 7] panels


@pytest.mark.parametrize("batch", [1, 32])
def test_small_fused_groups_stay_serial_at_two_threads(batch):
    """LeNet at threads=2: a batch of one has no group worth a thread (no OpenMP
    region at all); a batch of 32 has; the numbers match PyTorch either way."""
    from wafer.examples.models import EXAMPLES

    model, inputs = EXAMPLES["lenet"].build(batch)
    compiled = compile_checked(model, inputs, threads=2, wake_instructions=0)
    assert (compiled.compile_report.stages[-1].ops_after["omp.parallel"] > 0) == (batch > 1)


@pytest.mark.parametrize("threads", [1, 2])
def test_big_batch_norm_relu_add_tiled_alone(threads):
    """Batch norm + ReLU and a residual add of 2^20+ elements outside any group:
    split from their variance checks, tiled with scf.forall and vectorized
    (odd 37x29 planes leave partial tiles)."""
    import torch

    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(20).eval()
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 1.5)

    class Block(torch.nn.Module):
        def forward(self, x):
            return torch.relu(bn(x)) + x

    model, x = Block(), torch.randn(50, 20, 37, 29)
    compiled = compile_checked(model, (x,), threads=threads, wake_instructions=0)
    assert (compiled.compile_report.stages[-1].ops_after["omp.parallel"] > 0) == (threads > 1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(3, 5, 13, 11), (1, 8, 56, 56)])
def test_relu_written_into_the_next_convolutions_padding(threads, shape):
    """conv-relu-conv with padding: the relu writes the interior of the second
    conv's zero-padded input in place; odd planes and 56-pixel row tiles."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(shape[1], 7, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Conv2d(7, 6, 3, padding=1))
    x = torch.randn(*shape)
    compile_checked(model, (x,), threads=threads)


@pytest.mark.parametrize("k,n", [(1001, 300), (784, 512)])
def test_streamed_matrix_vector_product_with_prefetched_panels(k, n):
    """A batch-1 linear layer whose weight panel is too big for L2: wafer-prefetch-panels
    prefetches rows ahead of the kernel, clamped at the last row (1001 rows: the last
    K step is a remainder); the numbers are the same. Without wafer-matvec, which
    takes the 784 one (K in whole vectors)."""
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Linear(k, n)
    x = torch.randn(1, k)
    compiled = compile_checked(layer, (x,), threads=1, machine="avx512", matvec=False)
    assert_strategy(compiled, f"packed matmul 1x{n}x{k}")
    assert_strategy(compiled, "panel rows 16 ahead")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(256, 96, 512), (100, 300, 70)])
def test_bias_relu_and_residual_applied_per_cache_tile(threads, m, k, n):
    """A linear layer's bias, ReLU and a residual add: wafer-fuse-epilogues applies
    them to each cache tile of the kernel as it is done (256x512: whole tiles);
    a padded C (100x70) is sliced out of its padded blocks, the epilogue after it."""
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(k, n)

        def forward(self, x, r):
            return torch.relu(self.fc(x)) + r

    torch.manual_seed(0)
    compile_checked(Block().eval(), (torch.randn(m, k), torch.randn(m, n)), threads=threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(64, 17, 100), (24, 300, 64), (512, 96, 256)])
def test_rows_of_a_read_in_place(threads, m, k, n):
    """A per-call A whose rows need no padding is read where it is (read_rows_in_place):
    an odd K, a ragged N (C stays packed), and a parallel 512-row product."""
    exe = wafer.compile_mlir(MATMUL.format(m=m, n=n, k=k), threads=threads)
    a, b = random(m, k), random(k, n)
    np.testing.assert_allclose(exe.forward(a, b), a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("channels,filters,size,in_place,panels", [
    (576, 96, 14, "1x576x28x7", "1x28x576x7"),  # 196 pixels in blocks of 7 rows
    (960, 160, 7, "1x960x7x7", "1x7x960x7")])
def test_an_oriented_pointwise_convolution_reads_its_image_in_place(
        tmp_path, threads, channels, filters, size, in_place, panels):
    """MobileNet-v2's late projections, oriented (pixels as rows): A is the image
    [K][pixels], read in place as [K, pixels/mr, mr] (a k step's mr pixels are
    neighbours in one row) instead of packed into [pixels/mr][K][mr] panels."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(channels, filters, 1).eval()
    compiled = compile_checked(model, (torch.randn(1, channels, size, size),), threads=threads, machine="avx512",
                               direct_conv=False, dump_ir=str(tmp_path))
    assert_strategy(compiled, f"oriented {size * size}x{filters}x{channels}")
    packed = (tmp_path / "03-pack.mlir").read_text()
    assert f"tensor<{in_place}xf32>" in packed and f"tensor<{panels}xf32>" not in packed


TWO_PRODUCTS_OF_ONE_A = """
func.func @forward(%a: tensor<16x64xf32>, %b: tensor<64x32xf32>, %c: tensor<64x32xf32>) -> (tensor<16x32xf32>, tensor<16x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x32xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<16x32xf32>) -> tensor<16x32xf32>
  %r = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x32xf32>) outs(%f : tensor<16x32xf32>) -> tensor<16x32xf32>
  %s = linalg.matmul ins(%a, %c : tensor<16x64xf32>, tensor<64x32xf32>) outs(%f : tensor<16x32xf32>) -> tensor<16x32xf32>
  return %r, %s : tensor<16x32xf32>, tensor<16x32xf32>
}
"""


def test_two_products_read_one_a_in_place():
    exe = wafer.compile_mlir(TWO_PRODUCTS_OF_ONE_A)
    a, b, c = random(16, 64), random(64, 32), random(64, 32)
    r, s = exe.forward(a, b, c)
    np.testing.assert_allclose(r, a @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(s, a @ c, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("machine", ["avx2", "avx512"])
def test_partial_cache_tile_of_a_blocked_k_matmul(machine):
    """ConvNeXt's MLP on a 28x28 channels-last map: 784 rows leave a partial
    cache tile whose packs are slices of dynamic size, which must stay packs
    (their reshape needs sizes known only at run time)."""
    import torch

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(192, 768), torch.nn.GELU(), torch.nn.Linear(768, 192)).eval()
    compile_checked(mlp, (torch.randn(1, 28, 28, 192),), threads=1, machine=machine)


def test_pipeline_k_block_zero_packs_operands_whole():
    """The cpu pipeline forwards k-block=0 (pack whole) to the kernel, not its default."""
    m, n, k = 256, 256, 512
    exe = wafer.compile_mlir(MATMUL.format(m=m, n=n, k=k), threads=2, machine="avx512", k_block=0)
    a, b = random(m, k), random(k, n)
    np.testing.assert_allclose(exe.forward(a, b), a @ b, rtol=1e-4, atol=1e-4)
    assert not any("k block" in s for s in exe.compile_report.strategies), exe.compile_report.strategies


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,n,k,parts", [
    (8, 2000, 64, ["8x1920x64", "8x80x64"]),  # ragged N over 8 tiles of 4 blocks: 15 whole tiles
    (547, 256, 96, ["544x256x96", "3x"]),  # ragged M (a prime) over 8 tiles of 8 blocks
    (547, 2001, 48, ["544x1920x48", "3x", "544x81x48"]),  # both
])
def test_ragged_edges_split_off(threads, m, n, k, parts):
    """M or N past one cache tile and not whole register blocks: the remainder is a
    contraction of its own, the whole blocks keep static tiles (issue 13); a
    ragged N splits at whole cache tiles, where an epilogue can join the loop."""
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Linear(k, n)
    compiled = compile_checked(layer, (torch.randn(m, k),), threads=threads, machine="avx512")
    for part in parts:
        assert_strategy(compiled, f"packed matmul {part}")


class ReluOfProduct(torch.nn.Module):
    def forward(self, a, b):
        return torch.relu(a @ b)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch,m,k,n", [
    (12, 197, 197, 64),  # ViT's attention times V: 197 tokens is prime
    (1, 2001, 211, 2001),  # M, N and K all ragged: three rounds of splits
])
def test_a_k_without_small_divisors_splits_off_its_remainder(threads, batch, m, k, n):
    """A K whose only step up to the k unroll is 1 was unrolled whole, 197 FMAs
    deep per register block (3.6x slower than K = 192): the whole k-unroll
    steps and the remainder are contractions of their own, the remainder
    accumulating into the first's sums."""
    torch.manual_seed(0)
    product = ReluOfProduct()
    inputs = (torch.randn(batch, m, k), torch.randn(batch, k, n))
    compiled = compile_checked(product, inputs, threads=threads, machine="avx512")
    strategies = compiled.compile_report.strategies
    assert any("k unroll 8" in s and f"x{k - k % 8}:" in s for s in strategies), strategies
    assert any(f"x{k % 8}:" in s for s in strategies), strategies
    assert not any(f"k unroll {k}" in s for s in strategies), strategies


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("model,inputs,in_place,panels", [
    # 96 filters x 49 pixels, in blocks of 8 x 32
    (torch.nn.Conv2d(160, 96, 1), (torch.randn(1, 160, 7, 7),), "1x12x8x2x32", "1x12x2x8x32"),
    # attention's scores: 197 x 197 tokens per head
    (ReluOfProduct(), (torch.randn(12, 197, 64), torch.randn(12, 64, 197)), "12x25x8x7x32", "12x25x7x8x32"),
])
def test_a_padded_accumulator_is_not_unpacked(tmp_path, threads, model, inputs, in_place, panels):
    """A ragged M or N below the size a split pays for pads C to whole register
    blocks in C's own layout, expanded ([.., M/mr, mr, N/nr, nr]), of which C
    is a slice; not in packed panels ([.., M/mr, N/nr, mr, nr]) that an unpack
    transposes back. Unswapped (orient=false): swapped, the convolution's 49
    pixels are rows of a register block that divides them."""
    torch.manual_seed(0)
    compiled = compile_checked(model.eval(), inputs, threads=threads, machine="avx512", dump_ir=str(tmp_path),
                               orient=False, conv_algorithm="im2col")
    strategies = compiled.compile_report.strategies
    assert sum(s.startswith("packed matmul") for s in strategies) == 1, strategies  # not split
    packed = (tmp_path / "03-pack.mlir").read_text()
    assert f"tensor<{in_place}xf32>" in packed and f"tensor<{panels}xf32>" not in packed


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch,size", [(1, 56), (2, 56), (1, 55)])
def test_pointwise_convolution_reads_its_input_as_columns(threads, batch, size):
    """A 1x1, stride-1 convolution's columns are its input itself (no im2col copy):
    the cache tiles stay whole 56-pixel rows, so the ReLU6 after it fuses per
    tile; 55x55's 3025 pixels split off 81 (23 whole cache tiles), and the
    ReLU6 joins those tiles too."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(24, 96, 1), torch.nn.ReLU6()).eval()
    compiled = compile_checked(model, (torch.randn(batch, 24, size, size),), threads=threads, machine="avx512")
    strategies = compiled.compile_report.strategies
    if size == 56:
        assert_strategy(compiled, f"packed matmul 96x{batch * 3136}x24")
        assert_strategy(compiled, "cache tile 96x224")
        assert any(s.startswith("epilogue") for s in strategies), strategies
    else:
        assert_strategy(compiled, f"packed matmul 96x{batch * 2944}x24")
    assert any(s.startswith("epilogue") for s in strategies), strategies


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("size", [56, 28, 55])
def test_convolution_bias_added_after_its_sums(threads, size):
    """A conv's bias, which torch-mlir broadcasts into C before the sums, is
    added after them: with whole tiles (56x56) it is the epilogue's first op,
    before the ReLU6; a padded C (28x28) adds it after the unpack; the parts of
    a split C (55x55) keep starting from slices of the broadcast."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(24, 96, 1), torch.nn.ReLU6()).eval()
    with torch.no_grad():
        model[0].bias.uniform_(-3, 3)  # big enough that a lost bias shows in the ReLU6's clamps
    compiled = compile_checked(model, (torch.randn(1, 24, size, size),), threads=threads, machine="avx512")
    epilogues = [s for s in compiled.compile_report.strategies if s.startswith("epilogue")]
    if size == 56:
        assert epilogues and epilogues[0].startswith("epilogue addf, cmpf"), epilogues


@pytest.mark.parametrize("threads", [1, 2])
def test_oriented_convolution_bias_added_after_its_sums(tmp_path, threads):
    """Pixels as rows (7x7's 49): torch-mlir's broadcast bias was also
    transposed to [pixels, channels] before the sums; now the sums start from
    zero and the bias is added after they are transposed back, where the
    ReLU6 is, so C is never broadcast at all."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(320, 256, 1), torch.nn.ReLU6()).eval()
    with torch.no_grad():
        model[0].bias.uniform_(-3, 3)
    compiled = compile_checked(model, (torch.randn(1, 320, 7, 7),), threads=threads, machine="avx512",
                               direct_conv=False, dump_ir=str(tmp_path))
    assert_strategy(compiled, "oriented 49x256x320")
    packed = (tmp_path / "03-pack.mlir").read_text()
    assert "linalg.broadcast" not in packed and packed.count("linalg.transpose") == 1  # C's, back to NCHW


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 2])
def test_ragged_image_convolutions_split_off(threads, batch):
    """SqueezeNet's 55x55 images: a 1x1 convolution's 3025 pixels are 23 cache
    tiles of 128 and 81 pixels split off, and its bias and ReLU join the whole
    tiles; the 3x3 convolution's rows are widened to 56 (wafer-im2col), 3080
    pixels in 24 tiles and 8 split off, and its bias joins them."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(16, 64, 1), torch.nn.ReLU(), torch.nn.Conv2d(64, 16, 3, padding=1))
    compiled = compile_checked(model.eval(), (torch.randn(batch, 16, 55, 55),),
                               direct_conv=False, threads=threads, machine="avx512",
                               winograd=False)
    # Per image; the strategies count all images' columns.
    for filters, k, whole, rest in ((64, 16, 2944, 81), (16, 576, 3072, 8)):
        assert_strategy(compiled, f"packed matmul {filters}x{batch * whole}x{k}")
        assert_strategy(compiled, f"packed matmul {filters}x{batch * rest}x{k}")
    assert_strategy(compiled, "epilogue addf, cmpf, select per 1x64x128 tile")
    assert_strategy(compiled, "epilogue addf per 1x16x128 tile")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rows,k,n,tile", [(40, 1040, 96, 104), (36, 1024, 200, 128), (40, 256, 96, None),
                                            (256, 1024, 256, None)])
def test_deep_k_looped_in_blocks_inside_cache_tiles(rows, k, n, tile, threads):
    """Constant weights whose K is too deep for a row's A panel (8 x K floats)
    to stay in half of the avx512 preset's 32 KB L1 loop over K in blocks inside
    each cache tile, C brought back per block; a shallow K stays whole, and so
    does one whose tile's C (256 x 128 floats at one thread) would come back
    from L2. 1040 = 10 blocks of 104; 36 rows pad A, 200 columns pad B."""
    torch.manual_seed(0)
    model = torch.nn.Linear(k, n).eval()
    compiled = compile_checked(model, (torch.randn(rows, k),), threads=threads, machine="avx512")
    blocked = [s for s in compiled.compile_report.strategies if "k tile" in s]
    assert blocked == ([] if tile is None else [blocked[0]])
    if tile is not None:
        assert f"k tile {tile}" in blocked[0]


@pytest.mark.parametrize("threads", [1, 2])
def test_deep_k_convolution_on_a_small_image_looped_in_blocks(threads):
    """A 7x7 image's 3x3 convolution over 96 channels: its im2col contraction
    (49 pixels x 64 filters x 864) loops over K in blocks of 96."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(96, 64, 3, padding=1).eval()
    compiled = compile_checked(model, (torch.randn(1, 96, 7, 7),), direct_conv=False, threads=threads, machine="avx512")
    assert any("k tile 96" in s for s in compiled.compile_report.strategies), compiled.compile_report.strategies


@pytest.mark.parametrize("rows,k,n,threads,tile", [
    (200, 256, 512, 1, "200x128"), (200, 256, 512, 2, "200x128"),  # B is bigger: all 25 register rows
    (200, 2048, 512, 1, "200x128"),  # even where A's rows overflow L2
    (200, 256, 128, 1, "104x128"),  # one column of tiles: two tiles of 13 rows, to share
    (200, 256, 128, 2, "56x128"),  # four tiles for two threads: the option's 64 rows, balanced
    (640, 512, 256, 1, "216x128"),  # A is bigger: half of L2 holds 32 register rows, so 3 tiles of 27
    (600, 2048, 256, 1, "64x128")])  # ... 8 of them, this deep: the option's 64 rows
def test_cache_tiles_span_the_rows_of_m_that_pay(rows, k, n, threads, tile):
    """With constant weights, a cache tile covers all of M where B is the bigger
    operand, else as many rows as half of the avx512 preset's 1 MB L2 holds A's
    rows for, so that each tile row of M, which streams all of B, is as tall as
    pays; at least two tiles per thread stay."""
    torch.manual_seed(0)
    model = torch.nn.Linear(k, n).eval()
    compiled = compile_checked(model, (torch.randn(rows, k),), threads=threads, machine="avx512")
    assert_strategy(compiled, f"packed matmul {rows}x{n}x{k}: register block 8x32, k unroll 8, cache tile {tile}")


@pytest.mark.parametrize("m,mr_max,rows", [
    (49, 8, 7), (196, 8, 7), (64, 8, 8), (197, 8, 8), (3025, 8, 7), (5, 8, 5), (49, 4, 4), (10, 6, 5)])
def test_block_rows_pad_m_least(m, mr_max, rows):
    """The register block's rows: M itself when short, else the full block or one
    row fewer, whichever pads M less (the full block on ties)."""
    assert block_rows(m, mr_max) == rows


@pytest.mark.parametrize("m,most,rows", [
    (169, 14, 13), (3025, 14, 11), (729, 14, 9), (169, 12, 7),  # 13x13 needs 13 rows, or pads
    (196, 14, 7), (64, 14, 8),  # the usual block divides M: it stays
    (17, 14, 7)])  # nothing divides a prime: the block that pads least
def test_taller_block_rows_where_they_divide_m(m, most, rows):
    """Where the full block and one row fewer both pad M, a taller block the
    registers hold (up to `most` rows) that divides M takes its place."""
    assert block_rows(m, 8, most) == rows


@pytest.mark.parametrize("threads", [1, 2])
def test_a_13x13_images_pixels_in_blocks_of_13_rows(threads):
    """SqueezeNet's last 3x3 expands: 169 pixels are 13 blocks of 13 rows (26
    of the 32 registers accumulate), not 25 blocks of 7 with the last padded."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(64, 256, 3, padding=1), torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(1, 64, 13, 13),),
                               direct_conv=False, threads=threads, machine="avx512")
    assert_strategy(compiled, "packed matmul 169x256x576: register block 13x32")


@pytest.mark.parametrize("m,n,nr,rows,machine,accumulators,block", [
    (32, 784, 32, 8, "avx512", 16, (16, 16)),  # 28x28 pixels: 49 panels of 16, not 24.5 of 32
    (24, 784, 32, 8, "avx512", 16, (12, 16)),  # 12 rows keep M whole, where 13 would pad it
    (40, 784, 32, 8, "avx512", 16, (10, 16)),
    (17, 784, 32, 8, "avx512", 16, (9, 16)),  # no row count divides 17: the one that pads least
    (64, 720, 64, 8, "avx512", 24, (16, 16)),  # the widest narrower block that divides N, whole vectors:
    # 720 is 15 panels of 48, but three vectors are no register block (see CpuTarget.vector_block)
    (200, 200, 16, 4, "avx2", 8, (8, 8)),  # AVX2: 25 panels of one vector
    (576, 196, 32, 8, "avx512", 16, (16, 16)),  # 14x14 pixels: 208 columns in 16s, not 224 in 32s
    (1024, 196, 16, 4, "avx2", 8, None),  # 200 columns in 8s, but 8x8 issues slower than 4x16
    (1000, 169, 32, 8, "avx512", 16, None),  # 176 columns in 16s, whose 10 rows issue too slowly
    (64, 49, 32, 8, "avx512", 16, None),  # 64 columns either way
    (256, 729, 32, 8, "avx512", 16, None)])
def test_least_padded_panels_for_an_n_the_register_block_leaves_ragged(m, n, nr, rows, machine, accumulators,
                                                                        block):
    """The narrower register block whose panels tile N exactly, with rows that
    keep the accumulators (down to half of them where that keeps M whole); else
    the one whose padded N, weighed by its issue rate, is least."""
    assert least_padded_panels(m, n, nr, rows, PRESETS[machine], accumulators) == block


@pytest.mark.parametrize("m,block", [(2, "2x128"), (3, "3x64"), (4, "4x64"), (5, "5x32"), (7, "7x32")])
def test_a_short_m_widens_its_block_by_powers_of_two_vectors(m, block):
    """A linear layer at batch 3 or 5 widens its register block to keep the
    accumulators, up to a power of two of vectors: 3x64 and 5x32, not the
    5 and 3 vectors (3x80, 5x48) that LLVM splits with shuffles."""
    torch.manual_seed(0)
    layer = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU()).eval()
    compiled = compile_checked(layer, (torch.randn(m, 256),), threads=1, machine="avx512")
    assert_strategy(compiled, f"packed matmul {m}x512x256: register block {block},")


@pytest.mark.parametrize("m,n,machine,block", [
    (25, 512, "avx512", (5, 64)),  # a 5x5 image's pixels: five whole 5x64 blocks, where 7x32 pads to 28 rows
    (85, 256, "avx512", (5, 64)),
    (25, 96, "avx512", (7, 32)),  # 96 columns are no whole 64-wide panels: 7x32, padded
    (49, 512, "avx512", (7, 32)),  # 7 rows divide 49 already
    (25, 512, "avx2", (5, 16))])  # AVX2's 4x16 block is one row short of 25's divisor
def test_an_m_the_block_pads_takes_a_shorter_wider_block(m, n, machine, block):
    """Where the block rows pad M and a shorter block divides it, the shorter
    one is taken, widened to keep its accumulators."""
    cpu = PRESETS[machine]
    kernel, _ = plan_kernel(shape_of(ContractionSignature(1, m, n, 512, True, 1)), default_choice(cpu), cpu,
                            PARALLEL_FLOPS, 0, 1)
    assert (kernel.mr, kernel.nr) == block, kernel


@pytest.mark.parametrize("width,block", [(16, 16), (40, 32), (48, 32), (64, 64), (96, 64), (127, 64), (8, 16)])
def test_a_vector_block_is_a_power_of_two_of_vectors(width, block):
    """The widest run of whole vectors in `width` lanes (AVX-512: 16 a vector) is
    one, two, four or eight vectors, and at least one."""
    assert PRESETS["avx512"].vector_block(width) == block


@pytest.mark.parametrize("m,k,n,k_tile", [
    (8, 9216, 4096, 0),  # AlexNet's fc6 at batch 8: 151 MB of weights stream from memory, K whole
    (32, 4096, 11008, 0),  # a Llama MLP's up projection at 32 tokens: 180 MB
    (4, 9216, 4096, 128),  # a 4-row block two panels a tile (4x64) keeps its blocks
    (8, 4096, 1024, 0),  # 16 MB from L3, read by one row of blocks: K whole
    (32, 3072, 768, 0),  # 9 MB, four rows: K whole
    (64, 4096, 1024, 128),  # eight rows: K in blocks, the tile's panels kept in L2 for them
    (8, 512, 256, 0)])  # K too shallow for blocks
def test_weights_streamed_from_memory_keep_k_whole(m, k, n, k_tile):
    """A weight matrix bigger than the last-level cache streams from memory on
    every call: K blocks would interleave a tile's panels in short runs, so a
    tile of more than two panels reads each panel whole instead. So does one
    bigger than L2 that at most `streamed_b_rows` rows of register blocks read
    (four here, as measured on a Zen 5)."""
    cpu = replace(PRESETS["avx512"], streamed_b_rows=4)
    signature = ContractionSignature(1, m, n, k, True, 1)
    kernel, _ = plan_kernel(shape_of(signature), default_choice(cpu), cpu, PARALLEL_FLOPS, 0, 1)
    assert kernel.k_tile == k_tile, kernel


@pytest.mark.parametrize("m,n,threads,tile", [
    (64, 128, 2, (64, 64)),  # 64 flattened images into 128 units: N's panels split between the threads
    (64, 128, 1, (64, 128)),  # one thread: one tile
    (64, 32, 2, (64, 32)),  # 1.6 MB of weights against 3.2 MB of images: one tile
    (64, 256, 2, (64, 128))])  # two tiles already
def test_each_thread_gets_a_cache_tile(m, n, threads, tile):
    """A parallel contraction of fewer cache tiles than threads splits N's where
    the weights outweigh the rows of A."""
    cpu = PRESETS["avx512"]
    kernel, _ = plan_kernel(shape_of(ContractionSignature(1, m, n, 12544, True, 1)), default_choice(cpu), cpu,
                            PARALLEL_FLOPS, 0, threads)
    assert (kernel.tm * kernel.mr, kernel.tn * kernel.nr) == tile, kernel


@pytest.mark.parametrize("threads", [1, 2])
def test_a_28x28_images_pointwise_convolution_in_whole_panels(threads):
    """MobileNet-v2's 192->32 projection at 28x28, unswapped (orient=false; the
    pass swaps it, its image then read in place): 784 pixels are whole 16-wide
    panels, so the tiles are static and the ReLU6 joins them."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(192, 32, 1), torch.nn.ReLU6()).eval()
    compiled = compile_checked(model, (torch.randn(1, 192, 28, 28),), threads=threads, machine="avx512",
                               orient=False)
    assert_strategy(compiled, "packed matmul 32x784x192: register block 16x16")
    assert_strategy(compiled, "epilogue ")


@pytest.mark.parametrize("machine,block", [("avx512", "16x16"), ("avx2", "4x16")])
def test_a_14x14_images_pointwise_convolution_in_the_least_padded_panels(machine, block):
    """ResNet-50's 256->1024 expansion at 14x14, unswapped: AVX-512 pads its 196
    pixels to 208 in 16-wide panels (16 rows keep 16 accumulators) rather than to
    224 in 32-wide ones; AVX2's one-vector block would pad to 200 but issue a
    load per multiply-add, so it keeps 4x16."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(256, 1024, 1), torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(1, 256, 14, 14),), threads=1, machine=machine, orient=False,
                               conv_algorithm="im2col")
    assert_strategy(compiled, f"packed matmul 1024x196x256: register block {block}")


@pytest.mark.parametrize("threads", [1, 2])
def test_seven_row_blocks_for_a_7x7_images_pixels(threads):
    """The 49 pixels of a 7x7 image as the rows of an oriented 1x1 convolution:
    seven blocks of 7 rows, none of them padding."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(320, 256, 1).eval()
    compiled = compile_checked(model, (torch.randn(1, 320, 7, 7),), threads=threads, machine="avx512",
                               direct_conv=False)
    assert_strategy(compiled, "packed matmul 49x256x320: register block 7x32")


@pytest.mark.parametrize("threads", [1, 2])
def test_convolution_columns_packed_once_per_tile_under_all_filters(threads):
    """128 filters of 144 weights each fit in half of L2: one row of cache tiles
    covers them all, and each tile gathers its own im2col columns, instead of
    the columns being packed a K block (72 deep) at a time for two rows of tiles."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(16, 128, 3, padding=1).eval()
    compiled = compile_checked(model, (torch.randn(1, 16, 30, 30),), threads=threads, machine="avx512",
                               conv_algorithm="im2col")  # its 15 tile rows would make Winograd blocks
    assert_strategy(compiled, "packed matmul 128x900x144: register block 8x32, k unroll 8, cache tile 128x")
    assert not any("k block" in s for s in compiled.compile_report.strategies), compiled.compile_report.strategies


def test_convolution_keeps_k_whole_when_its_columns_fit_l3():
    """SqueezeNet's classifier: 1000 filters of 512 weights (2 MB, over half of L2)
    take several rows of cache tiles, but the columns (a 0.7 MB B) fit in a quarter
    of L3: they are packed whole, so C is written once, not once per K block."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(512, 1000, 1).eval()
    compiled = compile_checked(model, (torch.randn(2, 512, 13, 13),), threads=2, machine="avx512")
    assert_strategy(compiled, "packed matmul 1000x338x512")
    assert not any("k block" in s for s in compiled.compile_report.strategies), compiled.compile_report.strategies


def test_convolution_columns_over_a_quarter_of_l3_packed_in_k_blocks():
    """A 3x3 convolution of 256 channels on 28x28 through im2col: its columns (7.2 MB)
    outgrow a quarter of the preset's 27.5 MB L3, so they are packed a K block at a time."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(256, 256, 3, padding=1).eval()
    compiled = compile_checked(model, (torch.randn(1, 256, 28, 28),), threads=2, machine="avx512",
                               conv_algorithm="im2col")
    assert_strategy(compiled, "k block 128")


class ConvRelu(torch.nn.Module):
    def __init__(self, residual: bool):
        super().__init__()
        self.conv, self.residual = torch.nn.Conv2d(3, 16, 3, stride=2), residual

    def forward(self, x, y):
        z = self.conv(x)
        return torch.relu(z + y if self.residual else z)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("residual", [False, True])
def test_activation_of_a_split_convolution_joins_its_tiles(threads, residual):
    """A stem on a 163x163 image: 81x81 = 6561 output pixels (rows of 81,
    which 7 more would widen by more than wafer-im2col does) split into whole
    cache tiles and a remainder; the ReLU (after a residual add read whole) is
    applied to each part, and joins the first part's tiles (wafer-split-epilogues)."""
    torch.manual_seed(0)
    inputs = (torch.randn(1, 3, 163, 163), torch.randn(1, 16, 81, 81))
    compiled = compile_checked(ConvRelu(residual).eval(), inputs, direct_conv=False, threads=threads, machine="avx512")
    assert_strategy(compiled, "packed matmul 16x6528x27")
    assert_strategy(compiled, "epilogue ")
