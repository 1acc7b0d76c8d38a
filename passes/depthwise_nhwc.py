"""wafer-depthwise-nhwc: NHWC depthwise convolutions as register tiles of channel vectors.

In NHWC a depthwise tap is one FMA of a run of channels: the input pixel's
channel vector times the tap's filter vector. Each output row is an
`scf.forall` iteration (threads); along it, tiles of a few pixels by one or
two channel vectors accumulate in registers over the taps. No channel is
padded, and the zero padding is read through, not copied: a row skips the
filter rows that fall in it (a loop over the taps whose bounds depend on the
row), and the tiles at a row's ends, peeled, skip the filter columns that do
(wafer-depthwise-conv does the same for NCHW planes, whose rows of 14 or 7
pixels are ragged vectors).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, scf, tensor, vector

from .cpu_target import CpuTarget, TargetedPass
from .depthwise_conv import Window, unpadded
from .kernel_defaults import PARALLEL_ELEMENTS
from .linalg_builders import (
    extract_slice,
    index_constant,
    int_list,
    is_static_f32,
    parallel_insert,
    read_vector,
    scaled,
    write_vector,
)
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .serial_foralls import SERIAL

_CONV = "linalg.depthwise_conv_2d_nhwc_hwc"


def register_tile(channels: int, width: int, cpu: CpuTarget) -> tuple[int, int]:
    """(pixels, channels) of one register tile: two vectors of channels where they
    divide C, else one, else the largest power of two that does (a vector<48>
    ran 6x slower than three of vector<16>, a vector<24> 8x slower than three of
    vector<8>), and as many pixels
    of the row, dividing it, as a quarter of the vector registers hold as
    accumulators (as wafer-depthwise-conv's blocks: 144 channels at 56x56, 8
    pixels x 16 channels ran 15% faster than 14 x 16; bench/channels_last.py --layers)."""
    lanes = cpu.lanes
    c = next(v for v in (2 * lanes, lanes, *(1 << p for p in range(lanes.bit_length() - 2, -1, -1)))
             if channels % v == 0)
    vectors = math.ceil(c / lanes)
    return min(width, max(1, cpu.vector_registers // 4 // vectors)), c


@dataclass(frozen=True)
class DepthwiseNhwc(TargetedPass):
    """Compute each static f32 NHWC depthwise convolution as rows (an `scf.forall`,
    for threads) of pixel x channel-vector register tiles, reading its zero
    padding through (see the module docstring).

    Options:
      machine: the CPU whose vector width and registers size the tiles.
      parallel-elements: convolutions with a smaller output run their rows serially.
    """

    name = "wafer-depthwise-nhwc"
    summary = "Compute NHWC depthwise convolutions: rows in parallel, pixel x channel-vector tiles"

    parallel_elements: int = PARALLEL_ELEMENTS

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == _CONV and is_static_f32(op.opview)):
            _rewrite(op.opview, self.cpu, self.parallel_elements)


def _rewrite(conv: ir.OpView, cpu: CpuTarget, parallel_elements: int) -> None:
    x, w, init = conv.operands
    n, oh, ow, c = init.type.shape
    source, pad = unpadded(x, 0.0, spatial=(1, 2))
    window = Window(source.type.shape[1], source.type.shape[2], pad, tuple(int_list(conv.attributes["strides"])),
                    tuple(int_list(conv.attributes["dilations"])), tuple(w.type.shape[:2]))
    pixels, channels = register_tile(c, ow, cpu)
    serial = n * oh * ow * c < parallel_elements
    record_strategy(conv, f"depthwise nhwc {window.kernel[0]}x{window.kernel[1]}/{window.stride[1]}: "
                    f"tiles of {pixels} pixels x {channels} channels" + (", serial" if serial else ""))
    f32 = init.type.element_type
    with ir.InsertionPoint(conv), conv.location:
        start = _start(init)
        dest = tensor.EmptyOp([n, oh, ow, c], f32).result if start else init
        rows = scf.ForallOp([0, 0], [n, oh], [1, 1], [dest])
        if serial:
            rows.operation.attributes[SERIAL] = ir.UnitAttr.get()
        with ir.InsertionPoint(rows.body):
            image, row = rows.induction_variables
            offsets, sizes = [image, row, index_constant(0), index_constant(0)], [1, 1, ow, c]
            tile = extract_slice(rows.inner_iter_args[0], offsets, sizes)
            tile = _Row(source, w, image, row, window, start, pixels, channels).compute(tile, ow, c)
            with ir.InsertionPoint(rows.terminator().block):
                parallel_insert(tile, rows.inner_iter_args[0], offsets, sizes)
    conv.results[0].replace_all_uses_with(rows.results[0])
    conv.operation.erase()


class _Row:
    """One output row's register tiles: the filter rows it reads (a loop whose
    bounds skip the padding rows) and the pixels of each tile."""

    def __init__(self, x: ir.Value, w: ir.Value, image: ir.Value, row: ir.Value, window: Window,
                 start: Callable[[ir.Value, int], ir.Value] | None, pixels: int, channels: int):
        self.x, self.w, self.image, self.window = x, w, image, window
        self.start, self.pixels, self.channels = start, pixels, channels
        self.zero = arith.ConstantOp(x.type.element_type, 0.0).result
        self.top = scaled(row, window.stride[0], -window.pad[0])  # the input row of filter row 0
        dilation = window.dilation[0]
        # Filter rows [first, last) read the image: 0 <= top + i * dilation < height.
        first = _ceil_div(arith.subi(index_constant(0), self.top), dilation)
        last = _ceil_div(arith.subi(index_constant(window.height), self.top), dilation)
        self.first = arith.maxsi(first, index_constant(0))
        self.last = arith.minsi(last, index_constant(window.kernel[0]))

    def compute(self, tile: ir.Value, width: int, channels: int) -> ir.Value:
        """`tile` (the row) computed: the pixel tiles at the ends, which read
        padding or are narrower, peeled, the others in a loop; per pixel tile, a
        loop over the channel blocks, so that the few input pixels a tile reads
        stay in cache across its channels (channel blocks outside ran
        MobileNet-v2's 56x56 rows of 144 channels from L2)."""
        starts = range(0, width, self.pixels)
        inner = [s for s in starts if s + self.pixels <= width and all(
            len(self.window.column_taps(s + p)) == self.window.kernel[1] for p in range(self.pixels))]
        looped = inner if len(inner) > 1 and inner == list(range(inner[0], inner[-1] + 1, self.pixels)) else []
        for s in [s for s in starts if s not in looped and (not looped or s < looped[0])]:
            tile = self._channel_blocks(s, min(self.pixels, width - s), tile, channels)
        if looped:
            loop = scf.ForOp(index_constant(looped[0]), index_constant(looped[-1] + self.pixels),
                             index_constant(self.pixels), [tile])
            with ir.InsertionPoint(loop.body):
                scf.YieldOp([self._channel_blocks(loop.induction_variable, self.pixels, loop.inner_iter_args[0],
                                                  channels)])
            tile = loop.results[0]
            for s in [s for s in starts if s > looped[-1]]:
                tile = self._channel_blocks(s, min(self.pixels, width - s), tile, channels)
        return tile

    def _channel_blocks(self, first: int | ir.Value, pixels: int, tile: ir.Value, channels: int) -> ir.Value:
        """The `pixels` from `first` of every block of channels, a loop over the blocks."""
        blocks = scf.ForOp(index_constant(0), index_constant(channels), index_constant(self.channels), [tile])
        with ir.InsertionPoint(blocks.body):
            scf.YieldOp([self._tile(blocks.induction_variable, first, pixels, blocks.inner_iter_args[0])])
        return blocks.results[0]

    def _tile(self, channel: ir.Value, first: int | ir.Value, pixels: int, tile: ir.Value) -> ir.Value:
        """Output pixels [first, first + pixels) of `channels` channels: accumulated over
        the filter rows in a loop, the filter columns unrolled; a static `first`
        (a peeled tile) skips the columns that fall in the padding."""
        window, lanes = self.window, self.channels
        zero = index_constant(0)
        columns = [scaled(first, 1, p) if isinstance(first, ir.Value) else index_constant(first + p)
                   for p in range(pixels)]
        at = [[zero, zero, col, channel] for col in columns]
        accs = ([self.start(channel, lanes)] * pixels if self.start is not None
                else [read_vector(tile, indices, lanes, self.zero, True) for indices in at])
        taps = [list(range(window.kernel[1])) if isinstance(first, ir.Value) else window.column_taps(first + p)
                for p in range(pixels)]
        loop = scf.ForOp(self.first, self.last, index_constant(1), accs)
        with ir.InsertionPoint(loop.body):
            i = loop.induction_variable
            in_row = arith.addi(self.top, arith.muli(i, index_constant(window.dilation[0])))
            accs = list(loop.inner_iter_args)
            for j in range(window.kernel[1]):
                weights = read_vector(self.w, [i, index_constant(j), channel], lanes, self.zero, True)
                for p, col in enumerate(columns):
                    if j not in taps[p]:
                        continue
                    in_col = scaled(col, window.stride[1], j * window.dilation[1] - window.pad[1])
                    value = read_vector(self.x, [self.image, in_row, in_col, channel], lanes, self.zero, True)
                    accs[p] = vector.FMAOp(value, weights, accs[p]).result
            scf.YieldOp(accs)
        for indices, acc in zip(at, loop.results):
            tile = write_vector(acc, tile, indices, True)
        return tile


def _start(init: ir.Value) -> Callable[[ir.Value, int], ir.Value] | None:
    """(channel, lanes) -> the vector the outputs of those channels start from, when
    `init` is a fill or a per-channel broadcast (then it need not be written); else None."""
    op = init.owner
    if not isinstance(op, ir.OpView):
        return None
    if op.name == "linalg.fill":
        value = op.operands[0]
        return lambda channel, lanes: vector.BroadcastOp(ir.VectorType.get([lanes], value.type), value).result
    if (op.name == "linalg.broadcast" and op.operands[0].type.rank == 1
            and list(ir.DenseI64ArrayAttr(op.attributes["dimensions"])) == [0, 1, 2]):
        bias = op.operands[0]
        zero = arith.ConstantOp(bias.type.element_type, 0.0).result
        return lambda channel, lanes: read_vector(bias, [channel], lanes, zero, True)
    return None


def _ceil_div(value: ir.Value, divisor: int) -> ir.Value:
    return value if divisor == 1 else arith.ceildivsi(value, index_constant(divisor))
