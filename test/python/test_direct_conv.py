"""wafer-direct-conv against PyTorch: row blocks of one, two or four vectors and
the pieces after them, grouped convolutions, padding, dilation, row strides,
bias, serial and parallel rows.
Strategies are checked for a named machine (AVX-512's 32 registers, or
AVX2's 16), so they hold on any host."""

import pytest
import torch
from torch_reference import compile_checked


def strategies(compiled) -> list[str]:
    return compiled.compile_report.strategies


@pytest.mark.parametrize("batch,channels,size,filters,kernel,options", [
    (2, 1, 28, 6, 5, {"padding": 2}),                 # LeNet conv1: rows of 28 = 16 + 12
    (3, 6, 14, 16, 5, {}),                            # LeNet conv2: rows of 10, one vector each
    (1, 3, 18, 8, 3, {}),                             # rows of exactly 16
    (2, 4, 42, 5, 3, {}),                             # rows of 40 = 32 + 8
    (1, 2, 58, 4, 3, {}),                             # rows of 56 = 32 + 16 + 8
    (1, 2, 146, 2, 3, {"bias": False}),               # rows of 144 = 128 + 16
    (1, 2, 13, 7, 3, {"dilation": 2, "bias": False}),
    (2, 3, 17, 4, 3, {"stride": (2, 1), "padding": 1}),  # a row stride: rows stay unit-stride
])
def test_direct_convolution_matches_pytorch(batch, channels, size, filters, kernel, options):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(channels, filters, kernel, **options)
    x = torch.randn(batch, channels, size, size)
    compiled = compile_checked(conv, (x,), threads=1, machine="avx512")
    assert any(s.startswith(f"direct conv: {filters}x") for s in strategies(compiled))
    assert not any(s.startswith("im2col") for s in strategies(compiled))


def test_one_filter_over_a_one_column_image():
    """Its output rows are one element: the update is a scalar multiply-add, not a vector."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(7, 1, 5, padding=2)
    compile_checked(conv, (torch.randn(2, 7, 5, 1),), threads=1)


@pytest.mark.parametrize("batch,serial", [(1, True), (32, False)])
def test_direct_convolution_rows_go_parallel_when_they_pay(batch, serial):
    """LeNet's conv2 at 2 threads: 0.5 MFLOP per image stays one serial loop, 32 images
    are an OpenMP loop over (image, output row)."""
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU())
    x = torch.randn(batch, 6, 14, 14)
    compiled = compile_checked(conv, (x,), threads=2, machine="avx512", wake_instructions=0)
    assert ("direct conv: 16x10 output row blocks in registers, serial" in strategies(compiled)) == serial
    assert (compiled.compile_report.stages[-1].ops_after["omp.parallel"] > 0) == (not serial)


@pytest.mark.parametrize("filters,size,stride,strategy", [
    (64, 56, 1, "im2col"), (8, 20, 2, "direct conv along filters")])
def test_wide_or_column_strided_convolutions_leave_the_rows(filters, size, stride, strategy):
    """64 channels x rows of 56 need 64 x 3 vector registers, and their output
    outgrows half of L2; a column stride has no unit-stride input row to read,
    but 8 filters take half a vector along them, where a stride is an address."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(4, filters, 3, stride=stride, padding=1)
    x = torch.randn(1, 4, size, size)
    compiled = compile_checked(conv, (x,), threads=1, machine="avx512", winograd=False)
    assert not any(s.startswith("direct conv:") for s in strategies(compiled))
    assert any(s.startswith(strategy) for s in strategies(compiled))


@pytest.mark.parametrize("width,machine,blocks", [
    (56, "avx512", "3x32 and 16+8"), (48, "avx512", "3x32 and 16"), (64, "avx512", "3x64"),
    (112, "avx512", "3x64 and 32+16"), (14, "avx512", "3x14"), (56, "avx2", "3x32 and 16+8"),
])
def test_rows_split_into_blocks_of_one_two_or_four_vectors(width, machine, blocks):
    """A row of three vectors' accumulators is the block LLVM lowers to shuffles: 48 and 56 split.
    AVX2's 12 accumulators hold 3 filters of 4 vectors: 56 = 32 + 16 + 8."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 6, 3, padding=1, groups=2)  # 3 filters a group: too few for vectors of filters
    compiled = compile_checked(conv, (torch.randn(1, 6, width, width),), threads=1, machine=machine)
    assert any(s.startswith(f"direct conv: 2 groups, {blocks} output row blocks") for s in strategies(compiled))


def test_rows_beyond_the_registers_split_into_blocks():
    """LeNet's conv1 needs 6 x 3.5 accumulators of 8 lanes for a row: more than AVX2's 12 (of 16),
    so its rows go in blocks of two vectors and the pieces left."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 6, 5, padding=2)
    x = torch.randn(2, 1, 28, 28)
    assert any(s.startswith("direct conv: 6x16 and 12") for s in strategies(compile_checked(conv, (x,), machine="avx512")))
    assert any(s.startswith("direct conv: 6x16 and 8+4") for s in strategies(compile_checked(conv, (x,), machine="avx2")))


