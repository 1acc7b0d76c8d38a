"""wafer-direct-conv along filters against PyTorch: a grouped convolution whose
groups' filters fill whole vectors (RegNet's 16) keeps a vector of filters per
output pixel. Strides, dilations, padding read through at every edge, row
blocks, column blocks and the narrower block after them, bias or none, one
or two vectors of filters, serial and parallel.
Strategies are checked for a named machine, so they hold on any host."""

import numpy as np
import pytest
import torch
from torch_mlir import ir
from torch_reference import compile_checked

from wafer.passes.cpu_target import PRESETS, CpuTarget
from wafer.passes.direct_conv_filters import FilterBlock, filter_block, filter_lanes, images_inside_blocks


def strategies(compiled) -> list[str]:
    return compiled.compile_report.strategies


@pytest.mark.parametrize("machine", ["avx512", "avx2"])
@pytest.mark.parametrize("batch,channels,groups,size,kernel,options", [
    (2, 32, 2, 112, 3, {"stride": 2, "padding": 1}),       # RegNet's first stage: blocks of 8 columns
    (1, 64, 4, 15, 3, {"stride": 2, "padding": 1}),        # an odd image: the last column reads padding
    (3, 48, 3, 11, 3, {"padding": 2, "dilation": 2}),
    (1, 32, 2, 21, 5, {"stride": 3, "padding": 2, "bias": False}),
    (2, 64, 2, 7, 3, {"padding": 1}),                      # 32 filters a group, whole rows in registers
    (1, 32, 2, 9, 1, {}),                                  # 1x1, whole rows of 9
    (1, 96, 6, 14, 3, {"stride": (2, 1), "padding": (0, 1)}),
    (2, 32, 2, 33, 3, {"padding": 1}),                     # a loop of column blocks inside the padding
    (1, 32, 8, 21, 3, {"stride": 2, "padding": 2, "dilation": 2}),  # 4 filters a group at a column stride
])
def test_grouped_convolutions_along_filters_match_pytorch(machine, batch, channels, groups, size, kernel,
                                                         options):
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(channels, channels, kernel, groups=groups, **options),
                               torch.nn.ReLU())
    x = torch.randn(batch, channels, size, size)
    for threads in (1, 2):
        compiled = compile_checked(conv, (x,), threads=threads, machine=machine)
        assert any(s.startswith("direct conv along filters") for s in strategies(compiled))


def test_the_padded_input_is_not_copied(tmp_path):
    """The padding is read through: after the pack stage no padded image is made."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=2)
    compile_checked(conv, (torch.randn(1, 32, 40, 40),), threads=1, machine="avx512", dump_ir=str(tmp_path))
    assert "tensor.pad" in (tmp_path / "02-simplify.mlir").read_text()
    assert "tensor.pad" not in (tmp_path / "03-pack.mlir").read_text()


def test_a_plain_convolution_runs_along_filters_when_picked():
    """With conv-algorithm=direct, a plain 1x1 convolution whose output rows do not
    fit the registers (64 filters) over a 28x8 image, which im2col takes by default,
    runs along its filters instead."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(64, 64, 1)
    x = torch.randn(2, 64, 28, 8)
    compiled = compile_checked(conv, (x,), threads=1, machine="avx512", conv_algorithm="direct")
    assert any(s.startswith("direct conv along filters: 32 filters x 1x8") for s in strategies(compiled))
    assert any(s.startswith("im2col") for s in strategies(compile_checked(conv, (x,), threads=1,
                                                                          machine="avx512")))


@pytest.mark.parametrize("machine", ["avx512", "avx2"])
@pytest.mark.parametrize("channels,filters,kernel,stride,padding,size,along_filters", [
    (64, 64, 3, 1, 1, 7, True),          # a ResNet stage-4 3x3
    (32, 32, (1, 7), 1, (0, 3), 17, True),  # Inception's factorized 7x7
    (32, 64, 2, 2, 0, 28, True),         # ConvNeXt's downsampling
    (64, 64, 1, 1, 0, 28, False),        # a 1x1 over 28x28 stays a packed matmul
    (3, 32, 7, 2, 3, 64, True),          # a 7x7 stem: 49 taps over 3 channels
    (3, 64, 11, 4, 2, 224, True),        # AlexNet's 11x11 stem, whose output outgrows L2
    (48, 64, 5, 1, 2, 25, True),         # Inception's 5x5
    (3, 32, 3, 2, 1, 224, False)])       # a stem whose 112x112 output outgrows L2
