"""A region's `Demand`, read off its IR: its ops, their loops and kernels, the
tensors it streams in, and the inits it fills."""

from __future__ import annotations

import hashlib

from torch_mlir import ir

from ..dialects.wse import buffer_bytes, fabric_of, int_attr, source_regions, stream_sources
from ..wse_target.distribution import as_contraction, overwritten_input, summa_epilogue_loops
from ..wse_target.kernel import LocalKernel
from ..wse_target.lookup import lookup_of
from ..wse_target.machine import kernel_costs_of
from .linalg_queries import indexing_maps, loop_ranges, map_dims
from .wse_demand import Demand
from .wse_distribute import reduction_split_loops, rowwise_loops, vector_whole_loops
from .wse_partition import LOOKUP, SUMMA, is_init, partitioned_kind


def tensor_bytes(values) -> int:
    unique = []
    for value in values:
        if isinstance(value.type, ir.RankedTensorType) and not any(value == u for u in unique):
            unique.append(value)
    return sum(buffer_bytes(v.type) for v in unique)


def is_weight(value: ir.Value) -> bool:
    """A constant, or data movement of one (a 1x1 convolution's weight collapsed
    to a matrix): no region computes it and no input feeds it, so the
    simulator loads it as a weight (`stream_sources`)."""
    return stream_sources(value) == ([], False)


def region_key(region: ir.Operation) -> str:
    """What a region's placement depends on, for the tuning database: its kind
    and its body's ops, attributes, types and dataflow, not its name, its place
    or which tensors (weights) it reads, so identical layers share one record.
    A contraction's region is keyed as partitioned (summa), whichever
    algorithm placement gives it."""
    body = "\n".join(_structure(region.regions[0].blocks[0]))
    return f"{partitioned_kind(region)} {hashlib.sha1(body.encode()).hexdigest()[:16]}"


def _structure(block: ir.Block) -> list[str]:
    """One line per op of `block` and of the blocks inside it: its name, what
    it reads (an earlier op's result, a block argument, or a value from
    outside, by type), its attributes and its result types."""
    names = {arg: f"arg{arg.arg_number}" for arg in block.arguments}
    lines = []
    for index, op in enumerate(block.operations):
        op = op.operation
        reads = [names.get(v, f"outside {v.type}") for v in op.operands]
        attributes = ", ".join(f"{name}={op.attributes[name]}" for name in op.attributes)
        lines.append(f"{op.name}({', '.join(reads)}) {{{attributes}}} -> {[str(r.type) for r in op.results]}")
        for number, result in enumerate(op.results):
            names[result] = f"%{index}#{number}"
        for inner in op.regions:
            for nested in inner.blocks:
                lines += ["  " + line for line in _structure(nested)]
    return lines


def preloads_weights(mode: str, regions: list[ir.Operation]) -> bool:
    """Whether the regions' weights are loaded before the model runs, as the
    simulator runs them: a pipeline of several regions side by side; a lone
    region, or regions a layer at a time, load theirs every inference."""
    return mode == "pipelined" and len(regions) > 1


def demands_of(regions: list[ir.Operation], mode: str) -> list[Demand]:
    """Each region's `Demand` in `mode`, in program order, each knowing the
    ones before it: a layer at a time, every region starts at the fabric's
    first column, so a tensor streaming in from a wider region before it
    crosses that region's columns (its `Demand.shape`), as the simulator
    routes it. Regions alike in structure and streams (`_timing_key`:
    identical layers) share their timings, so a layer's rectangles are
    timed once, not once per layer."""
    preloaded = preloads_weights(mode, regions)
    found: list[tuple[ir.Operation, Demand]] = []
    timed: dict[tuple, Demand] = {}
    for region in regions:
        need = demand(region, preloaded, list(found) if mode == "whole-wafer" else [])
        twin = timed.setdefault(_timing_key(region, need), need)
        found.append((region, need if twin is need else need.sharing_timings(twin)))
    return [need for _, need in found]


def _timing_key(region: ir.Operation, need: Demand) -> tuple:
    """What a region's timings depend on: its structure (`region_key`),
    whether its result leaves for the host, and per tensor it streams in its
    type, where the region reads it, whether it crosses the host's I/O and
    the columns it comes from."""
    body = [op.operation for op in region.regions[0].blocks[0].operations]
    return (region_key(region), need.leaving is not None,
            tuple((str(value.type), _read_at(body, value), host, reach) for value, host, reach in need.streams))


def _read_at(body: list[ir.Operation], value: ir.Value) -> tuple[tuple[int, int], ...]:
    """(op index, operand number) of each read of `value` by an op of `body`."""
    return tuple(sorted((index, use.operand_number) for use in value.uses
                        for index, op in enumerate(body) if use.owner.operation == op))


