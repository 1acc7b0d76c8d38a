"""Matrix-vector products on the wafer (WaferLLM's MeshGEMV layout): the matrix
split over PE rows (its output dim) and columns (k), partial sums combined
along each row, the bias add and activation in the same region; and one LLM
decode step through a GPT-2-style decoder with its KV cache as inputs."""

import pytest
import torch
from torch import nn

import wafer
from wafer.examples.gpt_decode import GptDecoder, decode_inputs
from wafer.passes.wse_partition import is_init
from wafer.wse_target.machine import SMALL

from wse_checks import ops_in, products, regions

MODES = ("pipelined", "whole-wafer")


@pytest.mark.parametrize("mode", MODES)
def test_a_batch_1_linear_layer_sums_along_pe_rows_with_its_epilogue(mode):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 96), nn.ReLU())
    x = torch.randn(1, 256)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)
    (region,) = regions(program, "rowwise")
    assert not products(program)
    names = [op.name for op in ops_in(region)]
    assert "wse.reduce" in names and "wse.steps" not in names  # combined along rows, not stepped
    generics = [op for op in ops_in(region) if op.name == "linalg.generic" and not is_init(op)]
    assert len(generics) == 2  # the product, then the bias add and ReLU
    # k over columns, outputs over rows. Pipelined too: placement costs each PE's
    # instruction stream, so a strip one PE wide (a 256-long row per output,
    # 96 outputs over the rows) is no longer its choice.
    (row,) = program.report.ops
    assert row.region[2] > 1 and row.region[3] > 1


@pytest.mark.parametrize("mode", MODES)
def test_a_matrix_vector_product_whose_init_held_the_bias_sums_along_pe_rows(mode):
    """A 1x1 convolution of a 1x1 plane (squeeze-excite's) imports with its sums
    starting from its bias, which partial sums on several PEs would each add:
    it was stepped (SUMMA or Cannon). wse-bias-after-sums starts them from zero
    and adds the bias after, so k splits over a row as a batch-1 linear's does."""
    torch.manual_seed(0)
    model = nn.Conv2d(32, 8, 1)
    x = torch.randn(1, 32, 1, 1)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)
    assert not products(program)
    (region,) = regions(program, "rowwise")
    assert "wse.reduce" in [op.name for op in ops_in(region)]


@pytest.mark.parametrize("mode", MODES)
def test_a_decode_step_matches_pytorch_with_the_cache_as_input(mode):
    torch.manual_seed(0)
    model = GptDecoder(layers=1, width=32, heads=2).eval()  # two layers take 33 strips: 'small' has 32
    inputs = decode_inputs(layers=1, width=32, heads=2, context=7)
    program = wafer.compile(model, inputs, target="wse", machine="small", mode=mode)
    got = program(*inputs)
    with torch.no_grad():
        expected = model(*inputs)
    assert [tuple(t.shape) for t in got] == [(1, 1, 32), (1, 1, 2, 8, 16), (1, 1, 2, 8, 16)]
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)
    # The projections and the MLP are matrix-vector products: none steps across the fabric.
    gemvs = [r for r in regions(program, "rowwise") if any(op.name == "wse.reduce" for op in ops_in(r))]
    assert len(gemvs) >= 4  # qkv, out, up and down
    assert 0 < program.report.sram_high_water_max <= SMALL.sram_bytes


def test_pipelined_decode_costs_about_what_whole_wafer_does():
    """On wse2, a decoder layer's strips, costed by their instruction streams,
    split each projection's k over columns; by FMAs alone, strips one or two
    PEs wide with rows of a few outputs each took 27x the whole-wafer latency."""
    torch.manual_seed(0)
    model = GptDecoder(layers=1).eval()
    inputs = decode_inputs(layers=1)
    latency = {mode: wafer.compile(model, inputs, target="wse", machine="wse2", mode=mode).estimate().cycles
               for mode in MODES}
    assert latency["pipelined"] < 4 * latency["whole-wafer"]