@pytest.mark.parametrize("conv,size,machine,strategy", [
    # 3 input channels: each block of 4 filters reads the rows of 32 again, from L1.
    (torch.nn.Conv2d(3, 16, 3, padding=1), 32, "avx2", "direct conv: 4 of 16 filters x 16 output row blocks"),
    (torch.nn.Conv2d(3, 24, 5, padding=2), 32, "avx2", "direct conv: 6 of 24 filters x 16 output row blocks"),
    (torch.nn.Conv2d(3, 64, 3, padding=1), 32, "avx512", "direct conv: 8 of 64 filters x 32 output row blocks"),
    # Rows of 10 end in part of a vector; 16 filters fill two: along the filters.
    (torch.nn.Conv2d(6, 16, 5), 14, "avx2", "direct conv along filters"),
    # A 1x1 reads its input once: the packed matmul's.
    (torch.nn.Conv2d(16, 32, 1), 28, "avx2", "im2col"),
])
def test_rows_of_few_channels_take_blocks_of_filters(conv, size, machine, strategy):
    """Filters that do not fit a whole row's accumulators, with a bias and a ReLU after."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(conv, torch.nn.ReLU()).eval()
    x = torch.randn(2, conv.in_channels, size, size)
    compiled = compile_checked(model, (x,), threads=2, machine=machine)
    assert any(s.startswith(strategy) for s in strategies(compiled)), strategies(compiled)


@pytest.mark.parametrize("conv,size,machine,strategy", [
    # Over a 14x14 or 7x7 output, filters in whole vectors: along them.
    (torch.nn.Conv2d(48, 64, 1), 14, "avx512", "direct conv along filters: 32"),
    (torch.nn.Conv2d(48, 64, 1, stride=2), 14, "avx512", "direct conv along filters: 32"),
    (torch.nn.Conv2d(40, 64, 1), 7, "avx512", "direct conv along filters: 32"),
    # 48 filters: blocks of one vector, rows of 14 pixels; at 7x7 the 49 pixels as one row.
    (torch.nn.Conv2d(48, 48, 1), 14, "avx512", "direct conv along filters: 16 filters x 1x14 pixels"),
    (torch.nn.Conv2d(40, 48, 1), 7, "avx512", "direct conv along filters: 16 filters x 1x13 and 1x10"),
    # A 28x28 output, filters in part of a vector (40), or AVX2's 16 registers: the packed matmul.
    (torch.nn.Conv2d(48, 64, 1), 28, "avx512", "im2col"),
    (torch.nn.Conv2d(48, 40, 1), 14, "avx512", "im2col"),
    (torch.nn.Conv2d(40, 48, 1), 7, "avx2", "im2col"),
])
def test_a_1x1_over_a_small_image_runs_along_its_filters(conv, size, machine, strategy):
    """DenseNet's, ResNet-50's, RegNet's and EfficientNet's 1x1 convolutions at
    14x14 and 7x7, with their bias and ReLU, in small."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(conv, torch.nn.ReLU()).eval()
    x = torch.randn(2, conv.in_channels, size, size)
    compiled = compile_checked(model, (x,), threads=2, machine=machine)
    assert any(s.startswith(strategy) for s in strategies(compiled)), strategies(compiled)


class _PointwiseResidual(torch.nn.Module):
    """RegNet's last 1x1 of a block: batch norm, the shortcut added, a ReLU."""

    def __init__(self, channels: int, padding: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 1, padding=padding)
        self.norm = torch.nn.BatchNorm2d(channels)

    def forward(self, x):
        y = self.norm(self.conv(x))
        return torch.relu(y + (x if y.shape == x.shape else y))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padding,strategy", [
    (0, "direct conv along filters: 16 filters x 1x13 and 1x10"),  # the 49 pixels as one row
    (1, "direct conv along filters: 16 filters x 1x9 pixels"),  # padded: the 9x9 output's rows
])
def test_a_1x1_with_its_epilogue_over_7x7_pixels_as_one_row(threads, padding, strategy):
    """The epilogue reads the one-row result reshaped back to the image."""
    torch.manual_seed(0)
    model = _PointwiseResidual(48, padding)
    with torch.no_grad():
        model.norm.running_mean.uniform_(-1, 1)
        model.norm.running_var.uniform_(0.5, 2)
    model.eval()
    x = torch.randn(3, 48, 7, 7)
    compiled = compile_checked(model, (x,), threads=threads, machine="avx512")
    assert any(s.startswith(strategy) for s in strategies(compiled)), strategies(compiled)


