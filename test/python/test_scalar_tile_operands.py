"""wafer-scalar-tile-operands against PyTorch: EfficientNet- and MobileNet-style
blocks whose batch norm, SiLU and ReLU6 read per-channel values as scalars,
over rows shorter than a vector and longer, at several batches and threads."""

import pytest
import torch
from torch_reference import compile_checked

from wafer.passes.scalar_tile_operands import ScalarTileOperands


class DepthwiseBlock(torch.nn.Module):
    """Expand 1x1, depthwise 3x3, each with batch norm and an activation, then
    project 1x1 with batch norm: the ops of an inverted residual block."""

    def __init__(self, channels: int, expanded: int, stride: int, activation):
        super().__init__()
        self.expand = torch.nn.Sequential(torch.nn.Conv2d(channels, expanded, 1, bias=False),
                                          torch.nn.BatchNorm2d(expanded), activation())
        self.depthwise = torch.nn.Sequential(torch.nn.Conv2d(expanded, expanded, 3, stride, 1, groups=expanded,
                                                             bias=False), torch.nn.BatchNorm2d(expanded), activation())
        self.project = torch.nn.Sequential(torch.nn.Conv2d(expanded, channels, 1, bias=False),
                                           torch.nn.BatchNorm2d(channels))

    def forward(self, x):
        return self.project(self.depthwise(self.expand(x)))


def randomized(model: torch.nn.Module) -> torch.nn.Module:
    """Batch-norm statistics away from 0 and 1, so that a channel read wrong shows."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-1, 1)
    return model.eval()


@pytest.mark.parametrize("size,stride", [(14, 1), (7, 1), (19, 2), (40, 1)])
@pytest.mark.parametrize("activation", [torch.nn.SiLU, torch.nn.ReLU6])
@pytest.mark.parametrize("batch,threads", [(1, 1), (2, 2)])
def test_depthwise_block_matches_pytorch(size, stride, activation, batch, threads):
    torch.manual_seed(0)
    model = randomized(DepthwiseBlock(8, 48, stride, activation))
    compile_checked(model, (torch.randn(batch, 8, size, size),), threads=threads)


@pytest.mark.parametrize("scalar_tiles", [True, False])
def test_silu_rows_are_vector_code(scalar_tiles, monkeypatch, tmp_path):
    """After the vectorize stage each SiLU's exponential is a vector op: the
    depthwise epilogue's rows of 14 and the expand conv's untiled one. Without
    the pass one stays scalar."""
    if not scalar_tiles:
        monkeypatch.setattr(ScalarTileOperands, "apply", lambda self, module: None)
    torch.manual_seed(0)
    model = randomized(DepthwiseBlock(8, 48, 1, torch.nn.SiLU))
    compile_checked(model, (torch.randn(1, 8, 14, 14),), threads=1, dump_ir=str(tmp_path))
    exps = [line for line in (tmp_path / "05-vectorize.mlir").read_text().splitlines() if "= math.exp" in line]
    vector_exps = [line for line in exps if line.endswith("xf32>")]
    assert len(exps) == 2 and len(vector_exps) == (2 if scalar_tiles else 1), exps
