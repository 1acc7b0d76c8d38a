"""Run a `wse` program: real numbers on whole-grid numpy arrays, and cycles from the cost model.

Numerics: a region's per-PE buffer of shape S is one array of shape (H, W, *S);
transfers are array moves (a multicast is a broadcast along an axis, a reduce a
reduction along it) and `wse.compute` bodies go through the interpreter with the
grid as two batch dims. Ops between regions (reshapes, transposes) run on
whole tensors: they are the data movement of the streams that feed regions.

Timing needs no data: each region's phases are costed from the IR alone with
`cost.compute_cycles` and `cost.LinkLoads`, one after another. FLOPs are the
model's (the region's `flops`), not the padded work the PEs execute, so % of
peak counts useful work only. A layer-pipelined program (all regions in slot
0) starts an inference every stage time, its slowest stage's; each stage
starts on an inference as soon as the stages it reads from have finished it,
so the latency is the longest chain of stages (`_ready`). Weights are loaded
once, before it starts, and that load is not counted. In whole-wafer mode
every layer loads its weights each inference, one region after another.

What the timing leaves out:
- streaming within an inference: a pipeline stage starts when the stages
  before it have finished, not as their first rows arrive, so a pipeline's
  latency is an upper bound;
- overlap within a single-buffered step: it receives, then computes (a
  double-buffered `wse.steps` overlaps one step's transfers with the product
  before it);
- in the local kernels: task switches, and any padding a code generator would
  add to buffers (each instruction's own SIMD width is modelled, `kernel.py`);
- where a step's multicast starts: each is costed from the end of its line,
  the longest way, an upper bound;
- contention between transfers of different regions, and between a region's
  streams: each stream is one wavelet per row per cycle plus its distance;
- the data movement between regions (transposes, reshapes, im2col and window
  gathers) beyond the volume the next region's scatter brings in;
- which rows a lookup's PEs hold, without a run: `estimate()` costs it as if the
  busiest PE held every row looked up, and every column link carried all of them
  (the worst case); after a run, the report costs the rows that run looked up.
"""

from __future__ import annotations

import math

import numpy as np
from torch_mlir import ir

from ..dialects.wse import (FOLDED_RING, buffer_bytes, crosses_host_io, element_bytes, int_attr, rect_of,
                            source_regions, str_attr, stream_box)
from ..passes.wse_partition import runs_on_host
from .cost import LinkLoads, stream_cycles, stream_loads, wavelets
from .layout import SKEW_COLS, SKEW_ROWS, Layout, Split, block_panel
from .interpreter import evaluate, numpy_dtype
from .kernel import kernel_cycles, kernel_dtype, kernel_of
from .lookup import lookup_compute_cycles
from .machine import Machine
from .report import OpRow, Report

_REDUCE = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum,
           "and": np.logical_and, "or": np.logical_or}


# --- layouts on grid arrays ---