@pytest.mark.parametrize("conv,size,machine,strategy", [
    # 9 and 18 products per output, 784 of them per image: whole vectors for im2col's panels.
    (torch.nn.Conv2d(1, 32, 3, padding=1), 28, "avx512", "im2col"),
    (torch.nn.Conv2d(2, 32, 3, padding=1), 28, "avx2", "im2col"),
    # 26x26 outputs are no whole vectors; 36 products are enough for the register blocks.
    (torch.nn.Conv2d(1, 32, 3), 28, "avx512", "direct conv along filters"),
    (torch.nn.Conv2d(4, 32, 3, padding=1), 28, "avx512", "direct conv along filters"),
])
def test_a_shallow_convolution_over_whole_vectors_takes_im2col(conv, size, machine, strategy):
    """A small CNN's first layer, from one or two channels, runs as im2col's
    packed matmul where its outputs per image fill whole vectors."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(conv, torch.nn.ReLU()).eval()
    compiled = compile_checked(model, (torch.randn(3, conv.in_channels, size, size),), threads=1, machine=machine)
    assert any(s.startswith(strategy) for s in strategies(compiled)), strategies(compiled)


@pytest.mark.parametrize("channels,groups,size,stride,machine", [
    (128, 32, 56, 1, "avx512"),  # ResNeXt-50's first stage: 4 filters a group, rows of 56
    (48, 8, 28, 1, "avx512"),    # 6 filters a group
    (24, 4, 14, 1, "avx512"),    # 6 filters, rows of 14: one ragged vector each
    (48, 16, 30, 1, "avx2"),
    (24, 8, 56, 1, "avx2"),      # 3 filters a group
])
def test_grouped_convolutions_run_direct_per_group(channels, groups, size, stride, machine):
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(channels, channels, 3, stride, 1, groups=groups), torch.nn.ReLU())
    compiled = compile_checked(conv, (torch.randn(2, channels, size, size),), threads=2, machine=machine)
    assert any(s.startswith(f"direct conv: {groups} groups, {channels // groups}x") for s in strategies(compiled))
    assert not any(s.startswith("im2col") for s in strategies(compiled))


@pytest.mark.parametrize("channels,filters,kernel,groups,stride,padding,dilation", [
    (24, 24, 1, 4, 1, 0, 1),       # a grouped 1x1 (ShuffleNet's)
    (36, 36, 3, 6, 1, 2, 2),       # dilation 2
    (16, 24, 5, 4, 1, 2, 1),       # 5x5, more filters than channels a group
    (18, 18, 3, 3, (2, 1), 1, 1),  # a row stride
])
def test_grouped_windows_strides_and_dilations_match_pytorch(channels, filters, kernel, groups, stride, padding,
                                                             dilation):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(channels, filters, kernel, stride, padding, dilation, groups=groups)
    compiled = compile_checked(conv, (torch.randn(2, channels, 17, 20),), threads=2, machine="avx512")
    assert any(s.startswith(f"direct conv: {groups} groups") for s in strategies(compiled))


@pytest.mark.parametrize("kernel,stride,padding,size,phases", [
    (3, 2, 1, 28, 2),   # ResNeXt's and RegNet's downsampling 3x3s
    (3, 2, 1, 27, 2),   # odd columns: phase 1 is one column shorter
    (5, 3, 2, 20, 3),   # three phases of two, two and one taps
    (1, 2, 0, 16, 1),   # a strided 1x1: only phase 0 has a tap
])
def test_column_strided_grouped_convolutions_run_as_column_phases(kernel, stride, padding, size, phases):
    """Each column phase is copied once and convolved at column stride 1, adding to the last."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(24, 24, kernel, stride, padding, groups=8)  # 3 filters a group
    compiled = compile_checked(conv, (torch.randn(2, 24, size, size + 1),), threads=2, machine="avx512")
    found = [s for s in strategies(compiled) if s.startswith("direct conv: 8 groups")]
    assert [s.split("column phase ")[1].split(",")[0] for s in found] == [f"{p} of {stride}" for p in range(phases)]
    assert not any(s.startswith("im2col") for s in strategies(compiled))


def test_dilated_column_strided_grouped_convolutions_stay_with_im2col():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(48, 48, 3, 2, 2, dilation=2, groups=16)  # 3 filters a group
    compiled = compile_checked(conv, (torch.randn(1, 48, 28, 28),), threads=1)
    assert any(s.startswith("im2col conv_2d_ngchw_gfchw") for s in strategies(compiled))


def test_conv_algorithm_option_sends_grouped_convolutions_to_im2col():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(32, 32, 3, 1, 1, groups=8)
    compiled = compile_checked(conv, (torch.randn(1, 32, 16, 16),), threads=1, conv_algorithm="im2col")
    assert any(s.startswith("im2col conv_2d_ngchw_gfchw") for s in strategies(compiled))
