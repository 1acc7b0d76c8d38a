"""Scaled-down zoo architectures on the small preset: the op kinds of MobileNet-v2
and ResNet-18 (depthwise and strided convolutions, batch norm, ReLU6, residual
adds, global average pooling, a classifier) match PyTorch in both modes, and
each op lands in the region kind that suits it."""

import functools

import pytest
import torch
from torch import nn

from torch_mlir import ir

import wafer
from wafer.passes.linalg_queries import PARALLEL, REDUCTION, iterator_types
from wafer.wse_target.machine import SMALL

from wse_checks import compile_and_check, ops_in, products, regions
from zoo_blocks import BUILDERS, build

MODES = ("pipelined", "whole-wafer")


@functools.cache
def compiled(name: str, mode: str):
    model, x = build(name)
    return model, x, wafer.compile(model, (x,), target="wse", machine="small", mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_scaled_down_zoo_model_matches_pytorch(name, mode):
    model, x, program = compiled(name, mode)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(torch.as_tensor(program(x)), expected, rtol=1e-4, atol=1e-5)
    assert 0 < program.report.sram_high_water_max <= SMALL.sram_bytes


@pytest.mark.parametrize("mode", MODES)
def test_only_dense_convolutions_are_contractions(mode):
    """Dense convolutions are contractions (stepped, or rowwise where that
    models faster). A depthwise convolution has no
    output column of its filter's own to spread: it reduces its 3x3 windows on
    each PE, in a rowwise region. So does the classifier, a matrix-vector
    product at batch 1, with its sums along the PE rows."""
    model, _, program = compiled("mobilenet", mode)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    dense = sum(conv.groups == 1 for conv in convs)
    assert len(products(program)) == dense
    windows = [region for region in regions(program, "rowwise") if not any(region == p for p in products(program))
               and any(op.name == "linalg.generic" and len(iterator_types(op)) == 5 for op in ops_in(region))]
    assert len(windows) == sum(conv.groups > 1 for conv in convs)


@pytest.mark.parametrize("mode", MODES)
def test_a_linear_layer_after_a_flatten_spreads_its_whole_k_over_the_columns(mode):
    """Fusion writes the first linear layer's k as the 16 channels, 4 rows and
    4 columns it flattens; the layer sums over one loop of 256, as the second
    layer does over its 64, dealt over more PE columns than the innermost 4."""
    _, _, program = compiled("alexnet", mode)
    linears = [region for region in regions(program, "rowwise") if any(
        op.name == "linalg.generic" and len(op.operands) == 3 and iterator_types(op) == [PARALLEL, REDUCTION]
        for op in ops_in(region))]
    assert len(linears) == 2
    assert ir.IntegerAttr(linears[0].attributes["width"]).value > 4


@pytest.mark.parametrize("mode", MODES)
def test_the_rows_of_a_window_partition_are_one_loop_of_its_projections(mode):
    """Fusion folds Swin's window partition into the q, k, v projection (and
    its reverse into the output projection): they read their 64 token rows as
    (window row, row, window column, column), 4 at most in one loop. Each
    projection's rows become one loop, split over more than 4 PE rows."""
    _, _, program = compiled("swin", mode)
    projections = products(program)
    assert all(ir.IntegerAttr(region.attributes["height"]).value > 4 for region in (projections[0], projections[-1]))


class PixelMlp(nn.Module):
    """ConvNeXt's and Swin's MLP: two linear layers over a channels-last image's
    pixels, GELU between them, and the residual add."""

    def __init__(self):
        super().__init__()
        self.expand, self.project = nn.Linear(16, 64), nn.Linear(64, 16)

    def forward(self, x):
        return x + self.project(nn.functional.gelu(self.expand(x)))


@pytest.mark.parametrize("mode", MODES)
def test_a_linear_layer_over_an_images_pixels_runs_as_over_its_flattened_rows(mode):
    """The layers' rows are an 8x8 image's 64 pixels, two loops every operand
    reads side by side: merged into one loop with their epilogues' (bias, GELU,
    the residual add), the model is placed and costed exactly as on the 64
    pixels flattened, where one loop of 8 would have been split over the PEs."""
    torch.manual_seed(0)
    model = PixelMlp().eval()
    image = torch.randn(1, 8, 8, 16)
    on_image = compile_and_check(model, image, mode=mode)
    flat = wafer.compile(model, (image.reshape(1, 64, 16),), target="wse", machine="small", mode=mode)
    image_report, flat_report = on_image.estimate(), flat.estimate()
    assert [(op.kind, op.region) for op in image_report.ops] == [(op.kind, op.region) for op in flat_report.ops]
    assert image_report.cycles == flat_report.cycles


def test_a_residual_summed_over_the_plane_is_a_reduction_not_a_product():
    """bn2 + shortcut, ReLU and the global average fuse into one sum over the
    plane that reads two tensors along its reduced loops; it is not a matmul."""
    _, _, program = compiled("resnet", "whole-wafer")
    assert len(products(program)) == 3  # conv1, conv2, shortcut; fc is a matrix-vector product


@pytest.mark.parametrize("mode", MODES)
def test_an_activation_between_matmuls_runs_once_per_element(mode):
    """Fused into the down-projection's operand, GELU's tanh would run once per
    multiply-add; it runs in the up-projection's epilogue, or on its own."""
    _, _, program = compiled("mlp", mode)
    summas = products(program)
    assert len(summas) == 2
    for region in summas:
        reductions = [op for op in ops_in(region) if op.name == "linalg.generic" and REDUCTION in iterator_types(op)]
        assert reductions and not any(inner.name == "math.tanh" for op in reductions for inner in ops_in(op))


def test_one_tokens_layer_norm_scale_is_computed_once_for_the_next_projection():
    """Decoding one token, the layer norm's 1/sqrt(var + eps) depends on no loop
    of the projection it folds into: it is computed once for all of it, and
    the compile report says so (it said "once per  of")."""
    torch.manual_seed(0)
    model, x = nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 96)).eval(), torch.randn(1, 1, 64)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer")
    with torch.no_grad():
        torch.testing.assert_close(torch.as_tensor(program(x)), model(x), rtol=1e-4, atol=1e-5)
    strategies = program.compile_report.strategies
    assert any(s.endswith("math.rsqrt once for all of a 96x64 generic") for s in strategies), strategies
    assert not any("once per  of" in s for s in strategies), strategies


def test_the_decoder_block_runs_its_lookups_on_the_wafer_and_its_cumsum_on_the_host():
    _, _, program = compiled("gpt", "pipelined")
    kinds = [op.kind for op in program.report.ops]
    # The positions' cumsum; the token and position lookups (positions computed by the cumsum).
    assert kinds.count("host") == 1 and kinds.count("lookup") == 2
    assert len(products(program)) >= 6  # q·k, p·v, and the qkv, out, up and down projections


def test_an_elementwise_op_writes_over_the_buffer_its_input_came_in():
    """Placement counts an elementwise result written over its input's buffer;
    the distribution must then lay it out so, or the PEs overflow after
    placement said they would not."""
    x = torch.randn(64, 64)
    program = compile_and_check(lambda t: t * 2 + 1, x, mode="whole-wafer")
    (op,) = program.report.ops
    _, _, width, height = op.region
    assert program.report.sram_high_water_max * width * height == x.numel() * 4
