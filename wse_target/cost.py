"""Cycle-approximate costs of compute and communication on a wafer, over whole grids.

Every function works on numpy arrays shaped like the PE grid (or broadcastable to
it): the cost of an operation on 745,500 PEs is a handful of array expressions,
never a Python object per PE. Coordinates are (x, y) = (column, row); row 0 is the
north edge, so "south" is increasing y.
"""

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from wafer.wse_target.machine import DTYPE_BYTES, Dtype, Machine

# A rectangle of PEs: (x, y, width, height).
Rect = tuple[int, int, int, int]


def compute_cycles(
    machine: Machine,
    elements: ArrayLike,
    vector_length: ArrayLike,
    dtype: Dtype,
    *,
    scalar_operand: bool = False,
    simd_narrowing: ArrayLike = 1.0,
    kernels: ArrayLike = 1,
    datapath_cycles: ArrayLike | None = None,
) -> np.ndarray | float:
    """Cycles of one PE's local kernel, modelled as the instruction stream it runs.

    All array arguments broadcast, so each may be a scalar or an (H, W) array;
    given only plain numbers, it returns a float.
    `elements` element operations (an FMA, an add: one datapath slot each) are issued
    as DSD instructions of `vector_length` elements, one per tile row, in a loop;
    the loop runs `kernels` times (once per call of the kernel, e.g. per SUMMA step).

    Per kernel call: `kernel_setup_cycles` (DSD and loop set-up).
    Per instruction: `row_loop_cycles` (offset increment, loop counter, branch,
    stalls), `scalar_operand_cycles` when an operand is a scalar read from SRAM
    (the A element of an AXPY), `vector_startup_cycles` to issue, then its
    elements at the slower of
    - the datapath: the dtype's SIMD width x `simd_narrowing`, the fraction of
      the width that survives bank conflicts (see `stride_width` and
      `conflict_fraction`); or `datapath_cycles` per element where the kernel
      knows them (its instructions' own widths, `kernel.datapath_cycles`);
    - the SRAM ports: each element reads two operands and writes one, through
      `sram_reads_per_cycle` reads and `sram_writes_per_cycle` writes of
      `sram_port_bytes` each.

    Receiving from the fabric is not charged here: it runs on its own microthread
    and is the ramp term of the communication phase.
    """
    xp = np if any(isinstance(a, (np.ndarray, list, tuple))
                   for a in (elements, vector_length, simd_narrowing, kernels, datapath_cycles)) else _Scalars
    elements = xp.asarray(elements, dtype=np.float64)
    vector_length = xp.asarray(vector_length, dtype=np.float64)
    narrowing = xp.asarray(simd_narrowing, dtype=np.float64)
    if xp.any(elements < 0):
        raise ValueError("elements must be >= 0")
    if xp.any(vector_length < 1):
        raise ValueError("vector_length must be >= 1")
    if xp.any((narrowing <= 0) | (narrowing > 1)):
        raise ValueError("simd_narrowing must be in (0, 1]")
    element_bytes = DTYPE_BYTES[dtype]
    port = machine.sram_port_bytes
    datapath = 1.0 / (machine.fmas_per_cycle(dtype) * narrowing) if datapath_cycles is None else datapath_cycles
    per_element = xp.maximum(
        datapath,
        xp.maximum(2 * element_bytes / (machine.sram_reads_per_cycle * port),
                   element_bytes / (machine.sram_writes_per_cycle * port)),
    )
    # ceil() of a float product; the epsilon keeps an exact 14.0 from becoming 15.
    per_row = xp.ceil(vector_length * per_element - 1e-9)
    per_instruction = (machine.row_loop_cycles + machine.vector_startup_cycles
                       + (machine.scalar_operand_cycles if scalar_operand else 0))
    instructions = xp.ceil(elements / vector_length)
    setup = xp.where(elements > 0, machine.kernel_setup_cycles * xp.asarray(kernels, dtype=np.float64), 0.0)
    return setup + instructions * (per_instruction + per_row)


class _Scalars:
    """The numpy functions `compute_cycles` uses, on plain numbers: the
    placement model costs thousands of single kernels, where numpy's
    overhead per call would take most of the time."""

    maximum = staticmethod(max)
    ceil = staticmethod(math.ceil)
    any = staticmethod(bool)

    @staticmethod
    def asarray(value, dtype) -> float:
        return float(value)

    @staticmethod
    def where(condition: bool, then, otherwise):
        return then if condition else otherwise


