"""wafer-winograd: 3x3 convolutions as Winograd F(2x2, 3x3), 2.25x fewer multiplies."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, scf, tensor, vector

from .constant_pack import ConstantReader
from .conv_algorithm import ConvAlgorithmPass
from .linalg_builders import (
    extract_slice,
    index_constant,
    int_list,
    is_constant,
    is_named,
    is_static_f32,
    is_zero_fill,
    multiply_accumulate,
    pad_high,
    parallel_insert,
    read_vector,
    reassociation,
    scaled,
    write_vector,
)
from .pack_matmul import record_strategy
from .pass_base import find_ops

_CONV = "linalg.conv_2d_nchw_fchw"
# Y = A^T [(G g G^T) * (B^T d B)] A for a 4x4 input tile d, 3x3 filter g, 2x2 output tile Y.
_BT = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
_AT = ((1, 1, 1, 0), (0, 1, -1, -1))


@dataclass(frozen=True)
class Winograd(ConvAlgorithmPass):
    """Compute each big 3x3, stride-1 NCHW convolution as Winograd F(2x2, 3x3).

    Each 2x2 output tile is A^T [U * (B^T d B)] A, where U = G g G^T is the
    filter transformed at compile time (numpy, from the constant weights) and
    d the 4x4 input patch: 16 products per tile and channel pair instead of
    36. Per (image, block of tile rows), one `scf.forall` iteration:
      - transforms its input patches, a vector of tiles at a time (16 with
        AVX-512): the stride-2 patch columns are the even and odd lanes of
        two row loads;
      - writes them straight in the panels the matmul kernel streams (as
        many tiles wide as the target's register block, 32 with AVX-512),
        and multiplies them by U as a batch of 16 matmuls [F x C] x [C x
        tiles] (wafer-pack-matmul's kernel, whose pack of the panels is then
        a reshape; all of a block stays in L2);
      - transforms the products back to 2x2 tiles, interleaved into output
        rows, and adds them to the convolution's init: to its bias read as a
        scalar per filter where the init is a broadcast bias, to nothing for
        a zero fill (neither is materialized, see `_starting_values`), else
        to the init read back.
    A tile row is padded to whole vectors of tiles (ResNet's 28 to 32), so a
    block is whole kernel panels; the padding tiles read zeros and are not
    written. An odd output width ends each tile row in a half tile, whose
    second column reads zeros and is not written; an odd height ends in a
    half tile row, whose fourth input row reads as zeros and whose second
    output row goes to a row of padding below the result (SqueezeNet's
    27x27 and 55x55 maps). Where no number of tile rows both divides them
    and fills whole panels (37 tile rows of 48 slots), the last block is
    padded with tile rows below the image, read as zeros and written to
    padding rows. F must be a multiple of the register block's rows. The
    sums are reassociated: on a 64-channel 56x56 convolution the largest
    difference from PyTorch was 1.0e-6 (im2col's: 2.4e-6).

    Options (and conv-algorithm, tuning, threads: see conv_algorithm):
      machine: the CPU (see cpu_target) whose vectors and register block
        shape the tiles and panels.
      min-channels: convolutions with fewer input or output channels are left
        to wafer-direct-conv and wafer-im2col (the transforms would dominate).
      block-bytes: the most bytes of transformed input, and of products,
        per block, where a block of whole panels fits in them (the products
        are F/C times the input: 4x for SqueezeNet's 16 to 64 channels).
        Both should stay in L2: 256 KB (2 of ResNet's 28 tile rows) left a
        batch-1 ResNet block 10% faster at 2 threads than 512 KB (14 blocks
        share out evenly, 7 do not), peaking at 0.83x its live set rather
        than 1.15x.
    """

    name = "wafer-winograd"
    summary = "Compute 3x3 stride-1 convolutions as Winograd F(2x2, 3x3)"

    min_channels: int = 16
    block_bytes: int = 256 * 1024

    def apply(self, module: ir.Operation) -> None:
        reader, database = ConstantReader(module), self.database(module)
        for conv in find_ops(module, lambda op: op.name == _CONV):
            conv = conv.opview
            chosen = self.chosen_algorithm(conv, database)
            if chosen not in (None, "winograd") or not self.can_compute(conv):
                continue
            weights = reader.array(conv.operands[1]) if chosen == "winograd" or self.pays(conv) else None
            if weights is not None:  # transformed at compile time
                _rewrite(conv, weights, self._rows_per_block(*_shape(conv)), self.cpu.lanes, self._panel)

    def can_compute(self, conv: ir.OpView) -> bool:
        """Whether `conv` has the shape this rewrite handles, whether or not it pays."""
        _, _, h, w = conv.operands[0].type.shape
        _, _, oh, ow = conv.results[0].type.shape
        unit = int_list(conv.attributes["strides"]) == [1, 1] and int_list(conv.attributes["dilations"]) == [1, 1]
        return self.can_compute_filters(conv) and unit and (h, w) == (oh + 2, ow + 2)

    def can_compute_filters(self, conv: ir.OpView) -> bool:
        """Whether `conv`'s filters are constant 3x3 ones, as many as whole register blocks."""
        if not is_static_f32(conv) or not is_constant(conv.operands[1]):
            return False
        f, _, kh, kw = conv.operands[1].type.shape
        return (kh, kw) == (3, 3) and f % self.cpu.register_tile[0] == 0

    def pays(self, conv: ir.OpView) -> bool:
        """The rule where no option or record decides: enough channels and multiplies saved."""
        return self.pays_at(*_shape(conv))

    def pays_at(self, c: int, f: int, oh: int, ow: int) -> bool:
        """`pays` for a convolution of `c` channels to `f` filters with an oh x ow output."""
        return min(c, f) >= self.min_channels and self._saves_multiplies(oh, ow, self._rows_per_block(c, f, oh, ow))

    def _saves_multiplies(self, oh: int, ow: int, rows: int) -> bool:
        """Whether the products of the padded tile rows (16 per tile slot) are at
        most 3/4 of a direct 3x3 convolution's (9 per output pixel). Padding to
        whole vectors of tiles eats the 2.25x: measured against im2col at one
        thread, 0.51-0.55 of the multiplies ran in 0.51-0.57 of the time, 0.71
        in 0.77-1.03, and a 7x7 image's 2.3 (4 tiles a row padded to 16) in 1.76.
        The tile rows count the last block's padding rows."""
        return 16 * _padded_tiles(oh, rows) * _tile_slots(ow, self.cpu.lanes) * 4 <= 9 * oh * ow * 3

    @property
    def _panel(self) -> int:
        """wafer-pack-matmul's register block width: a block's tiles fill whole panels."""
        return self.cpu.register_tile[1]

    def _rows_per_block(self, c: int, f: int, oh: int, ow: int) -> int:
        """The tile rows per block: the most within `block_bytes` that divide the
        tile rows and fill whole panels, else the fewest that fill whole panels,
        the last block then padded with tile rows below the image.

        A 75x75 map has 38 tile rows of 48 slots: one row fills one and a half
        panels of 32, and two rows of 64 channels are 384 KB. A 74x74 map's 37
        tile rows divide by no even number: blocks of two end in a padding
        row. Left to im2col, both ran about twice as long."""
        slots, tile_rows = _tile_slots(ow, self.cpu.lanes), _tiles(oh)
        whole = [r for r in range(1, tile_rows + 1) if tile_rows % r == 0 and r * slots % self._panel == 0]
        fitting = [r for r in whole if 16 * max(c, f) * r * slots * 4 <= self.block_bytes]
        return max(fitting, default=self._panel // math.gcd(slots, self._panel))


def _shape(conv: ir.OpView) -> tuple[int, int, int, int]:
    """`conv`'s channels, filters, output rows and output columns."""
    _, c, _, _ = conv.operands[0].type.shape
    _, f, oh, ow = conv.results[0].type.shape
    return c, f, oh, ow


def _tiles(extent: int) -> int:
    """2x2 output tiles along an output dim; an odd one ends in a half tile."""
    return math.ceil(extent / 2)


def _padded_tiles(oh: int, rows: int) -> int:
    """Tile rows in whole blocks of `rows`: the last block's padding rows counted."""
    return math.ceil(_tiles(oh) / rows) * rows


def _tile_slots(ow: int, lanes: int) -> int:
    """Tiles per tile row, padded to whole vectors."""
    return math.ceil(_tiles(ow) / lanes) * lanes


def transformed_filters(weights: np.ndarray) -> np.ndarray:
    """U[4 xi + nu, f, c] = (G g[f, c] G^T)[xi, nu]."""
    f, c, _, _ = weights.shape
    u = np.einsum("xi,fcij,yj->xyfc", _G, weights.astype(np.float64), _G)
    return np.ascontiguousarray(u.reshape(16, f, c), dtype=np.float32)


def _rewrite(conv: ir.OpView, weights: np.ndarray, rows: int, lanes: int, panel: int) -> None:
    """Replace `conv` by an scf.forall over (image, block of `rows` tile rows)."""
    x, _, init = conv.operands
    n, c, _, _ = x.type.shape
    f = weights.shape[0]
    _, _, oh, ow = init.type.shape
    tiles = rows * _tile_slots(ow, lanes)
    f32 = x.type.element_type
    record_strategy(conv, f"winograd F(2x2,3x3) conv: blocks of {rows} tile rows ({tiles} tiles)")
    with ir.InsertionPoint(conv), conv.location:
        u_type = ir.RankedTensorType.get([16, f, c], f32)
        filters = arith.ConstantOp(u_type, ir.DenseElementsAttr.get(transformed_filters(weights), type=f32))
        # An odd OH ends in a half tile row, whose second output row goes to a row of
        # padding; tile rows that fill the last block write rows of padding too.
        tile_rows = _padded_tiles(oh, rows)
        reads_init, bias = _starting_values(init)
        if reads_init:  # the sums are added to what the init holds, read back
            out = _pad_rows(init, 2 * tile_rows - oh)
        else:  # each output vector starts from zero or its bias: the init is never written
            out = tensor.EmptyOp([n, f, 2 * tile_rows, ow], f32).result
        blocks = scf.ForallOp([0, 0], [n, tile_rows // rows], [1, 1], [out])
        with ir.InsertionPoint(blocks.body):
            image, block = blocks.induction_variables
            out = blocks.inner_iter_args[0]
            patches = _transform_input(x, image, block, rows, tiles, lanes, panel, 2 * tile_rows + 2)
            products = _multiply(filters.result, patches)
            offsets = [image, index_constant(0), scaled(block, 2 * rows), index_constant(0)]
            sizes = [1, f, 2 * rows, ow]
            rows_out = extract_slice(out, offsets, sizes)
            result = _transform_output(products, rows_out, rows, ow, lanes, reads_init, bias)
            with ir.InsertionPoint(blocks.terminator().block):
                parallel_insert(result, out, offsets, sizes)
        result = blocks.results[0]
        if 2 * tile_rows != oh:
            result = extract_slice(result, [index_constant(0)] * 4, list(init.type.shape))
    conv.results[0].replace_all_uses_with(result)
    conv.erase()


def _starting_values(init: ir.Value) -> tuple[bool, ir.Value | None]:
    """Whether the output values start from the init read back, and else the
    per-filter bias they start from (None: zero). A zero fill and a broadcast
    bias (a convolution's, as torch-mlir imports it) need no reading: read,
    the init is a pass over the whole output before the convolution (the fill
    or broadcast, and its padding for an odd OH) and a second stream that the
    output transform reads back."""
    if is_zero_fill(init):
        return False, None
    if is_named(init.owner, "linalg.broadcast"):
        bias, dims = init.owner.operands[0], ir.DenseI64ArrayAttr(init.owner.attributes["dimensions"])
        if ir.RankedTensorType(bias.type).rank == 1 and list(dims) == [0, 2, 3]:
            return False, bias
    return True, None


def _pad_rows(value: ir.Value, rows: int) -> ir.Value:
    """`value` (NCHW) with `rows` rows of zeros below, or itself for none."""
    if not rows:
        return value
    return pad_high(value, [0, 0, rows, 0], arith.ConstantOp(value.type.element_type, 0.0).result)


def _transform_input(x: ir.Value, image: ir.Value, block: ir.Value, rows: int, tiles: int,
                     lanes: int, panel: int, rows_read: int) -> ir.Value:
    """V[4 xi + nu, tile / panel, c, tile % panel] = (B^T d B)[xi, nu] for each 4x4 patch d of the block's tiles.
    The blocks read `rows_read` input rows; those past the image read as zeros.

    V is written straight in the kernel's B panel layout (`panel` tiles wide,
    K = c rows), so wafer-pack-matmul has nothing to copy.
    """
    _, c, h, w = x.type.shape
    f32 = x.type.element_type
    slots = tiles // rows
    pad = arith.ConstantOp(f32, 0.0).result

    def transform_row(channel: ir.Value, row: ir.Value, patches: ir.Value) -> ir.Value:
        top = scaled(arith.addi(scaled(block, rows), row), 2)  # the first input row of the tiles
        for first in range(0, slots, lanes):
            # d[i][j]: row top+i, column 2*tile + j of a vector of tiles, from two double-width loads per row.
            # Below an odd OH's half tile row, row top+3 is past the image, and so are padding
            # tile rows' rows: read the image's last row, as zeros.
            d = []
            for i in range(4):
                row_i = scaled(top, 1, i)
                may_pass_the_end = rows_read - 4 + i >= h
                at = [image, channel, _row_within(row_i, h) if may_pass_the_end else row_i]
                columns = []
                for start in (2 * first, 2 * first + 2):
                    run = read_vector(x, [*at, index_constant(start)], 2 * lanes, pad, start + 2 * lanes <= w)
                    if may_pass_the_end:
                        inside = arith.CmpIOp(arith.CmpIPredicate.ult, row_i, index_constant(h)).result
                        run = arith.SelectOp(inside, run, vector.BroadcastOp(run.type, pad).result).result
                    columns += list(vector.DeinterleaveOp(run).results)  # columns start, start + 1
                d.append(columns)
            t = [[_combine(_BT[nu], d[i]) for nu in range(4)] for i in range(4)]
            tile = scaled(row, slots, first)
            outer, lane = arith.divui(tile, index_constant(panel)), arith.remui(tile, index_constant(panel))
            for xi in range(4):
                for nu in range(4):
                    value = _combine(_BT[xi], [t[i][nu] for i in range(4)])
                    patches = write_vector(value, patches, [index_constant(4 * xi + nu), outer, channel, lane], True)
        return patches

    empty = tensor.EmptyOp([16, tiles // panel, c, panel], f32).result
    return _over_channels_and_rows(c, rows, empty, transform_row)


def _row_within(row: ir.Value, height: int) -> ir.Value:
    """`row`, or the last of `height` rows past it."""
    return arith.MinUIOp(row, index_constant(height - 1)).result


def _multiply(filters: ir.Value, patches: ir.Value) -> ir.Value:
    """M[b, f, tile] = sum over c of U[b, f, c] V[b, c, tile], V in panels [b, tile / width, c, tile % width]."""
    batch, f, _ = filters.type.shape
    _, panels, _, width = patches.type.shape
    f32 = filters.type.element_type
    zero = arith.ConstantOp(f32, 0.0).result
    init = linalg.fill(zero, outs=[tensor.EmptyOp([batch, f, panels, width], f32).result])
    b, m, panel, lane, k = (ir.AffineDimExpr.get(i) for i in range(5))
    maps = [ir.AffineMap.get(5, 0, dims) for dims in ([b, m, k], [b, panel, k, lane], [b, m, panel, lane])]
    product = multiply_accumulate([filters, patches], init, maps, ["parallel"] * 4 + ["reduction"])
    flat = ir.RankedTensorType.get([batch, f, panels * width], f32)
    return tensor.CollapseShapeOp(flat, product.results[0], reassociation([0], [1], [2, 3])).result


def _transform_output(products: ir.Value, rows_out: ir.Value, rows: int, ow: int, lanes: int,
                      reads_init: bool, bias: ir.Value | None) -> ir.Value:
    """rows_out[0, f, 2 r + a, 2 tile + b] = start + (A^T M A)[a, b] for each tile's 4x4
    products M, where start is rows_out's own value (`reads_init`), else bias[f] or zero."""
    f = products.type.shape[1]
    f32 = products.type.element_type
    slots = products.type.shape[2] // rows
    pad = arith.ConstantOp(f32, 0.0).result

    def transform_row(channel: ir.Value, row: ir.Value, result: ir.Value) -> ir.Value:
        splat = None
        if bias is not None:
            splat = vector.BroadcastOp(ir.VectorType.get([2 * lanes], f32),
                                       tensor.ExtractOp(bias, [channel]).result).result
        for first in range(0, slots, lanes):
            column = scaled(row, slots, first)
            m = [[read_vector(products, [index_constant(4 * xi + nu), channel, column], lanes, pad, True)
                  for nu in range(4)] for xi in range(4)]
            s = [[_combine(_AT[a], [m[xi][nu] for xi in range(4)]) for nu in range(4)] for a in range(2)]
            for a in range(2):
                y = [_combine(_AT[b], s[a]) for b in range(2)]
                at = [index_constant(0), channel, scaled(row, 2, a), index_constant(2 * first)]
                whole = 2 * first + 2 * lanes <= ow
                total = vector.InterleaveOp(y[0], y[1]).result
                if reads_init:
                    total = arith.AddFOp(read_vector(result, at, 2 * lanes, pad, whole), total).result
                elif splat is not None:
                    total = arith.AddFOp(splat, total).result
                result = write_vector(total, result, at, whole)
        return result

    return _over_channels_and_rows(f, rows, rows_out, transform_row)


def _over_channels_and_rows(channels: int, rows: int, init: ir.Value, body) -> ir.Value:
    """for channel < channels: for row < rows: init = body(channel, row, init), as two scf.for loops."""
    zero, one = index_constant(0), index_constant(1)
    over_channels = scf.ForOp(zero, index_constant(channels), one, [init])
    with ir.InsertionPoint(over_channels.body):
        over_rows = scf.ForOp(zero, index_constant(rows), one, over_channels.inner_iter_args)
        with ir.InsertionPoint(over_rows.body):
            channel, row = over_channels.induction_variable, over_rows.induction_variable
            scf.YieldOp([body(channel, row, over_rows.inner_iter_args[0])])
        scf.YieldOp(over_rows.results)
    return over_channels.results[0]




def _combine(coefficients: tuple[int, ...], values: list[ir.Value]) -> ir.Value:
    """sum(k * v) for coefficients k in {-1, 0, 1}, at least one of them 1."""
    terms = sorted(((k, v) for k, v in zip(coefficients, values) if k), key=lambda term: -term[0])
    total = terms[0][1]
    for k, value in terms[1:]:
        total = (arith.AddFOp if k > 0 else arith.SubFOp)(total, value).result
    return total