def _split_index(extent: int, split: Split, local: int) -> np.ndarray:
    """(parts, local) global indices of each PE's elements (past `extent`: padding):
    its panels, or its block of windows (`Window`), which overlap the next PE's."""
    pe, element = np.arange(split.parts)[:, None], np.arange(local)[None, :]
    if split.window is not None:
        return pe * split.window.block(extent, split.parts) * split.window.stride + element
    panel = block_panel(extent, split.parts, split.panel)
    return ((element // panel) * split.parts + pe) * panel + element % panel


def scatter(tensor: np.ndarray, layout: Layout, height: int, width: int) -> np.ndarray:
    """The (height, width, *local) grid array of `tensor` in `layout`, zero padded."""
    local = layout.local_shape(list(tensor.shape), height, width)
    grid = tensor[None, None]
    for split in layout.splits(height, width):
        dim, grid_axis = split.dim, split.axis
        index = _split_index(tensor.shape[dim], split, local[dim])
        pad = [(0, 0)] * grid.ndim
        pad[2 + dim] = (0, max(int(index.max()) + 1 - tensor.shape[dim], 0))
        padded = np.pad(grid, pad)
        taken = np.take(padded, index, axis=2 + dim)  # the grid axis lands at 2 + dim
        taken = np.squeeze(taken, axis=grid_axis)
        grid = np.moveaxis(taken, 1 + dim, grid_axis)
    return _skewed(np.broadcast_to(grid, (height, width, *local)), layout.skew).copy()


def gather(grid: np.ndarray, layout: Layout, shape: list[int]) -> np.ndarray:
    """The tensor of `shape` that `grid` holds in `layout` (padding dropped); a
    result is never laid out in windows."""
    height, width = grid.shape[:2]
    local = list(grid.shape[2:])
    tensor = _unskewed(grid, layout.skew)
    for split in reversed(layout.splits(height, width)):
        dim, grid_axis = split.dim, split.axis
        index = _split_index(shape[dim], split, local[dim])
        moved = np.moveaxis(tensor, grid_axis, 1 + dim)
        merged_shape = list(moved.shape)
        merged_shape[1 + dim: 3 + dim] = [int(index.max()) + 1]
        merged = np.zeros(merged_shape, dtype=grid.dtype)
        merged[(slice(None),) * (1 + dim) + (index,)] = moved
        tensor = np.expand_dims(np.take(merged, np.arange(shape[dim]), axis=1 + dim), grid_axis)
    return tensor[0, 0, ...]  # the Ellipsis keeps a 0-d tensor an array, not a numpy scalar


def _skew_index(height: int, width: int, skew: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) index arrays: PE (i, j) of a `skew`ed grid holds the
    unskewed grid's PE (rows[i, j], cols[i, j])."""
    rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
    if skew == SKEW_COLS:
        return np.broadcast_to(rows, (height, width)), (rows + cols) % width
    if skew == SKEW_ROWS:
        return (rows + cols) % height, np.broadcast_to(cols, (height, width))
    return np.broadcast_to(rows, (height, width)), np.broadcast_to(cols, (height, width))


def _skewed(grid: np.ndarray, skew: int) -> np.ndarray:
    return grid[_skew_index(*grid.shape[:2], skew)] if skew else grid


def _unskewed(grid: np.ndarray, skew: int) -> np.ndarray:
    if not skew:
        return grid
    unskewed = np.empty_like(grid)
    unskewed[_skew_index(*grid.shape[:2], skew)] = grid
    return unskewed


# --- numerics ---

class Executor:
    """Evaluates one function of a `wse` program on numpy arrays."""

    def __init__(self, func: ir.Operation):
        self.func = func
        self.values: dict = {}
        self.looked_up: dict = {}  # wse.lookup op -> the row numbers it looked up

    def run(self, args: list[np.ndarray]) -> list[np.ndarray]:
        block = self.func.regions[0].blocks[0]
        self.values.update(zip(block.arguments, args))
        for op in block.operations:
            op = op.operation
            if op.name == "func.return":
                return [self.values[v] for v in op.operands]
            if op.name == "wse.region":
                self.values[op.results[0]] = self.region(op)
            else:
                self.values.update(zip(op.results, evaluate(op, [self.values[v] for v in op.operands],
                                                            above=self.values)))
        raise ValueError("function has no return")

    def region(self, region: ir.Operation) -> np.ndarray:
        _, _, width, height = rect_of(region)
        return self._block(region.regions[0].blocks[0], {}, height, width, None)

    def _block(self, block: ir.Block, grids: dict, height: int, width: int, step: int | None):
        for op in block.operations:
            op = op.operation
            name = op.name
            if name == "wse.buffer":
                shape = ir.MemRefType(op.results[0].type)
                grids[op.results[0]] = np.zeros((height, width, *shape.shape), dtype=numpy_dtype(op, shape))
            elif name == "wse.scatter":
                tensor = self.values[op.operands[0]]
                grids[op.operands[1]][...] = scatter(np.asarray(tensor), Layout.of(op), height, width)
            elif name == "wse.gather":
                shape = list(ir.RankedTensorType(op.results[0].type).shape)
                self.values[op.results[0]] = gather(grids[op.operands[0]], Layout.of(op), shape)
            elif name == "wse.yield":
                return self.values[op.operands[0]]
            elif name == "wse.steps":
                body = op.regions[0].blocks[0]
                for k in range(int_attr(op, "count")):
                    self._block(body, grids, height, width, k)
            elif name == "wse.compute":
                for inner in op.regions[0].blocks[0].operations:
                    inner = inner.operation
                    outs = list(inner.operands)[len(inner.operands) - _output_count(inner):]
                    updated = evaluate(inner, [grids[v] for v in inner.operands], grid_dims=2)
                    for value, array in zip(outs, updated):
                        grids[value][...] = array
            elif name == "wse.multicast":
                multicast(op, grids, step)
            elif name == "wse.reduce":
                source, dest = grids[op.operands[0]], grids[op.operands[1]]
                axis, root = (1 if str_attr(op, "axis") == "row" else 0), int_attr(op, "root")
                combined = _REDUCE[str_attr(op, "kind")].reduce(source, axis=axis)
                index = (slice(None), root) if axis == 1 else (root,)
                dest[index] = combined
            elif name == "wse.shift":
                shift(op, grids)
            elif name == "wse.lookup":
                self.looked_up[op] = lookup(op, grids)
            else:
                raise ValueError(f"the simulator cannot run '{name}'")
        return None


def _output_count(op: ir.Operation) -> int:
    """How many outs a linalg.generic on buffers has, by its segment sizes."""
    return list(op.attributes["operandSegmentSizes"])[1]


def multicast(op: ir.Operation, grids: dict, step: int | None) -> None:
    source, dest = grids[op.operands[0]], grids[op.operands[1]]
    row = str_attr(op, "axis") == "row"
    line = source.shape[1] if row else source.shape[0]
    root = int_attr(op, "root") if len(op.operands) == 2 else step % line
    data = source[:, root:root + 1] if row else source[root:root + 1]  # the senders' buffers
    if len(op.operands) == 3:  # the owner of panel `step` of a block-cyclic layout sends it
        panel, dim = int_attr(op, "panel"), int_attr(op, "panel_dim")
        offset = (step // line) * panel
        data = data[(slice(None),) * (2 + dim) + (slice(offset, offset + panel),)]
    dest[...] = data


def shift(op: ir.Operation, grids: dict) -> None:
    source, dest = grids[op.operands[0]], grids[op.operands[1]]
    dx, dy, wrap = int_attr(op, "dx"), int_attr(op, "dy"), int_attr(op, "wrap")
    if wrap:
        dest[...] = np.roll(source, (dy, dx), axis=(0, 1))
        return
    height, width = source.shape[:2]
    ys, xs = slice(max(dy, 0), height + min(dy, 0)), slice(max(dx, 0), width + min(dx, 0))
    yd, xd = slice(max(-dy, 0), height + min(-dy, 0)), slice(max(-dx, 0), width + min(-dx, 0))
    dest[ys, xs] = source[yd, xd]


def lookup(op: ir.Operation, grids: dict) -> np.ndarray:
    """Each PE column's table is its PEs' blocks one after the other; the root
    PE of the column receives the row each of its row numbers names. Returns
    the row numbers (every column holds the same)."""
    table, rows, dest = (grids[v] for v in op.operands)
    root = int_attr(op, "root")
    height, width, block, columns = table.shape
    column_tables = np.moveaxis(table, 0, 1).reshape(width, height * block, columns)
    numbers = rows[root]  # (width, *result rows)
    outside = (numbers < 0) | (numbers >= height * block)
    if np.any(outside):
        raise ValueError(f"{op.location}: lookup of row {int(numbers[outside].flat[0])} in a table of "
                         f"{height * block} rows")
    column = np.arange(width).reshape((width,) + (1,) * (numbers.ndim - 1))
    dest[root] = column_tables[column, numbers]
    return numbers[0]


def _function(module: ir.Module | ir.Operation, name: str) -> ir.Operation:
    for op in module.operation.regions[0].blocks[0].operations:
        if op.operation.name == "func.func" and str_attr(op.operation, "sym_name") == name:
            return op.operation
    raise ValueError(f"no function @{name}")


def execute(module: ir.Module, name: str, args: list[np.ndarray], looked_up: dict | None = None) -> list[np.ndarray]:
    """Function `name`'s results on `args`; `looked_up` (if given) gets each lookup's row numbers."""
    executor = Executor(_function(module, name))
    results = executor.run(args)
    if looked_up is not None:
        looked_up.update(executor.looked_up)
    return results


# --- timing ---

def _wavelets(buffer: ir.Type, machine: Machine) -> float:
    """Wavelets a buffer or tensor of this type takes on the fabric (`cost.wavelets`)."""
    shaped = ir.ShapedType(buffer)
    return wavelets(math.prod(shaped.shape), element_bytes(shaped.element_type), machine)


class RegionCost:
    """Cycles of one region's phases, and what it leaves on the grid arrays."""

    def __init__(self, region: ir.Operation, machine: Machine, links: np.ndarray, busy: np.ndarray,
                 looked_up: dict | None = None):
        self.region = self.op = region
        self.looked_up = looked_up or {}  # a run's row numbers per lookup (see `lookup`)
        self.machine = machine
        self.x, self.y, self.width, self.height = rect_of(region)
        self.links, self.busy = links, busy
        self.compute = self.comm = self.preload = 0.0
        self.flops = float(int_attr(region, "flops"))  # the model's, without padding
        self.sram = 0
        self.datapaths: set[str] = set()  # the dtypes its kernels ran at
        self.offsets: dict = {}  # buffer value -> its SRAM address
        self.name, self.kind = str_attr(region, "sym_name"), str_attr(region, "kind")

    def walk(self, block: ir.Block, repeat: int = 1) -> None:
        for op in block.operations:
            op = op.operation
            name = op.name
            if name == "wse.buffer":
                offset = int_attr(op, "offset")
                self.offsets[op.results[0]] = offset
                self.sram = max(self.sram, offset + buffer_bytes(op.results[0].type))
            elif name in ("wse.scatter", "wse.gather"):
                self.stream(op)
            elif name == "wse.steps":
                self.steps(op, repeat)
            elif name == "wse.compute":
                for inner in op.regions[0].blocks[0].operations:
                    self.local_compute(inner.operation, repeat)
            elif name in ("wse.multicast", "wse.reduce", "wse.shift"):
                self.fabric(op, repeat)
            elif name == "wse.lookup":
                self.lookup(op)

    def steps(self, op: ir.Operation, repeat: int) -> None:
        """Its body `count` times. Double-buffered (`buffers` = 2), a step's
        transfers fill the next set of panels while the step before computes:
        only the first step's transfers and what the compute does not cover are
        exposed. Single-buffered, each step's transfers wait for its compute."""
        count = int_attr(op, "count")
        comm, compute = self.comm, self.compute
        self.walk(op.regions[0].blocks[0], repeat * count)
        if int_attr(op, "buffers") == 2:
            transfers, work = self.comm - comm, self.compute - compute
            self.comm = comm + max(transfers - work, 0.0) + transfers / count

    def stream(self, op: ir.Operation) -> None:
        """A stream enters (or leaves) the region through its rows, one link each,
        across the PEs between it and where the data comes from (or goes to);
        a share several PEs receive passes each link once (`stream_loads`).
        A weight load streams in from the west edge before the model runs; a
        gather whose result stays on the wafer costs nothing here: the
        consumer's scatter carries it. What comes from or goes to the host
        moves no faster than the system's I/O (`host_io_bytes_per_second`)."""
        box = stream_box(op)
        if box is None:
            box, preload = (0, self.y, self.x + self.width, self.height), True
        elif op.name == "wse.gather" and not any(
                use.owner.name == "func.return" for use in self.region.results[0].uses):
            return
        else:
            preload = False
        buffer = op.operands[1] if op.name == "wse.scatter" else op.operands[0]
        per_row, fanned = stream_loads(_wavelets(buffer.type, self.machine), self.height, self.width,
                                       *Layout.of(op).splits_over(self.height, self.width), op.name == "wse.scatter")
        x, _, width, _ = box
        tensor = op.operands[0] if op.name == "wse.scatter" else op.results[0]
        host = _wavelets(tensor.type, self.machine) if crosses_host_io(op) else 0.0
        cycles = stream_cycles(self.machine, per_row, width + fanned, host)
        self.links[self.y:self.y + self.height, x:x + width] += per_row
        if preload:
            self.preload += cycles
        else:
            self.comm += cycles

    def fabric(self, op: ir.Operation, repeat: int) -> None:
        loads = LinkLoads(self.machine)
        data = op.operands[1] if op.name == "wse.multicast" else op.operands[0]
        wavelets = _wavelets(data.type, self.machine)
        x0, x1, y0, y1 = self.x, self.x + self.width, self.y, self.y + self.height
        if op.name == "wse.shift":
            wrap = int_attr(op, "wrap")
            loads.add_shift((self.x, self.y, self.width, self.height), int_attr(op, "dx"),
                            int_attr(op, "dy"), wavelets, wrap=wrap > 0, folded=wrap == FOLDED_RING)
        else:
            row = str_attr(op, "axis") == "row"
            root = int_attr(op, "root")
            if op.name == "wse.multicast":
                if row and self.width > 1:
                    loads.add_row_multicast(y0, y1, x0 + root, x0, x1, wavelets)
                elif not row and self.height > 1:
                    loads.add_col_multicast(x0, x1, y0 + root, y0, y1, wavelets)
            elif row and self.width > 1:
                loads.add_row_reduce(y0, y1, x0 + root, x0, x1, wavelets)
            elif not row and self.height > 1:
                loads.add_col_reduce(x0, x1, y0 + root, y0, y1, wavelets)
        self.comm += repeat * loads.phase_cycles()
        self.links += repeat * loads.total()

    def lookup(self, op: ir.Operation) -> None:
        """A lookup's busiest PE sends a row share per row number it holds; the
        shares travel its column to the root, each core on the way sending on
        those from past it. Costed for the row numbers a run looked up where
        there was one; else at worst: the busiest PE holds every row looked up,
        and every link carries them all."""
        table, rows, dest = op.operands
        count = math.prod(ir.MemRefType(rows.type).shape)
        columns = ir.MemRefType(dest.type).shape[-1]
        dtype = kernel_dtype([table], dest, accumulates=False)
        self.datapaths.add(dtype)
        share = _wavelets(dest.type, self.machine) / count
        root = self.y + int_attr(op, "root")
        numbers = self.looked_up.get(op)
        if numbers is not None:
            block = ir.MemRefType(table.type).shape[0]
            held = np.bincount(np.asarray(numbers).ravel() // block, minlength=self.height)
        else:
            held = np.full(self.height, count)
        cycles = lookup_compute_cycles(self.machine, int(held.max()), columns, dtype)
        self.compute += cycles
        self.busy[self.y:self.y + self.height, self.x:self.x + self.width] += cycles
        loads = LinkLoads(self.machine)
        if self.height > 1 and numbers is not None:
            loads.add_col_gather(self.x, self.x + self.width, root, self.y, held * share)
        elif self.height > 1:
            loads.add_col_reduce(self.x, self.x + self.width, root, self.y, self.y + self.height, count * share)
        self.comm += loads.phase_cycles()
        self.links += loads.total()

    def local_compute(self, op: ir.Operation, repeat: int) -> None:
        """Cycles of one PE's linalg op, run `repeat` times (once per step): the
        instruction stream of `kernel.kernel_of`, costed by `kernel.kernel_cycles`."""
        k = kernel_of(op, self.machine, self.offsets)
        self.datapaths.add(k.dtype)
        cycles = kernel_cycles(k, self.machine, repeat)
        self.compute += cycles
        self.busy[self.y:self.y + self.height, self.x:self.x + self.width] += cycles


class HostCost:
    """An op run on the host between regions (a scan, a gather): what it reads
    from the wafer leaves through the west edge, one link per PE row. What it
    returns is charged where it comes back: in its consumer's scatter."""

    def __init__(self, op: ir.Operation, count: int, machine: Machine):
        self.op = op
        self.name, self.kind = f"host{count}", "host"
        self.x = self.y = self.width = self.height = 0
        self.compute = self.preload = 0.0
        self.flops, self.sram = 0.0, 0
        off_wafer = [value for value in _reads(op) if _from_wafer(value)]
        leaving = sum(_wavelets(value.type, machine) for value in off_wafer)
        self.comm = stream_cycles(machine, leaving / machine.height, machine.width if leaving else 0, leaving)


def _reads(op: ir.Operation) -> list[ir.Value]:
    """The tensors `op` reads: its operands, and those its body gathers from above."""
    reads = list(op.operands)
    for inner in (op.regions[0].blocks[0].operations if op.regions else []):
        reads += [v for v in inner.operands if isinstance(v.owner, ir.OpView) and v.owner.operation.parent != op]
    unique = []
    for value in reads:
        if isinstance(value.type, ir.RankedTensorType) and not any(value == u for u in unique):
            unique.append(value)
    return unique


def _from_wafer(value: ir.Value) -> bool:
    """A value a region computed, or a reshape or slice of one."""
    owner = value.owner
    if not isinstance(owner, ir.OpView):
        return False
    if owner.name == "wse.region":
        return True
    return owner.name.startswith("tensor.") and any(_from_wafer(v) for v in owner.operands)


def _ready(cost, earlier: list, rows: list[OpRow]) -> float:
    """When a pipeline stage's inputs are all there: the latest end among the
    `earlier` stages (whose `rows` are made) its tensors come from, through the
    data movement between them. Each stage runs on PEs of its own, as soon as
    its data arrives, so one inference's latency is the longest chain of
    stages, each taking its own time; in steady state no stage waits in a
    queue, since the slowest admits one inference per its own time."""
    if isinstance(cost, RegionCost):
        reads = [op.operands[0] for op in cost.region.regions[0].blocks[0].operations if op.name == "wse.scatter"]
    else:
        reads = _reads(cost.op)
    ready = 0.0
    for value in reads:
        sources, _ = source_regions(value, stops=lambda op: any(op == other.op for other in earlier))
        ready = max([ready] + [row.end_cycle for other, row in zip(earlier, rows)
                               if any(other.op == source for source in sources)])
    return ready


def estimate(module: ir.Module, machine: Machine, name: str = "forward", looked_up: dict | None = None) -> Report:
    """The timing report of function `name`, from the IR alone (no input data),
    but for lookups' row numbers where `looked_up` holds a run's (see `execute`)."""
    shape = (machine.height, machine.width)
    links, busy, sram = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    costs = []
    for op in _function(module, name).regions[0].blocks[0].operations:
        op = op.operation
        if op.name == "wse.region":
            cost = RegionCost(op, machine, links, busy, looked_up)
            cost.walk(op.regions[0].blocks[0])
            costs.append(cost)
        elif runs_on_host(op):
            costs.append(HostCost(op, sum(isinstance(c, HostCost) for c in costs), machine))
    regions = [c for c in costs if isinstance(c, RegionCost)]
    pipelined = len(regions) > 1 and all(int_attr(c.region, "slot") == 0 for c in regions)
    # A pipeline starts an inference every stage time, the slowest stage's.
    # Weights were loaded before it started.
    stage = max((c.compute + c.comm for c in costs), default=0.0) if pipelined else 0.0
    rows, start = [], 0.0
    for i, cost in enumerate(costs):
        x, y, w, h = cost.x, cost.y, cost.width, cost.height
        region_sram = sram[y:y + h, x:x + w]
        if pipelined:
            region_sram += cost.sram
            start = _ready(cost, costs[:i], rows)
        else:
            np.maximum(region_sram, cost.sram, out=region_sram)
        comm = cost.comm + (0.0 if pipelined else cost.preload)
        rows.append(OpRow(cost.name, cost.kind, (x, y, w, h), cost.compute, comm, cost.flops, start))
        start += cost.compute + comm
    throughput = machine.clock_hz / stage if stage else None
    # Utilization is of the 16-bit peak where the model computes in 16 bits.
    sixteen = any(c.datapaths & {"fp16", "mixed"} for c in regions)
    return Report(machine, rows, busy, sram, links, dtype="fp16" if sixteen else "fp32",
                  pipeline_throughput=throughput)
