"""wse-place's time model: what a region asks of the fabric (`Demand`), and its
cycles on a rectangle, costed as the simulator costs the same program. A
region's Demand is built from its IR by `wse_region_demand.demand`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

from torch_mlir import ir

from ..dialects.wse import element_bytes
from ..wse_target.distribution import (
    SRAM_SHARE, Contraction, PlacedTensor, SummaRoles, cannon_fits, overwritten_input, placed_tensors)
from ..wse_target.cost import row_reduce_cycles, stream_cycles, stream_loads, wavelets
from ..wse_target.kernel import kernel_dtype
from ..wse_target.lookup import (ROWS_LAYOUT, TABLE_LAYOUT, lookup_bytes_per_pe, lookup_compute_cycles, lookup_of,
                                 result_layout)
from ..wse_target.machine import WSE2, Machine
from .linalg_queries import reduction_dims
from .wse_partition import CANNON, ROWWISE, SUMMA

# A SUMMA's panel is searched among `base_panel` times 1, 2, 4 and 8: in a sweep
# of every contraction of the bench/wse.py zoo widened alike, x2 to x8 won and
# x16 lost on every model; each width costs the placement a plan per rectangle.
PANEL_WIDENINGS = 4


@dataclass(frozen=True)
class Demand:
    """What a region asks of the fabric: its work, the most PEs it can use,
    and a model of its time on a rectangle, to choose one by.

    Compute is each op's instruction stream on one PE's share, as the
    simulator's kernel model costs it (`LocalKernel`: per-instruction and
    per-call overheads, so a split that leaves short rows shows its cost).
    Streams are costed as the simulator costs each scatter in (and the
    gather of a result that leaves): every PE's own share of the tensor,
    padded as wse-distribute lays it out, through its row's link, a share
    several PEs receive once (`stream_loads`), then the row's hops, across
    the region it comes from where that is known (a layer at a time);
    through the host's I/O no faster than it allows (`stream_cycles`). A
    contraction's steps move its panels one after the other (as the simulator runs them), by SUMMA's multicasts or,
    on a square where they model faster, Cannon's shifts (`_stepped`); or,
    where that models faster still, as a rowwise region (`locals`, one per
    choice of the loops it splits): each PE its own outputs over all of k,
    the operands the split loops do not index (a grouped convolution's
    weights) whole on every PE.
    """

    flops: float
    max_rows: int
    max_cols: int
    divides: bool  # rows and columns must divide the split extents exactly
    bytes: int  # every tensor the region reads or writes, once
    # (tensor, crosses the host's I/O, columns it crosses from) of each streamed in every inference
    streams: tuple = ()
    leaving: ir.Value | None = None  # the tensor the region yields, where it goes back to the host
    mnk: tuple[int, int, int] | None = None  # a summa region's extents
    _per_pe: dict = field(default_factory=dict, compare=False, repr=False)  # (rows, cols) -> bytes
    _cycles: dict = field(default_factory=dict, compare=False, repr=False)  # (rows, cols[, panel]) -> cycles
    _panels: dict = field(default_factory=dict, compare=False, repr=False)  # (rows, cols) -> a SUMMA's panels
    _plans: dict = field(default_factory=dict, compare=False, repr=False)  # (rows, cols, panel) -> SummaPlan
    _local: dict = field(default_factory=dict, compare=False, repr=False)  # (rows, cols) -> local ops' shares
    _algorithms: dict = field(default_factory=dict, compare=False, repr=False)  # (rows, cols) -> `algorithms`
    _shapes: dict = field(default_factory=dict, compare=False, repr=False)  # (rows, cols, sram) -> `shape`
    anchor: ir.Operation | None = None  # a summa region's contraction
    placed: tuple = ()  # the ops run locally on each PE, with the loops over its rows and columns
    machine: Machine = WSE2  # the kernel costs
    sram_bytes: int = WSE2.sram_bytes  # of one PE of the fabric
    kernels: tuple = ()  # a LocalKernel per op of `placed`
    stepped: tuple = ()  # a summa region's contraction: its LocalKernel and (m, n, k) loops
    contraction: Contraction | None = None  # a summa region's anchor's (as_contraction)
    lookup: ir.Operation | None = None  # a lookup region's generic
    locals: tuple = ()  # a summa region run rowwise, k whole on each PE: a Demand per choice of split loops
    fills: tuple = ()  # (LocalKernel, row loop, column loop) of each init filled on the PEs (`_fills`)

    def bytes_per_pe(self, rows: int, cols: int, panel: int = 0) -> int:
        """One PE's share of the region's buffers on a rows x cols rectangle,
        laid out exactly as wse-distribute will (padded blocks, panels of
        `panel` elements of k, or `base_panel`'s)."""
        key = (rows, cols, panel)
        if key not in self._per_pe and self.lookup is not None:
            self._per_pe[key] = lookup_bytes_per_pe(lookup_of(self.lookup), self.lookup.results[0], rows, cols)
        if key not in self._per_pe:
            summa = self.plan(rows, cols, panel).bytes_per_pe(self.anchor, rows, cols) if self.anchor else 0
            self._per_pe[key] = summa + sum(share.bytes for share in self._placed_shares(rows, cols))
        return self._per_pe[key]

    @cached_property
    def _placed_tensors(self) -> list[PlacedTensor]:
        """The local ops' `placed_tensors` (the contraction's result aside), read off the IR once."""
        return placed_tensors(list(self.placed), tuple(self.anchor.results) if self.anchor is not None else ())

    def _placed_shares(self, rows: int, cols: int) -> list:
        """The local ops' shares of their tensors on rows x cols, whatever a SUMMA's panel."""
        if (rows, cols) not in self._local:
            self._local[rows, cols] = [tensor.share(rows, cols) for tensor in self._placed_tensors]
        return self._local[rows, cols]

    def sharing_timings(self, twin: Demand) -> Demand:
        """This demand with `twin`'s caches of sizes, plans, panels and times,
        `twin` a region alike in structure and streams (`demands_of`): what
        one times, the other reuses. Caches that hold this region's own
        values (its tensors' shares) stay its own."""
        return replace(self, _per_pe=twin._per_pe, _cycles=twin._cycles, _panels=twin._panels, _plans=twin._plans,
                       _algorithms=twin._algorithms, _shapes=twin._shapes,
                       locals=tuple(mine.sharing_timings(theirs) for mine, theirs in zip(self.locals, twin.locals)))

    def fits(self, rows: int, cols: int, sram_bytes: int, panel: int = 0) -> bool:
        """The region's buffers fit one PE's SRAM, with 10% to spare for what
        `bytes_per_pe` does not see."""
        return self.bytes_per_pe(rows, cols, panel) <= SRAM_SHARE * sram_bytes

    def double_buffers(self, rows: int, cols: int, panel: int = 0) -> bool:
        """Does a summa region on rows x cols hold a second set of panels, as
        wse-distribute then gives it?"""
        extra = self.plan(rows, cols, panel).panel_bytes_per_pe(self.anchor, rows, cols)
        return self.bytes_per_pe(rows, cols, panel) + extra <= SRAM_SHARE * self.sram_bytes

    def plan(self, rows: int, cols: int, panel: int = 0):
        """`summa_plan` of the region's contraction, once per shape and panel."""
        key = (rows, cols, panel or self._base_panel(rows, cols))
        if key not in self._plans:
            self._plans[key] = self._roles.plan(key[2])
        return self._plans[key]

    @cached_property
    def _roles(self) -> SummaRoles:
        return SummaRoles.of(self.anchor, self.contraction)

    def _base_panel(self, rows: int, cols: int) -> int:
        return math.ceil(self.mnk[2] / max(rows, cols))  # `base_panel`, without asking the IR

    def panels(self, rows: int, cols: int) -> list[int]:
        """The panels of k a SUMMA on rows x cols may step by: `base_panel` times
        1, 2, 4 and 8 (up to all of k) that fit the SRAM, the modelled fastest
        first. A wider panel takes fewer steps, each paying its kernel call
        and its multicasts' hops once, but its block-cyclic deal pads k to
        whole panels: more of A and B to hold and to stream in, and less room
        for a second set of panels."""
        if (rows, cols) not in self._panels:
            base, k = self._base_panel(rows, cols), self.mnk[2]
            widths = sorted({min(base << i, k) for i in range(PANEL_WIDENINGS)})
            fitting = [w for w in widths if w == base or self.fits(rows, cols, self.sram_bytes, w)]
            self._panels[rows, cols] = sorted(fitting, key=lambda w: (self._summa_cycles(rows, cols, w), w))
        return self._panels[rows, cols]

    def panel(self, rows: int, cols: int) -> int:
        """The panel the model finds fastest (`panels`)."""
        return self.panels(rows, cols)[0]

    def _summa_cycles(self, rows: int, cols: int, panel: int) -> float:
        if (rows, cols, panel) not in self._cycles:
            self._cycles[rows, cols, panel] = self.stream_cycles(rows, cols, panel) + self._stepped(
                rows, cols, SUMMA, panel)
        return self._cycles[rows, cols, panel]

    def min_cols(self, rows: int, sram_bytes: int) -> int:
        return math.ceil(self.bytes / (min(rows, self.max_rows) * 0.8 * sram_bytes))

    def cycles(self, rows: int, cols: int) -> float:
        """Modelled cycles on rows x cols; a contraction's by its fastest algorithm there."""
        if self.locals and self.algorithm(rows, cols) == ROWWISE:
            return self.local_at(rows, cols).cycles(rows, cols)
        return self._own_cycles(rows, cols)

    def local_at(self, rows: int, cols: int) -> Demand | None:
        """Of a contraction's `locals`, the fastest that holds on rows x cols."""
        held = [local for local in self.locals if local.holds(rows, cols)]
        return min(held, key=lambda local: local.cycles(rows, cols), default=None)

    @property
    def loops(self) -> tuple[int | None, int | None]:
        """The loops of a rowwise region's first op split over the rows and columns."""
        return self.placed[0][1:]

    def _own_cycles(self, rows: int, cols: int) -> float:
        """Cycles as this region's own kind (a contraction's stepped)."""
        if (rows, cols) not in self._cycles:
            self._cycles[rows, cols] = self._time(rows, cols)
        return self._cycles[rows, cols]

    def holds(self, rows: int, cols: int) -> bool:
        """Can the region run on rows x cols, its buffers in one PE's SRAM (a
        contraction's stepped or run locally)?"""
        if any(local.holds(rows, cols) for local in self.locals):
            return True
        if rows > self.max_rows or cols > self.max_cols or not self.fits(rows, cols, self.sram_bytes):
            return False
        return not self.divides or (self.max_rows % rows == 0 and self.max_cols % cols == 0)

    def layouts(self, rows: int, cols: int, panel: int = 0) -> dict:
        """The layout of each tensor the region reads or writes on rows x cols
        (a SUMMA's in panels of `panel`), as wse-distribute lays it out. Only
        a SUMMA's depend on the shape; the others' dict is made once, and is
        not to be changed."""
        if self.lookup is not None:
            found = lookup_of(self.lookup)
            return {found.table: TABLE_LAYOUT, found.rows: ROWS_LAYOUT,
                    self.lookup.results[0]: result_layout(found.rank)}
        if self.anchor is None:
            return self._local_layouts
        layouts = dict(self.plan(rows, cols, panel).layouts(self.anchor))
        layouts[self.anchor.results[0]] = layouts[self.anchor.operands[len(self.anchor.operands) - 1]]
        return self._with_local_layouts(layouts)

    @cached_property
    def _local_layouts(self) -> dict:
        return self._with_local_layouts({})

    def _with_local_layouts(self, layouts: dict) -> dict:
        """`layouts` and those of the local ops' tensors it lacks."""
        layouts.update({tensor.value: tensor.layout for tensor in self._placed_tensors if tensor.value not in layouts})
        for written, pairs in self._inits_and_results:  # laid out as the input written over
            for init, result in pairs:
                layout = layouts.get(result) or layouts.get(written)
                for value in (init, result):
                    if value not in layouts and layout is not None:
                        layouts[value] = layout
        return layouts

    @cached_property
    def _inits_and_results(self) -> list[tuple[ir.Value | None, tuple[tuple[ir.Value, ir.Value], ...]]]:
        """Per local op, the input its result is written over (if any) and each (init, result)."""
        return [(overwritten_input(op), tuple(zip(list(op.operands)[len(op.operands) - len(op.results):], op.results)))
                for op, _, _ in self.placed]

    def shares(self, rows: int, cols: int, panel: int = 0) -> dict:
        """One PE's share (local shape) of each tensor the region reads or writes
        on rows x cols (a SUMMA's in panels of `panel`), as wse-distribute lays it out."""
        return {value: layout.share_of(value, rows, cols)
                for value, layout in self.layouts(rows, cols, panel).items()}

    def stream_cycles(self, rows: int, cols: int, panel: int = 0) -> float:
        """The region's streams as the simulator costs each `wse.scatter` in (and
        the `wse.gather` of a result that leaves): every PE of a row receives its
        own share, one wavelet a cycle through the row's link (a share several
        PEs hold, once: `stream_loads`), then the row's hops; what crosses the
        host's I/O no faster than it allows."""
        layouts, total = self.layouts(rows, cols, panel), 0.0
        flows = [(value, host, reach, True) for value, host, reach in self.streams]
        if self.leaving is not None:
            flows.append((self.leaving, True, 0, False))
        for value, host, reach, into in flows:
            shaped = ir.ShapedType(value.type)
            element = element_bytes(shaped.element_type)
            layout = layouts[value]
            share = wavelets(math.prod(layout.share_of(value, rows, cols)), element, self.machine)
            per_row, fanned = stream_loads(share, rows, cols, *layout.splits_over(rows, cols), into)
            whole = wavelets(math.prod(shaped.shape), element, self.machine) if host else 0.0
            total += stream_cycles(self.machine, per_row, max(cols, reach) + fanned, whole)
        return total

    def _time(self, rows: int, cols: int) -> float:
        compute = self._compute(rows, cols)
        if self.mnk is not None:
            return compute + min(self._stepped_and_streamed(rows, cols, algorithm)
                                 for algorithm in self._stepped_algorithms(rows, cols))
        stream = self.stream_cycles(rows, cols)
        if self.lookup is not None:  # as the simulator costs a wse.lookup, and its chain down the columns
            result = ir.RankedTensorType(self.lookup.results[0].type)
            count = math.prod(result.shape[:-1])
            columns = math.ceil(result.shape[-1] / cols)
            dtype = kernel_dtype([lookup_of(self.lookup).table], self.lookup.results[0], accumulates=False)
            return stream + lookup_compute_cycles(self.machine, count, columns, dtype) + count * columns + rows
        return stream + compute + self._combined_across(rows, cols)

    def _combined_across(self, rows: int, cols: int) -> float:
        """Each reduction split over the columns, its partial results reduced
        along every row and multicast back (`row_reduce_cycles`)."""
        reduced = [op.results[0] for op, _, col in self.placed if col is not None and col in reduction_dims(op)]
        if cols == 1 or not reduced:
            return 0.0
        shares = self.shares(rows, cols)
        return sum(row_reduce_cycles(self.machine, cols, wavelets(
            math.prod(shares[result]), element_bytes(ir.ShapedType(result.type).element_type), self.machine))
            for result in reduced)

    def _compute(self, rows: int, cols: int) -> float:
        """The local ops' instruction streams (a summa region's epilogue), and
        the fills of the inits they read."""
        split = [(kernel, row, col) for kernel, (_, row, col) in zip(self.kernels, self.placed)]
        return sum(kernel.cycles(_local(kernel.ranges, {row: rows, col: cols}), self.machine)
                   for kernel, row, col in split + list(self.fills))

    def _stepped_and_streamed(self, rows: int, cols: int, algorithm: str) -> float:
        """A contraction's steps and its streams: SUMMA's in its chosen panel."""
        if algorithm == SUMMA:
            return self._summa_cycles(rows, cols, self.panel(rows, cols))
        return self.stream_cycles(rows, cols) + self._stepped(rows, cols, algorithm)

    def algorithms(self, rows: int, cols: int) -> tuple[str, ...]:
        """The ways a summa region may run on rows x cols, the modelled fastest
        first: SUMMA's multicasts and Cannon's shifts where they apply
        (`cannon_fits`) and its panels fit, and rowwise where its local
        shares fit; none for a rowwise region."""
        if self.anchor is None:
            return ()
        if (rows, cols) in self._algorithms:
            return self._algorithms[rows, cols]
        costs = {}
        if self.fits(rows, cols, self.sram_bytes):
            compute = self._compute(rows, cols)
            costs = {algorithm: compute + self._stepped_and_streamed(rows, cols, algorithm)
                     for algorithm in self._stepped_algorithms(rows, cols)}
        if (local := self.local_at(rows, cols)) is not None:
            costs[ROWWISE] = local.cycles(rows, cols)
        self._algorithms[rows, cols] = tuple(sorted(costs, key=costs.get))
        return self._algorithms[rows, cols]

    def _stepped_algorithms(self, rows: int, cols: int) -> tuple[str, ...]:
        """The ways to step k on rows x cols: SUMMA, and Cannon where it applies."""
        return (SUMMA, CANNON) if cannon_fits(self.anchor, rows, cols, self.plan(rows, cols)) else (SUMMA,)

    def algorithm(self, rows: int, cols: int) -> str:
        """A summa region's modelled fastest way to run on rows x cols."""
        return self.algorithms(rows, cols)[0]

    def _stepped(self, rows: int, cols: int, algorithm: str, panel: int = 0) -> float:
        """Cycles of the stepped contraction, in steps of `panel` elements of k
        (0, and Cannon's: `base_panel`): each step's product, and its
        transfers, each its wavelets plus its length in hops. A SUMMA step
        multicasts an a panel along the rows and a b panel down the columns;
        a Cannon step shifts both one PE over a folded ring (2 hops), always
        into a second buffer, under the next step's product."""
        panel = panel or self._base_panel(rows, cols)
        steps = math.ceil(self.mnk[2] / panel)
        moved = {role: wavelets(elements, element_bytes(ir.ShapedType(value.type).element_type), self.machine)
                 for value, role, elements in self.plan(rows, cols, panel).panels(self.anchor, rows, cols)}
        a_wavelets, b_wavelets = moved.get("a", 0.0), moved.get("b", 0.0)
        if algorithm == CANNON:
            transfers = steps * (a_wavelets + b_wavelets + 2 * min(2, rows - 1))
            double = True
        else:
            transfers = steps * (a_wavelets + cols + b_wavelets + rows)
            double = self.double_buffers(rows, cols, panel)
        kernel, (m_loop, n_loop, k_loop) = self.stepped
        local = _local(kernel.ranges, {m_loop: rows, n_loop: cols})
        if k_loop is not None:
            local[k_loop] = panel
        product = kernel.cycles(local, self.machine, steps)
        if double:  # a step's transfers run under the previous step's product
            transfers = max(transfers - product, 0.0) + transfers / steps
        return product + transfers

    def shape(self, rows: int, cols: int, sram_bytes: int) -> tuple[int, int] | None:
        """The fastest rectangle within `rows` x `cols` that holds the region
        (the fewest PEs among equals); None if none does."""
        key = (rows, cols, sram_bytes)
        if key not in self._shapes:
            self._shapes[key] = min(self._options(rows, cols, sram_bytes), default=(None,))[-1]
        return self._shapes[key]

    def candidates(self, rows: int, cols: int, sram_bytes: int) -> list[tuple[int, int]]:
        """Every rectangle within `rows` x `cols` that holds the region, as `shape` ranks them."""
        return list(dict.fromkeys(shape for *_, shape in sorted(self._options(rows, cols, sram_bytes))))

    def holds_within(self, rows: int, cols: int, sram_bytes: int) -> bool:
        """Does some rectangle within `rows` x `cols` hold the region?"""
        return bool(self._fitting(rows, cols, sram_bytes)) or any(
            local.holds_within(rows, cols, sram_bytes) for local in self.locals)

    def _options(self, rows: int, cols: int, sram_bytes: int) -> list[tuple[float, int, tuple[int, int]]]:
        """(modelled cycles, PEs, shape) of each rectangle within `rows` x `cols`
        that holds the region: its own (a contraction's stepped), and those
        on which it runs rowwise (`locals`)."""
        found = [(self._own_cycles(r, c), r * c, (r, c)) for r, c in self._fitting(rows, cols, sram_bytes)]
        return found + [option for local in self.locals for option in local._options(rows, cols, sram_bytes)]

    def _fitting(self, rows: int, cols: int, sram_bytes: int) -> list[tuple[int, int]]:
        shapes = {(r, c) for r in rectangle_sides(min(rows, self.max_rows), self.max_rows, self.divides)
                  for c in rectangle_sides(min(cols, self.max_cols), self.max_cols, self.divides)}
        if self.mnk is not None:
            shapes.add(self._cannon_square(min(rows, cols, self.max_rows, self.max_cols)))
        return sorted(shape for shape in shapes if self.fits(*shape, sram_bytes))

    def _cannon_square(self, side: int) -> tuple[int, int]:
        """The largest square of at most `side` PEs a side on which k splits
        into one block per PE row, as Cannon's shifts need: with k in blocks
        of ceil(k / side), ceil(k / block) of them."""
        k = self.mnk[2]
        blocks = math.ceil(k / math.ceil(k / side))
        return blocks, blocks


def rectangle_sides(limit: int, extent: int, divides: bool) -> list[int]:
    """Candidate extents up to `limit`, ascending: divisors of `extent` when the
    split must be exact, else powers of two and the limit itself."""
    if divides:
        return [d for d in range(1, limit + 1) if extent % d == 0]
    return sorted({1 << i for i in range(limit.bit_length()) if 1 << i <= limit} | {limit})


def _local(ranges: tuple[int, ...], split: dict) -> list[int]:
    """One PE's extents of loops `ranges` when loop d is split `split[d]` ways."""
    return [math.ceil(extent / split[d]) if d in split else extent for d, extent in enumerate(ranges)]
