"""wafer-winograd: 3x3 convolutions as Winograd F(2x2, 3x3), against PyTorch."""

import pytest
import torch
from torch_reference import compile_checked


def compiled_conv(in_channels, out_channels, shape, bias=True, stride=1, kernel=3, batch=1, machine="avx512",
                  **options):
    """The strategies of a convolution compiled for `machine` (the block sizes below are AVX-512's)."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=bias).eval()
    x = torch.randn(batch, in_channels, *shape)
    compiled = compile_checked(conv, (x,), machine=machine, **options)
    return compiled.compile_report.strategies


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("channels,shape,batch,bias,rows", [
    ((64, 64), (56, 56), 1, False, 2),  # ResNet's: tile rows of 28 tiles padded to 32
    ((16, 24), (20, 20), 2, True, 10),  # 10 tiles a row padded to 16: blocks of an even number of rows
    ((32, 16), (12, 40), 1, True, 3),   # 20 tiles a row: a second, partial vector of tiles
    ((16, 24), (27, 27), 1, True, 2),   # odd: a half tile row below (zeros read, a padding row written)
    ((16, 16), (15, 22), 2, True, 8),   # odd rows only
    ((32, 16), (12, 41), 1, True, 3),   # odd columns only: the last tile's second column masked
    ((64, 64), (75, 75), 1, True, 2),   # 48 slots a row: the fewest whole-panel rows, past block-bytes
    ((16, 64), (74, 74), 2, True, 2),   # 37 tile rows of 48 slots: blocks of two, the last padded below
    ((16, 64), (55, 55), 1, True, 2),   # SqueezeNet's: 4x the channels out, so the products bound the block
])
def test_matches_pytorch(channels, shape, batch, bias, rows, threads):
    strategies = compiled_conv(*channels, shape, bias=bias, batch=batch, threads=threads)
    assert any(s.startswith(f"winograd F(2x2,3x3) conv: blocks of {rows} tile rows") for s in strategies), strategies


@pytest.mark.parametrize("case", [
    dict(in_channels=16, out_channels=16, shape=(14, 16), stride=2),  # strided
    dict(in_channels=16, out_channels=16, shape=(16, 16), kernel=5),  # not 3x3
    dict(in_channels=8, out_channels=16, shape=(16, 16)),             # too few channels
    dict(in_channels=16, out_channels=16, shape=(14, 14)),            # 7 tile rows padded to 8: more products
    dict(in_channels=16, out_channels=16, shape=(7, 7)),              # 4 tiles a row padded to 16: more products
    dict(in_channels=64, out_channels=64, shape=(56, 56), winograd=False),
])
def test_other_convolutions_keep_their_strategy(case):
    strategies = compiled_conv(**case)
    assert not any(s.startswith("winograd") for s in strategies), strategies


def test_resnet_block_matches_pytorch_at_batch_two():
    from wafer.examples.models import EXAMPLES

    model, inputs = EXAMPLES["resnet-block"].build(2)
    compiled = compile_checked(model, inputs, threads=2)
    assert sum(s.startswith("winograd") for s in compiled.compile_report.strategies) == 2
