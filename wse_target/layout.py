"""How a tensor is spread over a rectangle of PEs: `Layout`.

A `Layout` splits at most one tensor dim over the PE rows and one over the PE
columns, in blocks, in cyclic panels or in blocks of windows, padding with
zeros to whole blocks. The dialect's verifiers, the wse passes and the
simulator all read this one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import WINDOWS_ATTR
from ..passes.linalg_queries import index_extent, result_coefficients


@dataclass(frozen=True)
class Window:
    """A dim read through sliding windows: output position p reads the source
    elements [p * stride, p * stride + span), a convolution's or pooling's
    input rows. Split by output positions, each PE's block of outputs needs
    the span of its block's windows, which overlaps the next PE's by
    span - stride elements (the halo): wse-distribute scatters it to both."""

    stride: int
    span: int

    def outputs(self, extent: int) -> int:
        """The output positions a source dim of `extent` has windows for."""
        return (extent - self.span) // self.stride + 1

    def block(self, extent: int, parts: int) -> int:
        """Output positions per PE."""
        return math.ceil(self.outputs(extent) / parts)

    def local_extent(self, extent: int, parts: int) -> int:
        """Source elements each PE holds: its block's windows."""
        return (self.block(extent, parts) - 1) * self.stride + self.span


@dataclass(frozen=True)
class Split:
    """Tensor dim `dim` split over `parts` PEs along grid axis `axis` (0: the
    rows, 1: the columns), in panels of `panel` (0: one block per PE), or by
    output positions when read through `window`."""

    dim: int
    parts: int
    panel: int
    window: Window | None
    axis: int

    def local_extent(self, extent: int) -> int:
        """Elements of the dim, of `extent`, each PE holds, padding included."""
        return _split_extent(extent, self.parts, self.panel, self.window)


@dataclass(frozen=True)
class Layout:
    """Tensor dim `row_dim` over the PE rows, `col_dim` over the columns (-1: whole).

    A panel of 0 splits the dim in contiguous blocks; a panel p > 0 deals
    panels of p elements to the PEs in turn (block-cyclic). A skew rotates
    the blocks as Cannon's algorithm starts (SKEW_COLS, SKEW_ROWS). A split
    dim read through windows (`row_window`, `col_window`) is split by output
    positions instead, each PE holding its block's windows (`Window`).
    """

    row_dim: int = -1
    col_dim: int = -1
    row_panel: int = 0
    col_panel: int = 0
    skew: int = 0
    row_window: Window | None = None
    col_window: Window | None = None

    ATTRS = ("row_dim", "col_dim", "row_panel", "col_panel", "skew")
    # The windows' (stride, span) over rows then columns, (0, 0) for none; set
    # only on a scatter that has a window.
    WINDOWS_ATTR = WINDOWS_ATTR

    @staticmethod
    def of(op: ir.Operation) -> Layout:
        ints = (ir.IntegerAttr(op.attributes[name]).value for name in Layout.ATTRS)
        windows = [None, None]
        if Layout.WINDOWS_ATTR in op.attributes:
            values = list(ir.DenseI64ArrayAttr(op.attributes[Layout.WINDOWS_ATTR]))
            windows = [Window(*values[i:i + 2]) if values[i] else None for i in (0, 2)]
        return Layout(*ints, *windows)

    def set_on(self, op: ir.Operation) -> None:
        i64 = ir.IntegerType.get_signless(64)
        for name in self.ATTRS:
            op.attributes[name] = ir.IntegerAttr.get(i64, getattr(self, name))
        if self.row_window or self.col_window:
            op.attributes[self.WINDOWS_ATTR] = ir.DenseI64ArrayAttr.get(
                [v for w in (self.row_window, self.col_window) for v in ((w.stride, w.span) if w else (0, 0))])

    def splits(self, height: int, width: int) -> list[Split]:
        """Each split dim, over the PE rows first."""
        return [Split(dim, parts, panel, window, axis) for axis, (dim, parts, panel, window) in enumerate((
            (self.row_dim, height, self.row_panel, self.row_window),
            (self.col_dim, width, self.col_panel, self.col_window))) if dim >= 0]

    def splits_over(self, height: int, width: int) -> tuple[bool, bool]:
        """Whether PEs in different rows, and in different columns, hold different parts."""
        return self.row_dim >= 0 and height > 1, self.col_dim >= 0 and width > 1

    def local_shape(self, shape: list[int], height: int, width: int) -> list[int]:
        """One PE's share of a tensor of `shape` on height x width PEs, padding
        included. (`splits`' arithmetic without building them: placement asks
        this for every tensor of every rectangle it weighs.)"""
        local = list(shape)
        if self.row_dim >= 0:
            local[self.row_dim] = _split_extent(shape[self.row_dim], height, self.row_panel, self.row_window)
        if self.col_dim >= 0:
            local[self.col_dim] = _split_extent(shape[self.col_dim], width, self.col_panel, self.col_window)
        return local

    def share_of(self, value: ir.Value, height: int, width: int) -> list[int]:
        """One PE's share (local shape) of the shaped `value`."""
        return self.local_shape(list(ir.ShapedType(value.type).shape), height, width)


# Skews: PE (i, j) holds the block the unskewed layout gives PE (i, (i + j) mod
# width) (SKEW_COLS: an A operand's k blocks), or PE ((i + j) mod height, j)
# (SKEW_ROWS: a B operand's).
NO_SKEW, SKEW_COLS, SKEW_ROWS = 0, 1, 2


def block_panel(extent: int, parts: int, panel: int) -> int:
    """The panel a split really uses: a block split is one panel per PE."""
    return panel or math.ceil(extent / parts)


def _split_extent(extent: int, parts: int, panel: int, window: Window | None) -> int:
    """Elements of a dim of `extent` split over `parts` PEs that each holds (see `Split`)."""
    return window.local_extent(extent, parts) if window else local_extent(extent, parts, panel)


def local_extent(extent: int, parts: int, panel: int) -> int:
    """Elements of a dim of `extent` each of `parts` PEs holds, padding included."""
    panel = block_panel(extent, parts, panel)
    return math.ceil(math.ceil(extent / panel) / parts) * panel


def layout_for(affine_map: ir.AffineMap, row_loop: int | None, col_loop: int | None,
               ranges: list[int] | None = None) -> Layout:
    """The layout of an operand read through `affine_map` when loop `row_loop`
    is split over the PE rows and `col_loop` over the columns. A split loop
    that indexes a dim through windows (oh * stride + kh) splits it by output
    positions; `ranges`, the op's loop extents, give the windows' span."""
    terms = result_coefficients(affine_map)

    def split(loop: int | None) -> tuple[int, Window | None]:
        dim = next((i for i, term in enumerate(terms) if loop in term), -1)
        if dim < 0 or terms[dim] == {loop: 1}:
            return dim, None
        offsets = [(d, factor) for d, factor in terms[dim].items() if d != loop]
        return dim, Window(terms[dim][loop], index_extent(offsets, ranges))

    (row_dim, row_window), (col_dim, col_window) = split(row_loop), split(col_loop)
    return Layout(row_dim, col_dim, row_window=row_window, col_window=col_window)
