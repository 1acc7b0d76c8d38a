"""wafer-depthwise-conv: depthwise convolutions as vector stencils along output rows.

The stencil (one (image, channel) plane per step, vector pieces of each output row
accumulated in registers over the window's taps, padding read through) also
computes max and sum pooling: see `rewrite_max_pool` and `rewrite_sum_pool`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, scf, tensor, vector

from .cpu_target import TargetedPass
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
from .linalg_queries import reassociation_groups
from .matmul_contraction import in_parallel_loop
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .serial_foralls import SERIAL

_CONV = "linalg.depthwise_conv_2d_nchw_chw"


@dataclass(frozen=True)
class DepthwiseConv(TargetedPass):
    """Compute each NCHW depthwise convolution as a vector stencil, one channel plane per step.

    Each (image, channel) plane is one `scf.forall` iteration. Per output row,
    pieces of a vector of output columns accumulate in registers over the
    KH x KW taps, each tap one FMA of the tap's weight (broadcast once per
    plane) and a run of an input row read in place; with column stride 2 the
    run is two vectors wide and `vector.deinterleave` splits it into the even
    and odd columns. Measured on a Zen 3 (AVX2), one thread, MobileNet-v2's
    3x3 shapes ran 2-3x faster than torch eager and 5-20x faster than
    wafer-fuse's scalar tiles (mobilenet_v2 batch 1: 36 -> 14 ms).

    - A zero `tensor.pad` of the input is read through: the first and last
      rows skip the taps that fall in the padding, and the pieces at a row's
      ends shift zeros in (`vector.shuffle`) or mask the read. No padded copy
      is filled and written (1.3-2x on a lone convolution, 4% on mobilenet_v2).
    - A row's interior pieces loop in blocks of a quarter of the vector
      registers' count, their taps interleaved so that the blocks' FMA chains
      overlap (4 with AVX2: with 5x5 filters blocks of 1 and 2 ran 10-30%
      slower; with 3x3, 2 to 6 were within 5% and 8 up to 25% slower).
    - A conv whose init is a fill or a per-channel bias broadcast starts each
      accumulator from the broadcast value, so the init is never written; a
      row that is not whole vectors then ends with a whole vector overlapping
      the one before (14 = 8 + 8 with AVX2, 30% faster than 8 + a ragged 6),
      and a row narrower than a vector is overlapping pieces of the widest
      power of two that fits (7 = 4 + 4 with AVX2: 20% faster than a ragged
      vector<7> with 3x3 filters, 3% slower with 5x5). Other inits are read,
      and a row ends with a ragged remainder.

    Convolutions with a column stride other than 1 or 2, or dynamic shapes,
    are left to wafer-fuse.

    Options:
      machine: the CPU (see cpu_target) whose vector width and registers
        shape the row pieces and blocks.
      parallel-flops: smaller convolutions loop over their planes serially: at
        2 threads mobilenet_v2 (batch 1) took 9.8 ms with 4 MFLOP (wafer-direct-conv's
        threshold; 14 of its 17 serial), 9.3 with 1 MFLOP, 9.2 with none serial; a
        lone 0.85-MFLOP conv ran 8% slower in parallel. A convolution inside a parallel
        loop (a fused inverted residual block's) is one thread's work: serial.
    """

    name = "wafer-depthwise-conv"
    summary = "Compute NCHW depthwise convolutions as vector stencils along output rows"

    parallel_flops: int = 1_000_000

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == _CONV and fits_stencil(op.opview)):
            conv = op.opview
            x, w, init = conv.operands
            _rewrite(conv, x, w, tuple(w.type.shape[1:]), init, 0.0, self.cpu.lanes,
                     self.cpu.vector_registers // 4, _flops(conv) >= self.parallel_flops and not in_parallel_loop(conv),
                     "depthwise conv")


def fits_stencil(op: ir.OpView) -> bool:
    """Whether a depthwise conv or a pooling op has the static f32 shapes and column
    stride (1 or 2) that the stencil computes."""
    return is_static_f32(op) and int_list(op.attributes["strides"])[1] in (1, 2)


def rewrite_max_pool(pool: ir.OpView, lanes: int, block: int, parallel: bool) -> None:
    """Replace NCHW max pooling `pool` by the stencil, with `arith.maximumf` for the
    FMA and -inf for the zero padding: a -inf `tensor.pad` of its input, such as
    ceil mode's or ResNet's, is read through, and a fill init is never written."""
    x, window, init = pool.operands
    _rewrite(pool, x, None, tuple(window.type.shape), init, float("-inf"), lanes, block, parallel, "max pool",
             arith.MaximumFOp)


def rewrite_sum_pool(pool: ir.OpView, lanes: int, block: int, parallel: bool) -> None:
    """Replace NCHW sum pooling `pool` (an average pool before its division) by the
    stencil, with `arith.addf` for the FMA: its zero `tensor.pad` is read through."""
    x, window, init = pool.operands
    _rewrite(pool, x, None, tuple(window.type.shape), init, 0.0, lanes, block, parallel, "sum pool", arith.AddFOp)


def _flops(conv: ir.OpView) -> int:
    n, c, oh, ow = conv.results[0].type.shape
    _, kh, kw = conv.operands[1].type.shape
    return 2 * n * c * oh * ow * kh * kw


@dataclass(frozen=True)
class Window:
    """Which input rows and columns each output reads: the unpadded input's
    height and width, the zero padding before it, strides, dilations, filter size."""

    height: int
    width: int
    pad: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    kernel: tuple[int, int]

    def row_taps(self, row: int | None) -> list[int]:
        """The filter rows that read input, not padding, for output row `row` (None: every row)."""
        return [i for i in range(self.kernel[0]) if row is None
                or 0 <= row * self.stride[0] + i * self.dilation[0] - self.pad[0] < self.height]

    def column_taps(self, column: int) -> list[int]:
        """The filter columns that read input, not padding, for output column `column`."""
        return [j for j in range(self.kernel[1])
                if 0 <= column * self.stride[1] + j * self.dilation[1] - self.pad[1] < self.width]

    def runs(self) -> list[tuple[int, int]]:
        """Per filter column, (shift, parity): for output columns first, first + 1, ...
        it reads every stride-th column of the run from stride * first + shift, from the parity-th on."""
        s = self.stride[1]
        offsets = [j * self.dilation[1] - self.pad[1] for j in range(self.kernel[1])]
        return [(o - o % s, o % s) for o in offsets]

    def interior(self, first: int, width: int) -> bool:
        """Whether output columns [first, first + width) read no padding."""
        s = self.stride[1]
        return all(0 <= s * first + shift and s * first + shift + s * width <= self.width for shift, _ in self.runs())


@dataclass(frozen=True)
class _Columns:
    """How an output row is cut into vector pieces (first column, width): `head`,
    then a loop over blocks of `block` pieces of `width` from `start` to `stop`,
    then `tail`."""

    head: list[tuple[int, int]]
    width: int
    block: int
    start: int
    stop: int
    tail: list[tuple[int, int]]

    @property
    def pieces(self) -> list[tuple[int, int]]:
        looped = [(first, self.width) for first in range(self.start, self.stop, self.width)]
        return self.head + looped + self.tail

    def describe(self) -> str:
        widths = [width for _, width in self.pieces]
        whole = widths.count(self.width)
        overlap = sum(widths) - max(first + width for first, width in self.pieces)
        parts = ([f"{whole} x vector<{self.width}>"] if whole else []) + (
            [f"the last overlapping by {overlap}"] if overlap else []) + [
            f"a vector<{width}> remainder" for width in widths if width != self.width]
        return ", ".join(parts)


def _columns(window: Window, ow: int, lanes: int, block: int, overlap: bool) -> _Columns:
    """Whole vectors along the row (or, in a row narrower than a vector when pieces may
    overlap, the widest power of two that fits), then the rest: a vector overlapping
    the one before, or a ragged remainder; interior pieces loop in blocks."""
    width = lanes if ow >= lanes or not overlap else 1 << (ow.bit_length() - 1)
    vectors, rest = divmod(ow, width)
    pieces = [(k * width, width) for k in range(vectors)]
    if rest:
        pieces.append((ow - width, width) if overlap else (vectors * width, rest))
    inner = [k for k in range(vectors) if window.interior(k * width, width)]
    blocks = len(inner) // block
    if blocks < 2:  # a loop of one block is no loop
        return _Columns([], width, block, 0, 0, pieces)
    start, stop = inner[0] * width, (inner[0] + blocks * block) * width
    looped = {(first, width) for first in range(start, stop, width)}
    others = [p for p in pieces if p not in looped]
    return _Columns([p for p in others if p[0] < start], width, block, start, stop,
                    [p for p in others if p[0] >= start])


def padding_constant(x: ir.Value) -> ir.Value | None:
    """The float `arith.constant` that a `tensor.pad` producing `x` pads with, else None."""
    pad = x.owner
    if not (isinstance(pad, ir.OpView) and pad.name == "tensor.pad"):
        return None
    value = list(pad.regions[0].blocks[0].operations)[-1].operands[0]
    owner = value.owner
    constant = (isinstance(owner, ir.OpView) and owner.name == "arith.constant"
                and isinstance(owner.attributes["value"], ir.FloatAttr))
    return value if constant else None


def unpadded(x: ir.Value, padding: float, spatial: tuple[int, int] = (2, 3)) -> tuple[ir.Value, tuple[int, int]]:
    """The input before its `tensor.pad` of H and W (dims `spatial`) with `padding`,
    if it has one, and the rows and columns of padding before it; else (x, (0, 0)).
    A pad that a `tensor.collapse_shape` of other dims follows counts too, the
    collapse then made on its input: linalg-fuse-elementwise-ops moves a pad
    above a collapse (a 3-D max pool's depth slices as planes of an image)."""
    collapse = x.owner
    if isinstance(collapse, ir.OpView) and collapse.name == "tensor.collapse_shape":
        return _unpadded_before_collapse(collapse, padding, spatial)
    value = padding_constant(x)
    pad = x.owner
    if value is None or pad.low or pad.high or ir.FloatAttr(value.owner.attributes["value"]).value != padding:
        return x, (0, 0)
    low, high = list(pad.static_low), list(pad.static_high)
    others = [d for d in range(len(low)) if d not in spatial]
    if any(low[d] or high[d] for d in others):
        return x, (0, 0)
    return pad.operands[0], (low[spatial[0]], low[spatial[1]])


def _unpadded_before_collapse(collapse: ir.OpView, padding: float,
                              spatial: tuple[int, int]) -> tuple[ir.Value, tuple[int, int]]:
    """`unpadded` of a collapse of a pad whose `spatial` dims are dims of their
    own in the collapse: the collapse of the pad's input, and its padding."""
    x = collapse.results[0]
    groups = reassociation_groups(collapse)
    if any(len(groups[d]) != 1 for d in spatial):
        return x, (0, 0)
    source, pads = unpadded(collapse.operands[0], padding, tuple(groups[d][0] for d in spatial))
    if source == collapse.operands[0]:
        return x, (0, 0)
    shape = list(x.type.shape)
    for d in spatial:
        shape[d] = source.type.shape[groups[d][0]]
    with ir.InsertionPoint(collapse), collapse.location:
        collapsed = tensor.CollapseShapeOp(ir.RankedTensorType.get(shape, x.type.element_type), source,
                                           collapse.attributes["reassociation"]).result
    return collapsed, pads


def channel_init(init: ir.Value) -> ir.Value | None:
    """What `init` (NCHW) holds the same for every output of a channel: the scalar
    of a fill, or the 1-D tensor (one value per channel) a broadcast spreads; else None."""
    op = init.owner
    if isinstance(op, ir.OpView) and op.name == "linalg.fill":
        return op.operands[0]
    if (isinstance(op, ir.OpView) and op.name == "linalg.broadcast" and op.operands[0].type.rank == 1
            and list(ir.DenseI64ArrayAttr(op.attributes["dimensions"])) == [0, 2, 3]):
        return op.operands[0]
    return None


def _bias(init: ir.Value) -> Callable[[ir.Value], ir.Value] | None:
    """channel -> the value each output of the channel starts from, when `init` is a
    fill or a per-channel broadcast (then it need not be written); else None."""
    start = channel_init(init)
    if start is None:
        return None
    if isinstance(start.type, ir.RankedTensorType):
        return lambda channel: tensor.ExtractOp(start, [channel]).result
    return lambda channel: start


def _rewrite(conv: ir.OpView, x: ir.Value, w: ir.Value | None, kernel: tuple[int, int], init: ir.Value,
             padding: float, lanes: int, block: int, parallel: bool, what: str,
             combine: Callable[[ir.Value, ir.Value], ir.OpView] | None = None) -> None:
    """Replace `conv` by an scf.forall over (image, channel) planes: with filter `w`
    a sum of products (`padding` 0), without one (pooling) each tap's values folded
    into the accumulators by `combine` (`arith.maximumf` with `padding` -inf, `arith.addf` with 0)."""
    n, c, oh, ow = init.type.shape
    kh, kw = kernel
    source, pad = unpadded(x, padding)
    _, _, height, width = source.type.shape
    stride, dilation = int_list(conv.attributes["strides"]), int_list(conv.attributes["dilations"])
    window = Window(height, width, pad, tuple(stride), tuple(dilation), (kh, kw))
    with ir.InsertionPoint(conv), conv.location:
        bias = _bias(init)
        dest = tensor.EmptyOp([n, c, oh, ow], init.type.element_type).result if bias else init
        columns = _columns(window, ow, lanes, block, bias is not None)
        record_strategy(conv, f"{what} {kh}x{kw}/{stride[1]}: rows of {ow} in {columns.describe()}"
                        + ("" if parallel else ", serial"))
        planes = scf.ForallOp([0, 0], [n, c], [1, 1], [dest])
        if not parallel:
            planes.operation.attributes[SERIAL] = ir.UnitAttr.get()
        with ir.InsertionPoint(planes.body):
            image, channel = planes.induction_variables
            offsets, sizes = [image, channel, index_constant(0), index_constant(0)], [1, 1, oh, ow]
            plane = _Plane(source, image, channel, window, w, bias(channel) if bias else None,
                           {width for _, width in columns.pieces}, padding, combine)
            tile = extract_slice(planes.inner_iter_args[0], offsets, sizes)
            interior = [r for r in range(oh) if len(window.row_taps(r)) == kh]
            first, last = (interior[0], interior[-1] + 1) if interior else (oh, oh)
            for row in range(first):
                tile = _row(plane, index_constant(row), window.row_taps(row), tile, columns)
            if last > first:
                rows = scf.ForOp(index_constant(first), index_constant(last), index_constant(1), [tile])
                with ir.InsertionPoint(rows.body):
                    tile = _row(plane, rows.induction_variable, window.row_taps(None), rows.inner_iter_args[0],
                                columns)
                    scf.YieldOp([tile])
                tile = rows.results[0]
            for row in range(max(first, last), oh):
                tile = _row(plane, index_constant(row), window.row_taps(row), tile, columns)
            with ir.InsertionPoint(planes.terminator().block):
                parallel_insert(tile, planes.inner_iter_args[0], offsets, sizes)
    conv.results[0].replace_all_uses_with(planes.results[0])
    conv.operation.erase()


class _Plane:
    """What one (image, channel) iteration reads: the input plane, the channel's
    weights broadcast to each piece width (none when pooling, which folds each tap
    in by `combine`), and its bias, if known."""

    def __init__(self, x: ir.Value, image: ir.Value, channel: ir.Value, window: Window, weights: ir.Value | None,
                 bias: ir.Value | None, widths: set[int], padding: float,
                 combine: Callable[[ir.Value, ir.Value], ir.OpView] | None):
        self.x, self.image, self.channel, self.window = x, image, channel, window
        f32 = x.type.element_type
        self.zero = arith.ConstantOp(f32, padding).result  # what the padding reads as
        self.combine = combine
        kh, kw = window.kernel
        taps = {} if combine else {
            (i, j): tensor.ExtractOp(weights, [channel, index_constant(i), index_constant(j)]).result
            for i in range(kh) for j in range(kw)}
        self.splats = {}
        for width in sorted(widths):
            splat = ir.VectorType.get([width], f32)
            for tap, weight in taps.items():
                self.splats[tap, width] = vector.BroadcastOp(splat, weight).result
            if bias is not None:
                self.splats["bias", width] = vector.BroadcastOp(splat, bias).result
        self.biased = bias is not None

    def columns(self, row: ir.Value, first: int | ir.Value, width: int, j: int, runs: dict) -> ir.Value:
        """Input row `row` at the columns filter column `j` reads for output columns
        [first, first + width); `runs` keeps each run read for the piece in this row."""
        s = self.window.stride[1]
        shift, parity = self.window.runs()[j]
        if shift not in runs:
            start = s * first + shift if isinstance(first, int) else scaled(first, s, shift)
            run = self._input(row, start, s * width)
            runs[shift] = [run] if s == 1 else vector.DeinterleaveOp(run).results
        return runs[shift][parity]

    def _input(self, row: ir.Value, col: int | ir.Value, count: int) -> ir.Value:
        """`count` values of input row `row` from column `col`, zeros outside the row
        (a dynamic `col` is an interior piece's)."""
        at = [self.image, self.channel, row]
        if isinstance(col, ir.Value):
            return read_vector(self.x, [*at, col], count, self.zero, True)
        width = self.window.width
        if 0 <= col < width:  # a run past the row's end is a masked read, padded with zeros
            return read_vector(self.x, [*at, index_constant(col)], count, self.zero, col + count <= width)
        zeros = vector.BroadcastOp(ir.VectorType.get([count], self.zero.type), self.zero).result
        if col >= width or col + count <= 0:
            return zeros
        run = read_vector(self.x, [*at, index_constant(0)], count, self.zero, count <= width)
        return vector.ShuffleOp(run, zeros, [t + col if t + col >= 0 else count for t in range(count)]).result


def _row(plane: _Plane, row: ir.Value, taps: list[int], tile: ir.Value, columns: _Columns) -> ir.Value:
    """Output row `row` of the plane's tile, summed over filter rows `taps`."""
    tile = _pieces(plane, row, taps, tile, columns.head)
    if columns.stop > columns.start:
        step = columns.block * columns.width
        loop = scf.ForOp(index_constant(columns.start), index_constant(columns.stop), index_constant(step), [tile])
        with ir.InsertionPoint(loop.body):
            col = loop.induction_variable
            pieces = [(scaled(col, 1, k * columns.width), columns.width) for k in range(columns.block)]
            scf.YieldOp([_pieces(plane, row, taps, loop.inner_iter_args[0], pieces)])
        tile = loop.results[0]
    return _pieces(plane, row, taps, tile, columns.tail)


def _pieces(plane: _Plane, row: ir.Value, taps: list[int], tile: ir.Value,
            pieces: list[tuple[int | ir.Value, int]]) -> ir.Value:
    """Each (first column, width) piece of output row `row`: its accumulator, updated
    tap by tap with the pieces' FMAs interleaved, then written to `tile`."""
    if not pieces:
        return tile
    zero = index_constant(0)
    at = [[zero, zero, row, first if isinstance(first, ir.Value) else index_constant(first)] for first, _ in pieces]
    accs = [plane.splats["bias", width] if plane.biased else read_vector(tile, indices, width, plane.zero, True)
            for indices, (_, width) in zip(at, pieces)]
    window = plane.window
    for i in taps:
        in_row = scaled(row, window.stride[0], i * window.dilation[0] - window.pad[0])
        runs = [{} for _ in pieces]
        for j in range(window.kernel[1]):
            for p, (first, width) in enumerate(pieces):
                value = plane.columns(in_row, first, width, j, runs[p])
                accs[p] = (plane.combine(value, accs[p]) if plane.combine
                           else vector.FMAOp(value, plane.splats[(i, j), width], accs[p])).result
    for indices, acc in zip(at, accs):
        tile = write_vector(acc, tile, indices, True)
    return tile