def wavelets(elements: float, element_bytes: int, machine: Machine) -> float:
    """Wavelets `elements` of `element_bytes` take on the fabric: a fabric DSD
    moves one element per wavelet, so a 16-bit element rides alone in a 32-bit
    wavelet, as in the SDK's 16-bit memcpy mode."""
    return elements * math.ceil(element_bytes / machine.wavelet_bytes)


def stream_cycles(machine: Machine, per_row: float, hops: int, host_wavelets: float = 0.0) -> float:
    """A stream into (or out of) a region through its rows: `per_row` wavelets
    through each row's link, then `hops`; where `host_wavelets` of it cross
    the system's I/O (`host_io_bytes_per_second`), no faster than that."""
    return max(per_row / machine.link_wavelets_per_cycle + hops * machine.hop_cycles,
               host_wavelets * machine.wavelet_bytes / machine.host_io_bytes_per_cycle)


def stream_loads(share: float, height: int, width: int, split_rows: bool, split_cols: bool,
                 incoming: bool = True) -> tuple[float, int]:
    """(wavelets through each row link, hops beyond the row's) of streaming a
    tensor into (`incoming`) or out of a height x width region whose every
    PE holds `share` wavelets of it, split over the rows and columns or not.

    A router forwards a wavelet to its PE and on along the line at once
    (fabric multicast), so PEs that receive the same share receive it once:
    a row whose PEs all hold one share (not split over the columns) carries
    it once, and a tensor every row holds whole (not split over the rows) is
    streamed once, spread over the region's rows, and fanned out along the
    columns: each column link carries one share, `height` hops down. What
    streams out leaves from every PE, as each holds it (a result collected
    on one row, a lookup's, is not on the others)."""
    if not incoming:
        return share * width, 0
    per_row = share * (width if split_cols else 1)
    if split_rows or height == 1:
        return per_row, 0
    return max(per_row / height, share), height


def stride_width(width: int, stride: int) -> int:
    """The SIMD width an operand walked with `stride` elements allows (SDK appendix,
    'SIMD Mode'): strides 0 and 1 and stride % 8 in {2, 3, 5, 6} keep the full width,
    % 8 in {1, 7} allow 2, % 8 == 4 allows 2, % 8 == 0 allows 1."""
    if stride in (0, 1) or stride % 8 in (2, 3, 5, 6):
        return width
    return min(width, 1 if stride % 8 == 0 else 2)


def simd_narrowing(width: int, strides: list[int], conflicts: float) -> float:
    """The fraction of `width` a kernel keeps: the narrowest operand stride's width,
    halved (not below 1) on the `conflicts` fraction of its instructions whose
    operands collide in a bank pair, as the two reads then take two cycles."""
    strided = min((stride_width(width, s) for s in strides), default=width)
    halved = max(strided / 2, 1.0)
    return 1.0 / (((1.0 - conflicts) / strided + conflicts / halved) * width)


def start_residues(terms: Sequence[tuple[int, int]], offset: int = 0) -> np.ndarray:
    """How row starts `offset` + sum of i_t * step_t (each i_t in range(extent_t),
    one term per (step in bytes, extent)) spread over addresses mod 8: a
    distribution over the 8 residues. The terms are independent, so the
    distribution is the cyclic convolution of each term's own."""
    spread = [0.0] * 8
    spread[offset % 8] = 1.0
    for step, extent in terms:
        if extent > 1:
            steps = [0.0] * 8  # index i lands i * step on, which repeats every 8 indices
            for i in range(min(extent, 8)):
                steps[i * step % 8] += len(range(i, extent, 8)) / extent
            spread = [sum(spread[(r - shift) % 8] * share for shift, share in enumerate(steps) if share)
                      for r in range(8)]
    return np.array(spread)


def conflict_fraction(rows0: np.ndarray, rows1: np.ndarray) -> float:
    """The fraction of instructions whose two vector operands collide in a bank pair.

    `rows0` and `rows1` are `start_residues` of the two operands each instruction
    reads (e.g. the accumulator and the streamed input). The SDK appendix's
    rule: the two reads of a cycle must come from banks 0-3 apart mod 4,
    which holds when both are 32-bit aligned and src0 % 8 == (src1 + 4) % 8.
    Every pair of rows is counted, as in an AXPY loop over (row of src0, row of src1).
    """
    fine = sum(rows0[r] * rows1[(r + 4) % 8] for r in (0, 4))
    return float(1.0 - fine)


