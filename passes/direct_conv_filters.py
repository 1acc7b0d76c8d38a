"""A direct convolution whose vectors run along the filters, for wafer-direct-conv.

Not a pass: wafer-direct-conv rewrites a convolution with `rewrite` where its
filters fill vectors (see `DirectConv._fits_filters`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, scf, tensor, vector

from .cpu_target import CpuTarget, element_bytes
from .depthwise_conv import channel_init, unpadded
from .linalg_builders import extract_slice, index_constant, int_list, parallel_insert, scaled, splat
from .resource_blobs import aligned_copy, resource_attr
from .serial_foralls import SERIAL

_GROUPED = "linalg.conv_2d_ngchw_gfchw"


@dataclass(frozen=True)
class FilterBlock:
    """The accumulators of one step: `filters` filters (one or more vectors, or
    part of one) for each of `rows` x `columns` output pixels. The columns past
    the last whole block of a row form one narrower block."""

    filters: int
    rows: int
    columns: int

    def describe(self, width: int) -> str:
        rest = width % self.columns
        return f"{self.filters} filters x {self.rows}x{self.columns}" + (f" and {self.rows}x{rest}" if rest else "")


def filter_lanes(filters: int, lanes: int) -> int | None:
    """The vector a pixel's filters take: whole vectors of `lanes` where they fill
    them, else the widest of 8 or 4 lanes that they fill; None for fewer."""
    return next((width for width in (lanes, 8, 4) if width <= lanes and filters % width == 0), None)


def filter_block(filters: int, height: int, width: int, cpu: CpuTarget) -> FilterBlock:
    """`cpu`'s packed matmul register block (see `CpuTarget.register_tile`)
    turned around: its columns as filters, one vector of them where they do not
    fill two, for as many pixels as make twice `CpuTarget.fma_chains`
    accumulators or as many as the registers hold
    (`CpuTarget.direct_conv_accumulators`), whichever is fewer: whole output
    rows where they fit, else an even split of one row's columns.

    Twice the chains that hide the FMAs' latency also hide the loads: with
    only `chains`, rows of 5, 6 or 7 pixels split into 3 + 2, 3 + 3 and 4 + 3
    ran slower than whole rows. Past the registers the block spills: 16
    accumulators in AVX2's 16 registers ran ResNet-18 and ResNet-50 slower
    on a Zen 3 than 12 (bench/conv_algorithms.py shows it layer by layer)."""
    tile_filters = cpu.register_tile[1]
    block_filters = tile_filters if filters % tile_filters == 0 else filter_lanes(filters, cpu.lanes)
    pixels = min(2 * cpu.fma_chains, cpu.direct_conv_accumulators) // _pixel_vectors(block_filters, cpu.lanes)
    if width <= pixels:
        rows = max(r for r in range(1, height + 1) if height % r == 0 and r * width <= pixels)
        return FilterBlock(block_filters, rows, width)
    blocks = -(-width // pixels)  # as few column blocks as fit, as even as they can be
    return FilterBlock(block_filters, 1, -(-width // blocks))


def latency_bound_fmas(block: FilterBlock, height: int, width: int, cpu: CpuTarget) -> int:
    """The FMA issue slots, per input channel and tap, that one image's output
    of `height` x `width` takes in `block`s: a block with fewer accumulators
    than `CpuTarget.fma_chains` waits on the FMA latency, as if it had that many."""
    vectors = _pixel_vectors(block.filters, cpu.lanes)
    whole, rest = divmod(width, block.columns)
    row = whole * max(block.rows * block.columns * vectors, cpu.fma_chains)
    if rest:
        row += max(block.rows * rest * vectors, cpu.fma_chains)
    return height // block.rows * row


def images_inside_blocks(weights: np.ndarray, image: ir.RankedTensorType, block: FilterBlock,
                         cpu: CpuTarget) -> bool:
    """Whether each filter block walks all images (images inside blocks), not
    each image all filter blocks, for a convolution of `weights` ([f, c, kh, kw]
    or [g, f, c, kh, kw]) over input `image`.

    Blocks inside images read a group's weights once per image: from L3 again
    each time where they outgrow half of L2 (ResNet-50's last 3x3 convolutions,
    512 to 512 channels, 9.4 MB). Images inside blocks read each block's
    weights once and each image's input once per block instead: fewer bytes
    where the image's input, times the blocks, is less than the weights, as
    on a small image (fewer pixels than a block's filters times its taps).
    """
    groups = weights.shape[0] if weights.ndim == 5 else 1
    group_weights = weights.nbytes // groups
    group_image = math.prod(image.shape[1:]) // groups * element_bytes(image.element_type)
    blocks = weights.shape[-4] // block.filters
    return image.shape[0] > 1 and group_weights > cpu.l2_bytes // 2 and blocks * group_image < group_weights


def _pixel_vectors(filters: int, lanes: int) -> int:
    """Vector registers a pixel's `filters` take: one for part of a vector."""
    return max(filters // lanes, 1)


def filter_table(weights: np.ndarray, block: int) -> np.ndarray:
    """[g, f, c, kh, kw] (or [f, c, kh, kw]) -> [g, f / block, c, kh, kw, block]: each
    tap's filters of a block in one run, and each block's taps in one span (not
    a run per tap strided by all the filters, a page apart for 512 of them)."""
    grouped = weights if weights.ndim == 5 else weights[None]
    g, f, c, kh, kw = grouped.shape
    moved = grouped.reshape(g, f // block, block, c, kh, kw).transpose(0, 1, 3, 4, 5, 2)
    return aligned_copy(moved)  # so that the JIT can bind it as it is


def rewrite(conv: ir.OpView, weights: np.ndarray, block: FilterBlock, parallel: bool, cpu: CpuTarget,
            images_inside: bool) -> None:
    """Replace `conv` by an scf.forall over (image, group, filter block, row
    block), the image inside the filter block where `images_inside` (see
    `images_inside_blocks`), whose body runs the block's columns, each a loop
    over input channels that adds each tap's filters times one input value per
    pixel.

    A zero padding of the input's rows and columns is read through, not
    copied: the column blocks at a row's ends leave out the taps that read
    padding, and each output row loops over only the tap rows that read inside
    the input. A bias the output starts from (a fill or a per-channel
    broadcast) starts the accumulators. `cpu`'s registers decide how the taps
    unroll (see `_Taps.add_to`)."""
    grouped = conv.name == _GROUPED
    init = conv.operands[2]
    n, oh, ow = init.type.shape[0], *init.type.shape[-2:]
    table = filter_table(weights, block.filters)
    groups, blocks, channels, kh, kw, _ = table.shape
    f32 = init.type.element_type
    with ir.InsertionPoint(conv), conv.location:
        x, pads = _unpadded(conv.operands[0])
        start = channel_init(_ungrouped(init))
        table_type = ir.RankedTensorType.get(list(table.shape), f32)
        filters = arith.ConstantOp(table_type, resource_attr(table, "filters_by_tap", table_type, owned=True)).result
        dest = init if start is None else tensor.EmptyOp(list(init.type.shape), f32).result
        trips = {"image": n, "group": groups, "block": blocks, "row": oh // block.rows}
        order = ["group", "block", "image", "row"] if images_inside else ["image", "group", "block", "row"]
        forall = scf.ForallOp([0] * 4, [trips[loop] for loop in order], [1] * 4, [dest])
        if not parallel:
            forall.operation.attributes[SERIAL] = ir.UnitAttr.get()
        with ir.InsertionPoint(forall.body):
            index = dict(zip(order, forall.induction_variables))
            image, group, filter_block_, row_block = (index[loop] for loop in ("image", "group", "block", "row"))
            first_filter = scaled(filter_block_, block.filters)
            window = _Window(grouped, image, group, row_block, oh, x.type.shape[-2], pads,
                             int_list(conv.attributes["strides"]), int_list(conv.attributes["dilations"]), (kh, kw))
            sizes = ([1, 1] if grouped else [1]) + [block.filters, block.rows, ow]
            offsets = [image] + ([group] if grouped else []) + [first_filter, scaled(row_block, block.rows),
                                                               index_constant(0)]
            tile = extract_slice(forall.inner_iter_args[0], offsets, sizes)
            group_base = scaled(group, weights.shape[-4]) if grouped else index_constant(0)
            first = _first_sums(start, group_base, first_filter, block.filters, f32)
            # Each row's tap-row bounds, once per row block: every column block and channel reuses them.
            tap_rows = [window.tap_rows(block.rows, row) for row in range(block.rows)]
            kernel = _Kernel(x, filters, filter_block_, window, tap_rows, block, channels, first, start is None, cpu)
            tile = kernel.row(tile, ow)
            with ir.InsertionPoint(forall.terminator().block):
                parallel_insert(tile, forall.inner_iter_args[0], offsets, sizes)
    conv.results[0].replace_all_uses_with(forall.results[0])
    conv.erase()


def _unpadded(x: ir.Value) -> tuple[ir.Value, tuple[int, int]]:
    """`unpadded` for a convolution's input, whose channels a grouped convolution
    splits into groups after the padding: the unpadded input is split the same way."""
    rank = x.type.rank
    owner = x.owner
    if not (isinstance(owner, ir.OpView) and owner.name == "tensor.expand_shape"):
        return unpadded(x, 0.0, (rank - 2, rank - 1))
    source, pads = unpadded(owner.operands[0], 0.0, (rank - 3, rank - 2))
    if source == owner.operands[0]:
        return x, pads
    shape = list(x.type.shape[:-2]) + list(source.type.shape[-2:])
    grouped = tensor.ExpandShapeOp(ir.RankedTensorType.get(shape, x.type.element_type), source,
                                   owner.attributes["reassociation"], [], shape).result
    return grouped, pads


def _ungrouped(init: ir.Value) -> ir.Value:
    """A grouped convolution's init before its channels were split into groups."""
    owner = init.owner
    if init.type.rank == 5 and isinstance(owner, ir.OpView) and owner.name == "tensor.expand_shape":
        return owner.operands[0]
    return init


def _first_sums(start: ir.Value | None, group_base: ir.Value, first_filter: ir.Value, filters: int,
                f32: ir.Type) -> ir.Value:
    """The vector the block's accumulators start from: its filters' bias, or zeros."""
    lanes_type = ir.VectorType.get([filters], f32)
    if start is None:
        return splat(0.0, lanes_type)
    if not isinstance(start.type, ir.RankedTensorType):
        return vector.BroadcastOp(lanes_type, start).result
    at = arith.addi(group_base, first_filter)
    return vector.TransferReadOp(lanes_type, start, [at], ir.AffineMap.get_minor_identity(1, 1),
                                 arith.ConstantOp(f32, 0.0).result, [True]).result


@dataclass
class _Window:
    """Where one forall iteration's output rows read the input."""

    grouped: bool
    image: ir.Value
    group: ir.Value
    row_block: ir.Value
    height: int  # output rows
    input_height: int
    pads: tuple[int, int]
    strides: list[int]
    dilations: list[int]
    size: tuple[int, int]

    def tap_rows(self, rows: int, row: int) -> tuple[ir.Value, ir.Value, ir.Value]:
        """The input row that output row `row` of a block of `rows` reads at tap row
        0, the first tap row that reads inside the input and the one past the
        last: 0 and all the tap rows where every row block reads inside."""
        sh, dh, kh = self.strides[0], self.dilations[0], self.size[0]
        offset = row * sh - self.pads[0]
        top = scaled(self.row_block, rows * sh, offset)
        if offset >= 0 and (self.height - rows) * sh + offset + (kh - 1) * dh < self.input_height:
            return top, index_constant(0), index_constant(kh)
        dilation = index_constant(dh)
        first = arith.ceildivsi(arith.subi(index_constant(0), top), dilation)
        end = arith.ceildivsi(arith.subi(index_constant(self.input_height), top), dilation)
        return top, arith.maxsi(first, index_constant(0)), arith.minsi(end, index_constant(kh))

    def input_column(self, column: int, j: int) -> int:
        """The input column output column `column` reads at tap column `j`; for a
        block whose first column is a loop's, `column` counts from it, and the
        first column times the stride is still to be added."""
        return column * self.strides[1] + j * self.dilations[1] - self.pads[1]

    def reads_inside(self, first: int, count: int, j: int, width: int) -> bool:
        """Whether tap column `j` of each of `count` output columns from `first`
        reads inside an input `width` columns wide."""
        return all(0 <= self.input_column(first + column, j) < width for column in (0, count - 1))

    def at(self, channel: ir.Value, row: ir.Value, column: ir.Value) -> list[ir.Value]:
        return [self.image] + ([self.group] if self.grouped else []) + [channel, row, column]


@dataclass
class _Kernel:
    x: ir.Value
    filters: ir.Value
    filter_block: ir.Value
    window: _Window
    tap_rows: list[tuple[ir.Value, ir.Value, ir.Value]]  # per row of the block: see `_Window.tap_rows`
    block: FilterBlock
    channels: int
    first_sums: ir.Value
    adds_to_tile: bool  # the tile holds values the sums add to; else they are written over it
    cpu: CpuTarget

    def row(self, tile: ir.Value, width: int) -> ir.Value:
        """`tile` with the block's rows, a block of columns at a time: a loop over
        those whose taps all read inside the input, one block each for the rest."""
        whole = width - width % self.block.columns
        inside = [start for start in range(0, whole, self.block.columns) if self._reads_inside(start)]
        looped = range(inside[0], inside[-1] + 1, self.block.columns) if len(inside) > 1 else range(0)
        for start in range(0, whole, self.block.columns):
            if start == looped.start and looped:
                tile = self._loop(tile, looped.start, looped.stop)
            elif start not in looped:
                tile = self._columns(tile, start, self.block.columns)
        if width % self.block.columns:
            tile = self._columns(tile, whole, width % self.block.columns)
        return tile

    def _reads_inside(self, start: int) -> bool:
        width = self.x.type.shape[-1]
        return all(self.window.reads_inside(start, self.block.columns, j, width) for j in (0, self.window.size[1] - 1))

    def _loop(self, tile: ir.Value, start: int, stop: int) -> ir.Value:
        loop = scf.ForOp(index_constant(start), index_constant(stop), index_constant(self.block.columns), [tile])
        with ir.InsertionPoint(loop.body):
            scf.YieldOp([self._columns(loop.inner_iter_args[0], loop.induction_variable, self.block.columns)])
        return loop.results[0]

    def _columns(self, tile: ir.Value, first: int | ir.Value, count: int) -> ir.Value:
        """`tile` with `count` columns from `first` computed: a loop over input
        channels adding, per tap, its filters times each pixel's input value.
        A block at a constant `first` leaves out its taps that read padding; one
        at a loop's `first` reads inside the input."""
        loop = scf.ForOp(index_constant(0), index_constant(self.channels), index_constant(1),
                         [self.first_sums] * (self.block.rows * count))
        with ir.InsertionPoint(loop.body):
            sums = list(loop.inner_iter_args)
            for r in range(self.block.rows):
                row_sums = slice(r * count, (r + 1) * count)
                sums[row_sums] = self._tap_rows(loop.induction_variable, r, sums[row_sums], first, count)
            scf.YieldOp(sums)
        return self._store(tile, list(loop.results), first, count)

    def _tap_rows(self, channel: ir.Value, row: int, sums: list[ir.Value], first: int | ir.Value,
                  count: int) -> list[ir.Value]:
        """`sums` (output row `row`'s) plus one channel's taps: a loop over the tap
        rows that read inside the input, where a tap row in the padding would
        multiply zeros."""
        top, first_tap, end_tap = self.tap_rows[row]
        loop = scf.ForOp(first_tap, end_tap, index_constant(1), sums)
        with ir.InsertionPoint(loop.body):
            tap_row = loop.induction_variable
            in_row = arith.addi(top, arith.muli(tap_row, index_constant(self.window.dilations[0])))
            taps = _Taps(self, channel, tap_row, in_row)
            scf.YieldOp(taps.add_to(list(loop.inner_iter_args), first, count))
        return list(loop.results)

    def _store(self, tile: ir.Value, sums: list[ir.Value], first: int | ir.Value, count: int) -> ir.Value:
        """`tile` with the block's sums, a vector of filters per pixel, transposed
        into the tile's rows of columns (added to what it holds where it holds the init)."""
        f32 = self.x.type.element_type
        rows_type = ir.VectorType.get([count, self.block.filters], f32)
        pad = arith.ConstantOp(f32, 0.0).result
        rank = tile.type.rank  # the vector is (filter, column) of the tile's (..., filter, row, column)
        by_filter_map = ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(rank - 3), ir.AffineDimExpr.get(rank - 1)])
        first = index_constant(first) if isinstance(first, int) else first
        for r in range(self.block.rows):
            row = splat(0.0, rows_type)
            for column in range(count):
                row = vector.InsertOp(sums[r * count + column], row, static_position=[column],
                                      dynamic_position=[]).result
            values = vector.TransposeOp(ir.VectorType.get([self.block.filters, count], f32), row, [1, 0]).result
            at = [index_constant(0)] * (rank - 2) + [index_constant(r), first]
            if self.adds_to_tile:
                values = arith.AddFOp(vector.TransferReadOp(values.type, tile, at, by_filter_map, pad,
                                                            [True, True]).result, values).result
            tile = vector.TransferWriteOp(tile.type, values, tile, at, by_filter_map, [True, True]).result
        return tile


@dataclass
class _Taps:
    """One channel's tap row of a block: each tap column's filters times each
    pixel's input value, added to the pixel's sums."""

    kernel: _Kernel
    channel: ir.Value
    tap_row: ir.Value
    in_row: ir.Value

    def add_to(self, sums: list[ir.Value], first: int | ir.Value, count: int) -> list[ir.Value]:
        """`sums` plus the tap row's taps for `count` pixels from column `first`:
        unrolled where their values fit the registers (see `_spills_unrolled`),
        else the taps that read inside the input for every pixel as a loop (all
        of them for a block at a loop's `first`, see `_Kernel.row`) and the
        others unrolled, each leaving out the pixels it would read in the padding."""
        size = self.kernel.window.size[1]
        width = self.kernel.x.type.shape[-1]
        inside = [j for j in range(size) if isinstance(first, ir.Value)
                  or self.kernel.window.reads_inside(first, count, j, width)]
        if not inside or not self._spills_unrolled(count):
            return self._unrolled(sums, first, count, range(size))
        first_value = index_constant(first) if isinstance(first, int) else first
        sums = self._unrolled(sums, first, count, range(inside[0]))
        sums = self._tap_loop(sums, first_value, count, inside[0], inside[-1] + 1)
        return self._unrolled(sums, first, count, range(inside[-1] + 1, size))

    def _spills_unrolled(self, count: int) -> bool:
        """Whether the unrolled taps of `count` pixels would spill: where
        neighbouring pixels' taps read the same input values (pixel c's tap
        j + stride is pixel c + 1's tap j), LLVM loads each once and keeps it
        for the later tap, about one per pixel beside the accumulators, the
        weight vectors and a broadcast. Past the registers it spilled
        accumulators (a 7x7 stride-2 stem and a 5x5 stride-1 convolution, 6
        pixels of 2 AVX2 vectors, ran slower than im2col); within them (3x3
        rows of 3 and 4 such pixels) the loop's steps only add overhead. A
        loop's body reads one value per pixel."""
        window = self.kernel.window
        cpu = self.kernel.cpu
        vectors = _pixel_vectors(self.kernel.block.filters, cpu.lanes)
        shared = count if window.strides[1] < (window.size[1] - 1) * window.dilations[1] + 1 else 0
        return count * vectors + shared + vectors + 1 > cpu.vector_registers

    def _unrolled(self, sums: list[ir.Value], first: int | ir.Value, count: int, taps: range) -> list[ir.Value]:
        """`sums` plus the tap columns `taps`, one after another; at a constant
        `first`, each for the pixels it reads inside the input."""
        window, width = self.kernel.window, self.kernel.x.type.shape[-1]
        for j in taps:
            weights = self._weights(index_constant(j))
            for column in range(count):
                if isinstance(first, ir.Value):
                    in_column = scaled(first, window.strides[1], window.input_column(column, j))
                elif 0 <= window.input_column(first + column, j) < width:
                    in_column = index_constant(window.input_column(first + column, j))
                else:
                    continue
                sums[column] = self._add(sums[column], weights, in_column)
        return sums

    def _tap_loop(self, sums: list[ir.Value], first: ir.Value, count: int, start: int, stop: int) -> list[ir.Value]:
        """`sums` plus the tap columns from `start` to `stop`, as a loop, for
        `count` pixels from column `first` that all read inside the input."""
        window = self.kernel.window
        loop = scf.ForOp(index_constant(start), index_constant(stop), index_constant(1), sums)
        with ir.InsertionPoint(loop.body):
            j = loop.induction_variable
            weights = self._weights(j)
            base = arith.addi(scaled(first, window.strides[1], window.input_column(0, 0)),
                              arith.muli(j, index_constant(window.dilations[1])))
            sums = [self._add(total, weights, arith.addi(base, index_constant(column * window.strides[1])))
                    for column, total in enumerate(loop.inner_iter_args)]
            scf.YieldOp(sums)
        return list(loop.results)

    def _weights(self, tap_column: ir.Value) -> ir.Value:
        """The block's filters at this tap row and `tap_column`, one vector."""
        kernel = self.kernel
        group = kernel.window.group if kernel.window.grouped else index_constant(0)
        at = [group, kernel.filter_block, self.channel, self.tap_row, tap_column, index_constant(0)]
        pad = arith.ConstantOp(kernel.x.type.element_type, 0.0).result
        return vector.TransferReadOp(kernel.first_sums.type, kernel.filters, at,
                                     ir.AffineMap.get_minor_identity(6, 1), pad, [True]).result

    def _add(self, total: ir.Value, weights: ir.Value, in_column: ir.Value) -> ir.Value:
        """`total` plus `weights` times the input value at `in_column` of the tap row."""
        kernel = self.kernel
        value = tensor.ExtractOp(kernel.x, kernel.window.at(self.channel, self.in_row, in_column)).result
        return vector.FMAOp(vector.BroadcastOp(kernel.first_sums.type, value).result, weights, total).result
