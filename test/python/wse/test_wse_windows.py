"""Convolution and pooling on the WSE target: LeNet and a ResNet block against PyTorch."""

import functools

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