def unavoidable_conflicts(rows0: np.ndarray, rows1: np.ndarray) -> float:
    """`conflict_fraction` where the later buffer is placed at the better of two
    consecutive words (what wse-align-banks chooses between)."""
    return min(conflict_fraction(rows0, rows1), conflict_fraction(rows0, np.roll(rows1, 4)))


@functools.cache
def row_reduce_cycles(machine: Machine, cols: int, wavelets: float) -> float:
    """A vector of `wavelets` chain-reduced along a row of `cols` PEs into its
    first and multicast back, as wse-distribute combines a reduction split over
    the columns: the two phases as the simulator costs them (`LinkLoads`), on
    one row of that length."""
    row = dataclasses.replace(machine, width=cols, height=1)
    total = 0.0
    for add in (LinkLoads.add_row_reduce, LinkLoads.add_row_multicast):
        loads = LinkLoads(row)
        add(loads, 0, 1, 0, 0, cols, wavelets)
        total += loads.phase_cycles()
    return total


class LinkLoads:
    """Wavelets carried by every link of the grid during one communication phase.

    `east`, `west`, `north` and `south` hold the wavelets each PE's router sends to
    that neighbour; `ramp_in` and `ramp_out` the wavelets between each router and its
    own core. Flows are added in bulk over rectangles and all run concurrently; routing
    is dimension-ordered (X, then Y) and pipelined (wormhole), so a flow costs its hop
    distance plus its length, and flows sharing a link serialize.
    """

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        shape = (machine.height, machine.width)
        self.east, self.west, self.north, self.south = (np.zeros(shape) for _ in range(4))
        self.ramp_in, self.ramp_out = np.zeros(shape), np.zeros(shape)
        self.max_hops = 0
        self.max_depth = 0

    def add_row_multicast(
        self, y0: int, y1: int, x_root: int, x0: int, x1: int, wavelets: float
    ) -> None:
        """In each row y0 <= y < y1, the PE at x_root broadcasts to columns [x0, x1)."""
        self._check_span(y0, y1, self.machine.height, "rows")
        self._multicast(self.east, self.west, self.ramp_in, self.ramp_out,
                        slice(y0, y1), x_root, x0, x1, wavelets, self.machine.width)

    def add_col_multicast(
        self, x0: int, x1: int, y_root: int, y0: int, y1: int, wavelets: float
    ) -> None:
        """In each column x0 <= x < x1, the PE at y_root broadcasts to rows [y0, y1)."""
        self._check_span(x0, x1, self.machine.width, "columns")
        self._multicast(self.south.T, self.north.T, self.ramp_in.T, self.ramp_out.T,
                        slice(x0, x1), y_root, y0, y1, wavelets, self.machine.height)

    def add_row_reduce(
        self, y0: int, y1: int, x_root: int, x0: int, x1: int, wavelets: float
    ) -> None:
        """In each row y0 <= y < y1, columns [x0, x1) sum a vector into x_root.

        A chain reduce: each PE adds its vector to the stream passing through and
        forwards it toward the root, so every link carries `wavelets` once and every
        hop is a dependent step through a core (Luczynski et al. 2024, "Chain").
        """
        self._check_span(y0, y1, self.machine.height, "rows")
        self._reduce(self.east, self.west, self.ramp_in, self.ramp_out,
                     slice(y0, y1), x_root, x0, x1, wavelets, self.machine.width)

    def add_col_reduce(
        self, x0: int, x1: int, y_root: int, y0: int, y1: int, wavelets: float
    ) -> None:
        """In each column x0 <= x < x1, rows [y0, y1) chain-reduce a vector into y_root."""
        self._check_span(x0, x1, self.machine.width, "columns")
        self._reduce(self.south.T, self.north.T, self.ramp_in.T, self.ramp_out.T,
                     slice(x0, x1), y_root, y0, y1, wavelets, self.machine.height)

    def add_col_gather(self, x0: int, x1: int, y_root: int, y0: int, shares: np.ndarray) -> None:
        """In each column x0 <= x < x1, row y0 + i sends `shares[i]` wavelets of its own
        to y_root along a chain: each core on the way receives what comes from
        beyond it and sends it on with its own, as a chain reduce, but nothing is
        summed, so a link carries every share from past it."""
        self._check_span(x0, x1, self.machine.width, "columns")
        y1 = y0 + len(shares)
        self._check_span(y0, y1, self.machine.height, "contributors")
        root = y_root - y0
        from_above = np.cumsum(shares[:root])[:, None]  # what each row above the root sends south
        from_below = np.cumsum(shares[root + 1:][::-1])[::-1][:, None]  # and each row below it, north
        columns = slice(x0, x1)
        self.south[y0:y_root, columns] += from_above
        self.north[y_root + 1:y1, columns] += from_below
        senders = np.r_[y0:y_root, y_root + 1:y1]
        toward_root = np.concatenate([from_above, from_below])
        self.ramp_out[senders, columns] += toward_root
        receivers = senders + np.where(senders < y_root, 1, -1)
        np.add.at(self.ramp_in, (receivers, columns), toward_root)  # the root hears from both sides
        held = np.flatnonzero(shares)
        hops = int(np.abs(held + y0 - y_root).max()) if held.size else 0
        self.max_hops = max(self.max_hops, hops)
        self.max_depth = max(self.max_depth, hops)

    def add_shift(
        self, rect: Rect, dx: int, dy: int, wavelets: float, *, wrap: bool = False,
        folded: bool = False,
    ) -> None:
        """Every PE of `rect` sends `wavelets` to the PE (dx, dy) away (halo, Cannon).

        With `wrap`, destinations wrap around inside `rect` (a cyclic shift); the mesh
        has no wrap-around links, so wrapping flows cross the rectangle the long way.
        `folded` (with `wrap`, along one axis): the PEs along the shift are numbered
        in interleaved order (see `_add_folded_shift`).
        """
        x, y, w, h = rect
        self._check_span(x, x + w, self.machine.width, "columns")
        self._check_span(y, y + h, self.machine.height, "rows")
        if folded:
            self._add_folded_shift(rect, dx, dy, wavelets)
        elif not wrap:
            self._shift(rect, dx, dy, wavelets)
        else:
            for px, pw, sx in _cyclic_pieces(x, w, dx):
                for py, ph, sy in _cyclic_pieces(y, h, dy):
                    self._shift((px, py, pw, ph), sx, sy, wavelets)

    def total(self) -> np.ndarray:
        """(H, W) wavelets each router sends over its four links."""
        return self.east + self.west + self.north + self.south

    def phase_cycles(self) -> float:
        """Cycles for all added flows to complete, running concurrently.

        The model of Luczynski et al. 2024: max(ramp contention, link serialization +
        distance) + depth x (2 x ramp latency + 1), where link serialization is the
        busiest link's load over the link rate, distance the longest flow's hops, and
        depth the longest chain of dependent core steps (reductions only).
        """
        m = self.machine
        links = max(a.max() for a in (self.east, self.west, self.north, self.south))
        ramps = max(self.ramp_in.max(), self.ramp_out.max())
        wire = links / m.link_wavelets_per_cycle + self.max_hops * m.hop_cycles
        steps = self.max_depth * (2 * m.ramp_latency_cycles + 1)
        return float(max(ramps / m.link_wavelets_per_cycle, wire) + steps)

    # The line helpers work on (line, position) arrays: rows as they are, columns through
    # the transposed views, which write through to the grid arrays.

    def _multicast(
        self, fwd: np.ndarray, back: np.ndarray, ramp_in: np.ndarray, ramp_out: np.ndarray,
        lines: slice, root: int, lo: int, hi: int, n: float, size: int,
    ) -> None:
        self._check_span(lo, hi, size, "destinations")
        self._check_span(root, root + 1, size, "root")
        fwd[lines, root : hi - 1] += n
        back[lines, lo + 1 : root + 1] += n
        ramp_out[lines, root] += n
        ramp_in[lines, lo:hi] += n
        if lo <= root < hi:
            ramp_in[lines, root] -= n
        self.max_hops = max(self.max_hops, hi - 1 - root, root - lo)

    def _reduce(
        self, fwd: np.ndarray, back: np.ndarray, ramp_in: np.ndarray, ramp_out: np.ndarray,
        lines: slice, root: int, lo: int, hi: int, n: float, size: int,
    ) -> None:
        self._check_span(lo, hi, size, "contributors")
        if not lo <= root < hi:
            raise ValueError(f"reduce root {root} is outside its contributors [{lo}, {hi})")
        fwd[lines, lo:root] += n
        back[lines, root + 1 : hi] += n
        ramp_out[lines, lo:hi] += n
        ramp_out[lines, root] -= n
        ramp_in[lines, lo + 1 : root + 1] += n
        ramp_in[lines, root : hi - 1] += n
        hops = max(hi - 1 - root, root - lo)
        self.max_hops = max(self.max_hops, hops)
        self.max_depth = max(self.max_depth, hops)

    def _shift(self, rect: Rect, dx: int, dy: int, n: float) -> None:
        x, y, w, h = rect
        if w == 0 or h == 0 or dx == dy == 0:
            return
        self._check_span(x + dx, x + dx + w, self.machine.width, "shifted columns")
        self._check_span(y + dy, y + dy + h, self.machine.height, "shifted rows")
        if dx:  # X leg, along the source rows.
            links = self.east if dx > 0 else self.west
            links[y : y + h, :] += n * _crossings(self.machine.width, x, w, dx)
        if dy:  # Y leg, along the destination columns.
            links = self.south if dy > 0 else self.north
            crossings = _crossings(self.machine.height, y, h, dy)
            links[:, x + dx : x + dx + w] += n * crossings[:, None]
        self.ramp_out[y : y + h, x : x + w] += n
        self.ramp_in[y + dy : y + dy + h, x + dx : x + dx + w] += n
        self.max_hops = max(self.max_hops, abs(dx) + abs(dy))

    def _add_folded_shift(self, rect: Rect, dx: int, dy: int, n: float) -> None:
        """A cyclic shift over a folded ring (WaferLLM's MeshGEMM interleaving).

        Ring position r sits at 2r for the first half of the line and counts back
        down the odd positions for the second (0, 2, 4, ..., 5, 3, 1), so ring
        neighbours are at most 2 PEs apart. A shift by d moves the even PEs' data
        one way and the odd PEs' the other: every link between two PEs of the
        line carries |d| flows in each direction, each flow at most 2|d| hops.
        """
        if dx and dy:
            raise ValueError("a folded shift moves along one axis")
        x, y, w, h = rect
        d, size = (dx, w) if dx else (dy, h)
        d = abs(d) % size
        if d == 0:
            return
        if dx:
            self.east[y : y + h, x : x + w - 1] += d * n
            self.west[y : y + h, x + 1 : x + w] += d * n
        else:
            self.south[y : y + h - 1, x : x + w] += d * n
            self.north[y + 1 : y + h, x : x + w] += d * n
        self.ramp_out[y : y + h, x : x + w] += n
        self.ramp_in[y : y + h, x : x + w] += n
        self.max_hops = max(self.max_hops, min(2 * d, size - 1))

    @staticmethod
    def _check_span(lo: int, hi: int, size: int, what: str) -> None:
        if not 0 <= lo < hi <= size:
            raise ValueError(f"{what} [{lo}, {hi}) is empty or outside the grid's [0, {size})")


def _crossings(size: int, start: int, count: int, d: int) -> np.ndarray:
    """Flows leaving each position when sources [start, start + count) each move d steps.

    The link out of position c (toward +d) carries the sources s with s <= c < s + d
    for d > 0, and s + d < c <= s for d < 0: a prefix-sum window count.
    """
    sources = np.zeros(size)
    sources[start : start + count] = 1
    prefix = np.concatenate(([0.0], np.cumsum(sources)))
    c = np.arange(size)
    lo, hi = (c - d + 1, c + 1) if d > 0 else (c, c - d)
    return prefix[np.clip(hi, 0, size)] - prefix[np.clip(lo, 0, size)]


def _cyclic_pieces(start: int, size: int, d: int) -> list[tuple[int, int, int]]:
    """(first, count, shift) pieces of a cyclic shift by d within [start, start + size)."""
    d = int(np.sign(d)) * (abs(d) % size)
    if d >= 0:
        return [(start, size - d, d), (start + size - d, d, d - size)]
    return [(start - d, size + d, d), (start, -d, d + size)]