def test_a_plain_convolution_with_taps_runs_along_filters(machine, channels, filters, kernel, stride, padding,
                                                        size, along_filters):
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(channels, filters, kernel, stride, padding), torch.nn.ReLU())
    compiled = compile_checked(conv, (torch.randn(1, channels, size, size),), threads=1, machine=machine,
                               winograd=False)
    assert any(s.startswith("direct conv along filters") for s in strategies(compiled)) == along_filters


@pytest.mark.parametrize("machine", ["avx512", "avx2"])
@pytest.mark.parametrize("kernel,stride,padding,dilation,size", [
    ((7, 1), 1, (3, 0), 1, 5),     # every row block reads padding: no block between them
    ((4, 1), 1, "same", 1, 9),     # one row of padding above, two below
    (3, 1, 1, 1, 4),               # blocks of two rows, both reading padding
    (3, 2, 1, 1, 9),               # at a stride, the last block reads row 9 of 9
    (3, 1, 2, 2, 12)])             # a dilation: two blocks at each end
def test_tap_rows_in_the_padding_are_left_out(tmp_path, machine, kernel, stride, padding, dilation, size):
    """Each output row loops over the tap rows that read inside the image, where
    a tap row in the padding multiplied zero weights: no weights are selected
    at run time."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 32, kernel, stride, padding, dilation)
    compiled = compile_checked(conv, (torch.randn(2, 16, size, size),), threads=2, machine=machine,
                               conv_algorithm="direct", dump_ir=str(tmp_path))
    assert any(s.startswith("direct conv along filters") for s in strategies(compiled))
    packed = (tmp_path / "03-pack.mlir").read_text()
    assert "arith.maxsi" in packed and "arith.minsi" in packed and "arith.select" not in packed


@pytest.mark.parametrize("machine,filters,height,width,block", [
    ("avx512", 32, 56, 56, FilterBlock(32, 1, 8)),   # two vectors of filters: 7 blocks of 8 pixels
    ("avx512", 32, 7, 7, FilterBlock(32, 1, 7)),     # one row
    ("avx512", 32, 13, 13, FilterBlock(32, 1, 7)),   # two even blocks: 7 + 6
    ("avx512", 32, 17, 17, FilterBlock(32, 1, 6)),   # 6 + 6 + 5, not 8 + 8 + 1
    ("avx512", 16, 56, 56, FilterBlock(16, 1, 14)),  # one vector: 16 pixels, 4 blocks of a row
    ("avx512", 16, 4, 4, FilterBlock(16, 4, 4)),     # four whole rows
    ("avx512", 8, 14, 14, FilterBlock(8, 1, 14)),    # half a vector of filters
    # AVX2's 16 registers hold 12 accumulators: 16 would spill.
    ("avx2", 16, 5, 5, FilterBlock(16, 1, 5)),       # two vectors of filters, a whole row of 5
    ("avx2", 16, 14, 14, FilterBlock(16, 1, 5)),     # ... 5 + 5 + 4, not 7 + 7
    ("avx2", 8, 14, 14, FilterBlock(8, 1, 7)),       # one vector: 12 pixels at most, 7 + 7
    ("avx2", 24, 14, 14, FilterBlock(8, 1, 7)),
])
def test_the_block_is_the_matmul_register_tile_over_pixels_and_filters(machine, filters, height, width, block):
    assert _block(PRESETS[machine], filters, height, width) == block


@pytest.mark.parametrize("machine", ["avx512", "avx2", "sse", "neon"])
@pytest.mark.parametrize("filters", [8, 16, 24, 32, 64])
@pytest.mark.parametrize("width", [5, 7, 14, 56, 112])
def test_the_block_fits_the_vector_registers(machine, filters, width):
    """Accumulators, one row of the block's weight vectors and the broadcast pixel."""
    cpu = PRESETS[machine]
    block = _block(cpu, filters, width, width)
    vectors = -(-block.filters // cpu.lanes)
    assert block.rows * block.columns * vectors + vectors + 1 <= cpu.vector_registers


def _block(cpu: CpuTarget, filters: int, height: int, width: int) -> FilterBlock:
    return filter_block(filters, height, width, cpu)


@pytest.mark.parametrize("filters,lanes,width", [(16, 16, 16), (32, 16, 16), (8, 16, 8), (4, 16, 4), (12, 8, 4),
                                                 (6, 16, None), (2, 8, None)])
def test_filters_take_whole_half_or_quarter_vectors(filters, lanes, width):
    assert filter_lanes(filters, lanes) == width


@pytest.mark.parametrize("machine,filters,stride,along_filters", [
    ("avx512", 8, 1, True),    # half a vector: ResNeXt-50's second stage
    ("avx512", 4, 1, False),   # a quarter: its first stage stays with rows of outputs
    ("avx512", 4, 2, True),    # ... but not at a column stride
    ("avx2", 8, 1, True),
    ("avx2", 4, 1, True),      # half of AVX2's 8 lanes
])
def test_groups_of_few_filters_run_along_them_where_it_pays(machine, filters, stride, along_filters):
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3, stride, 1, groups=32 // filters), torch.nn.ReLU())
    compiled = compile_checked(conv, (torch.randn(2, 32, 20, 20),), threads=2, machine=machine)
    assert any(s.startswith("direct conv along filters") for s in strategies(compiled)) == along_filters


@pytest.mark.parametrize("machine", ["avx512", "avx2"])
@pytest.mark.parametrize("batch,groups,threads", [(3, 1, 1), (3, 1, 2), (2, 2, 2)])
def test_images_run_inside_filter_blocks_of_deep_weights(machine, batch, groups, threads):
    """Weights past half of L2 over small images: each filter block walks every
    image (at every thread count, grouped or not) and matches PyTorch."""
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(256, 256, 3, padding=1, groups=groups), torch.nn.ReLU())
    compiled = compile_checked(conv, (torch.randn(batch, 256, 5, 5),), threads=threads, machine=machine,
                               conv_algorithm="direct")
    assert any(s.startswith("direct conv along filters") and "images inside filter blocks" in s
               for s in strategies(compiled))