def demand(region: ir.Operation, preloaded: bool, earlier: list[tuple[ir.Operation, Demand]] = ()) -> Demand:
    """`preloaded`: weights are loaded once, before the model runs (pipelined).
    `earlier`: the regions before it a layer at a time, with their demands."""
    fabric = fabric_of(region)
    machine = kernel_costs_of(fabric.name)
    members = [op.operation for op in region.regions[0].blocks[0].operations
               if op.operation.name == "linalg.generic" and not is_init(op.operation)]
    flops = float(int_attr(region, "flops"))
    values = [v for op in members for v in list(op.operands)
              + ([] if overwritten_input(op) is not None else list(op.results))]
    size = tensor_bytes(values)
    anchor = members[0]
    ranges = loop_ranges(anchor)
    body = region.regions[0].blocks[0]
    leaves = any(use.owner.name == "func.return" for use in region.results[0].uses)
    common = dict(streams=_streams(region, members, preloaded, earlier), machine=machine, sram_bytes=fabric.sram_bytes,
                  leaving=body.operations[len(body.operations) - 1].operands[0] if leaves else None)
    kind = partitioned_kind(region)
    if kind == LOOKUP:
        table = lookup_of(anchor).table
        size += tensor_bytes([table])
        shape = ir.RankedTensorType(table.type).shape
        return Demand(flops, shape[0], shape[1], divides=False, bytes=size, lookup=anchor, **common)
    if kind != SUMMA:
        return _rowwise(members, flops, size, common)
    # Every row helps even past m: the stepped operands' k dim is split over the rows.
    c = as_contraction(anchor)
    m = ranges[c.m] if c.m is not None else 1
    n = ranges[c.n] if c.n is not None else 1
    k = ranges[c.k]
    epilogue = tuple((op, *summa_epilogue_loops(anchor, op)) for op in members[1:])
    local_loops = {rowwise_loops(members)[0][1:], vector_whole_loops(anchor), reduction_split_loops(anchor)} - {None}
    return Demand(flops, max(k, m), n, divides=False, bytes=size, mnk=(m, n, k), anchor=anchor,
                  placed=epilogue, kernels=tuple(LocalKernel.of(op) for op, _, _ in epilogue),
                  fills=_fills(((anchor, c.m, c.n),) + epilogue),
                  stepped=(LocalKernel.of(anchor), (c.m, c.n, c.k)), contraction=c,
                  locals=tuple(_rowwise(members, flops, size, common, loops) for loops in sorted(
                      local_loops, key=lambda loops: [-1 if loop is None else loop for loop in loops])),
                  **common)


def _rowwise(members: list[ir.Operation], flops: float, size: int, common: dict,
             loops: tuple[int | None, int | None] | None = None) -> Demand:
    """The demand of `members` run as a rowwise region: each op on its loops
    split over the PE rows and columns (`rowwise_loops`, of the first op's
    `loops` where given)."""
    placed = rowwise_loops(members, loops)
    _, row, col = placed[0]
    ranges = loop_ranges(members[0])
    return Demand(flops, ranges[row] if row is not None else 1, ranges[col] if col is not None else 1,
                  divides=True, bytes=size, placed=tuple(placed), fills=_fills(placed),
                  kernels=tuple(LocalKernel.of(op) for op, _, _ in placed), **common)


def _fills(placed) -> tuple:
    """The inits wse-distribute fills on every PE for the `placed` ops, each
    (op, row loop, column loop): an init an op reads as its accumulator, once
    per op unless the op writes over an input; one it reads as an input,
    once. Each as its fill's LocalKernel and the fill's loops split as its
    reader's are (a fill's loops are its tensor's dims)."""
    found, inputs = [], []
    for op, row, col in placed:
        args = op.regions[0].blocks[0].arguments
        n_in = len(op.operands) - len(op.results)
        for i, (value, affine_map) in enumerate(zip(op.operands, indexing_maps(op))):
            owner = value.owner
            if not (isinstance(owner, ir.OpView) and is_init(owner.operation) and any(True for _ in args[i].uses)):
                continue
            dims = map_dims(affine_map)
            read_before = i < n_in and any(value == seen for seen in inputs)
            if read_before or (i >= n_in and overwritten_input(op) is not None):
                continue
            if i < n_in:
                inputs.append(value)
            found.append((LocalKernel.of(owner.operation), *(dims.index(loop) if loop is not None and loop in dims
                                                             else None for loop in (row, col))))
    return tuple(found)


def _streams(region: ir.Operation, members: list[ir.Operation], preloaded: bool,
             earlier: list[tuple[ir.Operation, Demand]]) -> tuple:
    """(tensor, whether it crosses the host's I/O, the columns of the widest
    of the `earlier` regions it comes from) of each tensor the region's ops
    read from outside it, once: what its scatters bring in every inference.
    Weights loaded before the model runs (`preloaded`) are not; an init
    computed in place (a fill) is not."""
    found = []
    for op in members:
        args = op.regions[0].blocks[0].arguments
        read = [v for i, v in enumerate(op.operands) if i < len(op.operands) - len(op.results)
                or any(True for _ in args[i].uses)]
        lookup = lookup_of(op)
        for value in read if lookup is None else [lookup.table, lookup.rows]:
            owner = value.owner
            made_here = isinstance(owner, ir.OpView) and (owner.operation.parent == region or is_init(owner.operation))
            if made_here or (preloaded and is_weight(value)) or any(value == v for v, _, _ in found):
                continue
            sources, edge = source_regions(value)
            found.append((value, edge or not sources, _widest(sources, earlier, fabric_of(region))))
    return tuple(found)


def _widest(sources: list[ir.Operation], earlier: list[tuple[ir.Operation, Demand]], fabric) -> int:
    """The most columns any of the `earlier` regions among `sources` takes,
    on the rectangle its demand finds fastest on the whole fabric."""
    shapes = [need.shape(fabric.height, fabric.width, fabric.sram_bytes)
              for region, need in earlier if any(region == source for source in sources)]
    return max((shape[1] for shape in shapes if shape is not None), default=0)
