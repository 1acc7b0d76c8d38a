"""Convolution and pooling on the WSE target: LeNet and a ResNet block against PyTorch."""

import functools
import math

import pytest
import torch
from torch_mlir import ir

import wafer
from wafer.examples.models import EXAMPLES
from wafer.wse_target.machine import SMALL
from wse_checks import ops_in, products, regions

MODES = ("pipelined", "whole-wafer")
# At batch 2 the ResNet block's im2col patches (9x its activations, for each of its
# two convs) need more SRAM than 'small' has when both convs are resident at once.
TOO_BIG = {("resnet-block", 2, "pipelined")}
FITS = [(name, batch, mode) for name in ("lenet", "resnet-block") for batch in (1, 2) for mode in MODES
        if (name, batch, mode) not in TOO_BIG]


@functools.cache
def compiled(name: str, batch: int, mode: str):
    """(model, inputs, compiled model, its output on inputs), built once per case."""
    model, inputs = EXAMPLES[name].build(batch)
    program = wafer.compile(model, inputs, target="wse", mode=mode)
    return model, inputs, program, program(*inputs)


@pytest.mark.parametrize("name, batch, mode", FITS)
def test_cnn_matches_pytorch(name, batch, mode):
    model, inputs, program, got = compiled(name, batch, mode)
    with torch.no_grad():
        expected = model(*inputs)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert (got - expected).abs().max().item() <= 1e-4 * expected.abs().max().item()
    # Every conv is an implicit GEMM: one SUMMA region each; so is every linear
    # layer at batch 2. At batch 1 a linear layer is a matrix-vector product,
    # summed along the PE rows of a rowwise region (MeshGEMV).
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    linears = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert len(products(program)) == convs + (linears if batch > 1 else 0)
    report = program.report
    assert report.cycles > 0 and 0 < report.sram_high_water_max <= SMALL.sram_bytes


def test_pooling_reduces_its_windows_on_each_pe():
    """A 2x2 window is too short to split over columns: the pooling regions spread
    over output rows and columns, and no reduction crosses the fabric."""
    _, _, program, _ = compiled("lenet", 2, "whole-wafer")
    # At batch 2 LeNet's only row-wise regions but its products are its two max pools.
    pools = [region for region in regions(program, "rowwise") if not any(region == p for p in products(program))]
    assert len(pools) == 2
    for region in pools:
        assert ir.IntegerAttr(region.attributes["width"]).value > 2
        names = [op.name for op in ops_in(region)]
        assert "wse.reduce" not in names and "linalg.generic" in names


@pytest.mark.parametrize("name, batch, mode", sorted(TOO_BIG))
def test_a_cnn_too_big_to_pipeline_says_so(name, batch, mode):
    model, inputs = EXAMPLES[name].build(batch)
    with pytest.raises(wafer.WaferError, match=r"need at least \d+ columns of 32 PEs to hold their tensors "
                                               r"side by side; 'small' has 32 \(\d+ short, \d+ wafers' worth\): "
                                               r"use mode=whole-wafer"):
        wafer.compile(model, inputs, target="wse", mode=mode)


def _windowed_scatters(program) -> list[ir.Operation]:
    return [op for op in ops_in(program.executable.module.operation)
            if op.name == "wse.scatter" and "windows" in op.attributes]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2)])
def test_depthwise_and_pooling_windows_are_read_in_place(stride, dilation, mode):
    """A depthwise convolution's and a max pool's (padded, in ceil mode) windows
    are not gathered on the host, nine or four times the input: each region
    scatters its input rows once, every PE its block's windows with the halo
    it shares with the next PE, and reads the windows from them in place."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(16, 16, 3, stride=stride, padding=dilation, dilation=dilation, groups=16),
        torch.nn.ReLU(), torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)).eval()
    x = torch.randn(1, 16, 21, 21)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)
    with torch.no_grad():
        torch.testing.assert_close(torch.as_tensor(program(x)), model(x))
    scatters = _windowed_scatters(program)
    assert len(scatters) == 2  # the convolution's input and the pool's
    for scatter in scatters:
        region = scatter.parent
        pes = ir.IntegerAttr(region.attributes["width"]).value * ir.IntegerAttr(region.attributes["height"]).value
        received = pes * math.prod(ir.MemRefType(scatter.operands[1].type).shape)
        source = math.prod(ir.RankedTensorType(scatter.operands[0].type).shape)  # what the halos add to
        (compute,) = [op for op in ops_in(region) if op.name == "linalg.generic" and len(op.operands) > 2]
        windows = math.prod(ir.MemRefType(compute.operands[2].type).shape) * pes * 9
        assert source <= received < windows


WINDOW_CASES = {
    "5x5-stride-3-dilation-2": (lambda: torch.nn.Conv2d(8, 8, 5, stride=3, padding=2, dilation=2, groups=8), 1),
    "1x1-stride-2": (lambda: torch.nn.Conv2d(8, 8, 1, stride=2, groups=8), 1),
    "3x1-channel-multiplier-2": (lambda: torch.nn.Conv2d(8, 16, (3, 1), padding=(1, 0), groups=8), 1),
    "batch-2": (lambda: torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), 2),
    "avg-pool-without-padding-in-the-count": (
        lambda: torch.nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), 1),
    "overlapping-max-pool": (lambda: torch.nn.MaxPool2d(3, stride=1), 1),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(WINDOW_CASES))
def test_windows_read_in_place_match_pytorch(case, mode):
    """Windows of every shape a PE reads in place: strides past the kernel,
    dilations, a 1x1 window that only strides, a channel multiplier, a batch
    the unit-dim folding keeps, and poolings whose divisor counts padding or not."""
    build, batch = WINDOW_CASES[case]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(batch, 8, 17, 19)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)
    with torch.no_grad():
        torch.testing.assert_close(torch.as_tensor(program(x)), model(x))