@pytest.mark.parametrize("channels,filters,groups,size,batch,inside", [
    (512, 512, 1, 7, 8, True),     # ResNet-50's last 3x3s: 9.4 MB of weights over 7x7 images
    (512, 512, 1, 7, 1, False),    # one image: nothing to walk
    (256, 256, 1, 14, 8, True),    # 8 blocks of 14x14 inputs (1.6 MB) read less than 2.4 MB of weights
    (128, 256, 1, 28, 8, False),   # 8 blocks of 28x28 inputs (3.2 MB) would read more than 1.2 MB
    (64, 128, 1, 56, 8, False),    # weights (0.3 MB) that stay in L2 from one image to the next
    (1024, 1024, 32, 7, 8, False),  # a group's weights are small
])
def test_images_go_inside_filter_blocks_where_that_reads_fewer_bytes(channels, filters, groups, size, batch,
                                                                       inside):
    cpu = PRESETS["avx512"]
    weights = np.zeros((groups, filters // groups, channels // groups, 3, 3) if groups > 1
                       else (filters, channels, 3, 3), np.float32)
    with ir.Context(), ir.Location.unknown():
        shape = [batch, groups, channels // groups, size, size] if groups > 1 else [batch, channels, size, size]
        image = ir.RankedTensorType.get(shape, ir.F32Type.get())
        block = filter_block(filters // groups, size, size, cpu)
        assert images_inside_blocks(weights, image, block, cpu) == inside
