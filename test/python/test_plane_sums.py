"""wafer-plane-sums against PyTorch: global average pooling over planes small
enough for wafer-vectorize and larger, square and not, after a conv and in a
squeeze-excite, at several batches and threads."""

import pytest
import torch
from torch_reference import compile_checked


class ConvThenPool(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)

    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1).flatten(1)


@pytest.mark.parametrize("height,width", [(7, 7), (13, 17), (112, 112)])
@pytest.mark.parametrize("batch,threads", [(1, 1), (3, 2)])
def test_global_average_pool_matches_pytorch(height, width, batch, threads, tmp_path):
    torch.manual_seed(0)
    compile_checked(ConvThenPool().eval(), (torch.randn(batch, 3, height, width),), threads=threads,
                    dump_ir=str(tmp_path))
    fused = (tmp_path / "04-fuse.mlir").read_text()
    assert "linalg.pooling_nchw_sum" not in fused and "fastmath<reassoc>" in fused


def test_a_float64_global_average_pool_matches_pytorch():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 11, dtype=torch.float64)
    compile_checked(torch.nn.AdaptiveAvgPool2d(1).eval(), (x,), threads=1)


class ClassifierHead(torch.nn.Module):
    """SqueezeNet's head: a 1x1 convolution to the classes, ReLU, global average pool."""

    def __init__(self, classes: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(64, classes, 1)

    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1).flatten(1)


@pytest.mark.parametrize("classes,block", [(40, 8), (120, 8), (96, 32), (128, 64)])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_channels_last_pool_sums_powers_of_two_channels_at_once(classes, block, threads, tmp_path):
    """Channels a multiple of no vector (40, 120) are summed 8 at a time, not as
    one ragged vector of 40 or 60; 96 as three blocks of two vectors, not two
    of three; 128 as two blocks of four vectors."""
    torch.manual_seed(0)
    compile_checked(ClassifierHead(classes).eval(), (torch.randn(2, 64, 13, 13),), threads=threads,
                    machine="avx512", dump_ir=str(tmp_path))
    fused = (tmp_path / "04-fuse.mlir").read_text()
    assert "channels-last 1x1 conv" in fused
    assert f"-> (vector<{block}xf32>)" in fused and f"in (2, {classes // block})" in fused
