"""wse-distribute: expand each placed wse.region into per-PE buffers, transfers and compute."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from torch_mlir import ir

from ..dialects.wse import FOLDED_RING, UNROUTED, element_bytes, fabric_of, i64_attr, int_attr, next_word, regions_of, str_attr
from ..wse_target.distribution import (
    PANEL_ATTR, SRAM_SHARE, as_contraction, cannon_fits, combiner, combines_across, epilogue_loops, overwritten_input,
    placed_loops, summa_epilogue_loops, summa_plan, window_offsets)
from ..wse_target.layout import SKEW_COLS, SKEW_ROWS, Layout, layout_for
from ..wse_target.kernel import vector_loop
from ..wse_target.lookup import ROWS_LAYOUT, TABLE_LAYOUT, lookup_of, result_layout
from .linalg_queries import PARALLEL, REDUCTION, indexing_maps, iterator_types, loop_ranges, map_dims, reduction_dims
from .pass_base import PassFailure, WaferPass
from .wse_partition import CANNON, LOOKUP, STEPPED, is_init


class RegionBuilder:
    """Emits one region's buffers, transfers and compute, op by op."""

    def __init__(self, region: ir.Operation):
        self.region = region
        self.height, self.width = int_attr(region, "height"), int_attr(region, "width")
        self.body = region.regions[0].blocks[0]
        self.terminator = self.body.operations[len(self.body.operations) - 1]
        self.region_ip = ir.InsertionPoint(self.terminator)  # buffers go here
        self.ip = self.region_ip  # transfers and compute go here
        self.ops = [op.operation for op in self.body.operations][:-1]
        self.buffers: dict = {}  # tensor value computed here -> (buffer, layout)
        self.scattered: dict = {}  # (tensor value brought in, layout) -> buffer
        self.count = 0
        self.bytes = 0  # where the buffers made so far end
        self.stepped = None  # a summa's wse.steps and its panel buffers

    # --- buffers and data movement ---
    # Every op made here carries `loc`, the location of the linalg op it is made
    # for, so that a diagnostic at it (a buffer over the SRAM, a color past the
    # budget) names the user's line.

    def buffer(self, shape: list[int], element: ir.Type, name: str, loc: ir.Location,
               at: ir.InsertionPoint | None = None) -> ir.Value:
        """A buffer after the last one, at the next word (wse-align-banks may move it)."""
        self.count += 1
        offset = next_word(self.bytes)
        self.bytes = offset + math.prod(shape) * element_bytes(element)
        with at or self.region_ip:
            return ir.Operation.create(
                "wse.buffer", results=[ir.MemRefType.get(shape, element)],
                attributes={"name": ir.StringAttr.get(f"{name}{self.count}"), "offset": i64_attr(offset)}, loc=loc,
            ).results[0]

    def place(self, value: ir.Value, layout: Layout, name: str, loc: ir.Location) -> ir.Value:
        """A buffer holding `value` in `layout`: computed here, or scattered in
        once per layout, however many of the region's ops read it so."""
        known = self.buffers.get(value)
        if known is not None:
            if known[1] != layout:
                raise PassFailure(loc, f"region '{str_attr(self.region, 'sym_name')}' "
                                  "reads one value in two layouts; wse-distribute cannot relayout inside a region")
            return known[0]
        if (value, layout) in self.scattered:
            return self.scattered[value, layout]
        tensor = ir.RankedTensorType(value.type)
        buffer = self.buffer(layout.local_shape(list(tensor.shape), self.height, self.width),
                             tensor.element_type, name, loc)
        self.fill_or_scatter(value, buffer, layout, loc)
        self.scattered[value, layout] = buffer
        return buffer

    def fill_or_scatter(self, value: ir.Value, buffer: ir.Value, layout: Layout, loc: ir.Location) -> None:
        owner = value.owner
        if isinstance(owner, ir.OpView) and is_init(owner.operation):
            self.compute(owner.operation, [], [buffer])
            return
        with self.ip:
            scatter = ir.Operation.create("wse.scatter", operands=[value, buffer],
                                          attributes={"color": i64_attr(UNROUTED)}, loc=loc)
            layout.set_on(scatter)

    def transfer(self, loc: ir.Location, name: str, operands: list[ir.Value], **attributes) -> None:
        attrs = {"color": i64_attr(UNROUTED)}
        for key, value in attributes.items():
            attrs[key] = ir.StringAttr.get(value) if isinstance(value, str) else i64_attr(value)
        with self.ip:
            ir.Operation.create(name, operands=operands, attributes=attrs, loc=loc)

    def compute(self, op: ir.Operation, inputs: list[ir.Value], outputs: list[ir.Value]) -> None:
        """Clone linalg.generic `op` onto buffers, inside a wse.compute at op's location."""
        with self.ip:
            compute = ir.Operation.create("wse.compute", regions=1, loc=op.location)
        block = compute.regions[0].blocks.append()
        with ir.InsertionPoint(block):
            clone = op.clone()
            generic = ir.Operation.create(
                "linalg.generic", operands=inputs + outputs,
                attributes={
                    "indexing_maps": op.attributes["indexing_maps"],
                    "iterator_types": op.attributes["iterator_types"],
                    "operandSegmentSizes": ir.DenseI32ArrayAttr.get([len(inputs), len(outputs)]),
                },
                regions=1, loc=op.location,
            )
            clone.regions[0].blocks[0].append_to(generic.regions[0])
            clone.erase()

    # --- strategies ---

    def summa(self, op: ir.Operation) -> None:
        """Step the contraction's k loop across the fabric, SUMMA style.

        Role-a inputs are split by m over rows and dealt by k in panels over
        the columns; role-b inputs by k over rows and n over columns. In step
        s, the owner of panel s multicasts it along its row (a) or column (b)
        and every PE accumulates its output block.
        """
        loc = op.location
        panel = int_attr(self.region, PANEL_ATTR) if PANEL_ATTR in self.region.attributes else 0
        plan = summa_plan(op, self.height, self.width, panel)
        out = self.output(op, 0, plan.out)
        full, panels = [], []
        for value, (layout, role, k_dim) in zip(list(op.operands)[:-1], plan.inputs):
            buffer = self.place(value, layout, role or "in", loc)
            full.append(buffer)
            if not role:
                panels.append(None)
                continue
            shape = ir.MemRefType(buffer.type)
            panel_shape = list(shape.shape)
            panel_shape[k_dim] = plan.panel
            panels.append((self.buffer(panel_shape, shape.element_type, f"{role}panel", loc), role, k_dim))
        with self.ip:
            loop = ir.Operation.create("wse.steps", attributes={"count": i64_attr(plan.steps), "buffers": i64_attr(1)},
                                       regions=1, loc=loc)
        self.stepped = (loop, [(entry[0], entry[1]) for entry in panels if entry is not None])
        step_block = loop.regions[0].blocks.append(ir.IndexType.get())
        self.ip = ir.InsertionPoint(step_block)
        inputs = []
        for buffer, entry in zip(full, panels):
            if entry is None:
                inputs.append(buffer)
                continue
            panel_buffer, role, k_dim = entry
            self.transfer(loc, "wse.multicast", [buffer, panel_buffer, step_block.arguments[0]],
                          axis="row" if role == "a" else "col", root=0, panel_dim=k_dim, panel=plan.panel)
            inputs.append(panel_buffer)
        self.compute(op, inputs, [out])
        self.ip = self.region_ip
        self.buffers[op.results[0]] = (out, plan.out)

    def cannon(self, op: ir.Operation) -> None:
        """Step the contraction's k loop by Cannon's shifts, on a square region
        of P x P PEs whose k splits into P blocks.

        The inputs are laid out as for SUMMA, but skewed: PE (i, j) starts with
        role-a block (i, i + j) and role-b block (i + j, j), mod P. Each step
        multiplies the blocks it holds, then shifts role-a blocks one PE west
        and role-b blocks one PE north over a folded ring, into a second buffer
        the next step's product reads (always double-buffered). The last step's
        shifts only restore the skew; they are run and charged all the same.
        """
        loc = op.location
        if not cannon_fits(op, self.height, self.width):
            raise PassFailure(loc, f"region '{str_attr(self.region, 'sym_name')}' of kind 'cannon' needs a "
                              f"square of PEs whose k loop splits into one block per PE row; it is "
                              f"{self.height}x{self.width} for k = {loop_ranges(op)[as_contraction(op).k]}")
        plan = summa_plan(op, self.height, self.width)
        out = self.output(op, 0, plan.out)
        inputs, shifted = [], []
        for value, (layout, role, _) in zip(list(op.operands)[:-1], plan.inputs):
            if not role:
                inputs.append(self.place(value, layout, "in", loc))
                continue
            buffer = self.place(value, replace(layout, skew=SKEW_COLS if role == "a" else SKEW_ROWS), role, loc)
            shape = ir.MemRefType(buffer.type)
            self.buffer(list(shape.shape), shape.element_type, f"{role}next", loc)
            inputs.append(buffer)
            shifted.append((buffer, role))
        with self.ip:
            loop = ir.Operation.create("wse.steps", attributes={"count": i64_attr(plan.steps), "buffers": i64_attr(2)},
                                       regions=1, loc=loc)
        self.ip = ir.InsertionPoint(loop.regions[0].blocks.append(ir.IndexType.get()))
        self.compute(op, inputs, [out])
        for buffer, role in shifted:
            self.transfer(loc, "wse.shift", [buffer, buffer], dx=-1 if role == "a" else 0,
                          dy=0 if role == "a" else -1, wrap=FOLDED_RING)
        self.ip = self.region_ip
        self.buffers[op.results[0]] = (out, plan.out)

    def lookup(self, op: ir.Operation) -> None:
        """Look each result row up in a table split over the region
        (`wse_target.lookup`): the table's rows in blocks over the PE rows and
        its columns over the PE columns, every row number on every PE, the
        result collected on PE row 0 by one `wse.lookup`."""
        loc = op.location
        found = lookup_of(op)
        table = self.place(found.table, TABLE_LAYOUT, "table", loc)
        rows = self.place(found.rows, ROWS_LAYOUT, "rows", loc)
        layout = result_layout(found.rank)
        result = ir.RankedTensorType(op.results[0].type)
        out = self.buffer(layout.local_shape(list(result.shape), self.height, self.width), result.element_type,
                          "out", loc)
        self.transfer(loc, "wse.lookup", [table, rows, out], axis="col", root=0)
        self.buffers[op.results[0]] = (out, layout)

    def local(self, op: ir.Operation, row_loop: int | None, col_loop: int | None) -> None:
        """Run `op` on every PE's tiles; a reduction along `col_loop` crosses the
        fabric: partial results are chain-reduced into column 0 and multicast back."""
        maps = indexing_maps(op)
        operands = list(op.operands)
        n_in = len(operands) - len(op.results)
        overwritten = overwritten_input(op)  # before a scatter adds a use of the input
        ranges = loop_ranges(op)
        inputs = [self.place(v, layout_for(m, row_loop, col_loop, ranges), "in", op.location)
                  for v, m in zip(operands[:n_in], maps[:n_in])]
        layouts = [layout_for(m, row_loop, col_loop) for m in maps[n_in:]]
        if overwritten is not None:  # same type and map as the result: same layout
            outs = [inputs[list(op.operands).index(overwritten)]]
        else:
            outs = [self.output(op, i, layout) for i, layout in enumerate(layouts)]
        self.compute(op, inputs, outs)
        reduced_across = (col_loop is not None and self.width > 1
                          and iterator_types(op)[col_loop] == REDUCTION)
        if reduced_across:
            # split_loops keeps the reductions no combiner folds (an arg-max's) on one PE.
            if not combines_across(op):
                raise PassFailure(op.location, "wse-distribute can split a reduction across PEs only when "
                                  "its init is the identity of an add/mul/max/min/and/or combiner")
            shape = ir.MemRefType(outs[0].type)
            partial = self.buffer(list(shape.shape), shape.element_type, "sum", op.location)
            self.transfer(op.location, "wse.reduce", [outs[0], partial], axis="row", root=0, kind=combiner(op))
            self.transfer(op.location, "wse.multicast", [partial, outs[0]], axis="row", root=0,
                          panel_dim=0, panel=0)
        for result, out, layout in zip(op.results, outs, layouts):
            self.buffers[result] = (out, layout)

    def output(self, op: ir.Operation, i: int, layout: Layout) -> ir.Value:
        """A fresh buffer for op's result `i`, holding its init when the body reads it."""
        n_in = len(op.operands) - len(op.results)
        init = op.operands[n_in + i]
        tensor = ir.RankedTensorType(init.type)
        buffer = self.buffer(layout.local_shape(list(tensor.shape), self.height, self.width),
                             tensor.element_type, "out", op.location)
        block = op.regions[0].blocks[0]
        if any(True for _ in block.arguments[n_in + i].uses):
            self.fill_or_scatter(init, buffer, layout, op.location)
        return buffer

    def double_buffer(self) -> None:
        """Give a summa's panels a second set, which the next step's multicasts
        fill while this step computes, where the SRAM holds it (SRAM_SHARE)."""
        loop, panels = self.stepped
        shapes = [ir.MemRefType(panel.type) for panel, _ in panels]
        extra = sum(math.prod(shape.shape) * element_bytes(shape.element_type) for shape in shapes)
        if self.bytes + extra > SRAM_SHARE * fabric_of(self.region).sram_bytes:
            return
        for (panel, role), shape in zip(panels, shapes):
            self.buffer(list(shape.shape), shape.element_type, f"{role}panelnext", panel.owner.location,
                        at=ir.InsertionPoint(loop))
        loop.attributes["buffers"] = i64_attr(2)

    def finish(self) -> None:
        """Gather the yielded values out of the fabric and drop the tensor ops."""
        if self.stepped is not None:
            self.double_buffer()
        for i, result in enumerate(list(self.terminator.operands)):
            buffer, layout = self.buffers[result]
            producer = result.owner
            location = producer.location if isinstance(producer, ir.OpView) else self.region.location
            with self.ip:
                gather = ir.Operation.create("wse.gather", operands=[buffer], results=[result.type],
                                             attributes={"color": i64_attr(UNROUTED)}, loc=location)
                layout.set_on(gather)
            self.terminator.operands[i] = gather.results[0]
        for op in reversed(self.ops):
            op.erase()


def reduced_loops(members: list[ir.Operation]) -> frozenset[int]:
    """The loops any op of a rowwise region reduces (its ops share one loop nest)."""
    return frozenset(d for op in members for d in reduction_dims(op))


def whole_loops(members: list[ir.Operation]) -> frozenset[int]:
    """The loops reduced by an op whose partial results do not combine across
    PEs, and those that walk a window a PE reads in place (`window_offsets`):
    no split may take them, so each PE runs such a reduction whole."""
    return frozenset(d for op in members for d in (
        reduction_dims(op) if not combines_across(op) else window_offsets(op)))


def split_loops(anchor: ir.Operation, members: list[ir.Operation]) -> tuple[int | None, int | None]:
    """The loops of a rowwise region split over the PE rows and columns."""
    return row_and_col_loops(anchor, reduced_loops(members), whole_loops(members))


def vector_whole_loops(op: ir.Operation) -> tuple[int, int] | None:
    """Loops to split that keep the instructions' vector (the output's
    innermost loop) whole on each PE: the two largest other parallel loops
    (a grouped convolution's output rows and groups: each PE a group's
    weights and whole rows of its outputs). None where fewer than two such
    loops are longer than 1 (a matmul)."""
    others = _longest_loops(op, PARALLEL, but=_vector_of(op))
    return (others[0], others[1]) if len(others) >= 2 else None


def _vector_of(op: ir.Operation) -> int | None:
    """The loop the instructions' vector walks: the output's innermost."""
    return vector_loop(map_dims(indexing_maps(op)[-1]), len(loop_ranges(op)))


def _longest_loops(op: ir.Operation, kind, but: int | None = None) -> list[int]:
    """`op`'s loops of `kind` longer than 1, but `but`, the longest first."""
    ranges, kinds = loop_ranges(op), iterator_types(op)
    return sorted((d for d in range(len(ranges)) if kinds[d] == kind and d != but and ranges[d] > 1),
                  key=lambda d: -ranges[d])


def reduction_split_loops(op: ir.Operation) -> tuple[int, int] | None:
    """Loops to split that divide a contraction's k over the PE columns: the
    largest parallel loop but the instructions' vector over the rows, the
    largest reduction over the columns, each PE's partial sums chain-reduced
    along its row and multicast back (as a matrix-vector product's are): for
    outputs too few to give every PE its own (a late 7x7 layer's). None where
    partial sums do not combine (an init that is not their identity) or
    there are no such loops."""
    if not combines_across(op):
        return None
    rows, cols = _longest_loops(op, PARALLEL, but=_vector_of(op)), _longest_loops(op, REDUCTION)
    return (rows[0], cols[0]) if rows and cols else None


def rowwise_loops(members: list[ir.Operation], loops: tuple[int | None, int | None] | None = None
                  ) -> list[tuple[ir.Operation, int | None, int | None]]:
    """Each op of a rowwise region with its loops split over the PE rows and
    columns: the anchor's `loops`, else `split_loops`'. The ops share the
    anchor's loop nest, but for an epilogue of a reduction that ends the run
    (a matrix-vector product's bias add, a contraction's): it runs over the
    reduced result's loops, split as that result is."""
    anchor, ranges = members[0], loop_ranges(members[0])
    loops = loops or split_loops(anchor, [op for op in members if loop_ranges(op) == ranges])
    placed, source = [], anchor
    for op in members:
        if loop_ranges(op) == ranges:
            placed.append((op, *loops))
            source = op
        else:
            placed.append((op, *epilogue_loops(source, op, loops)))
    return placed


def row_and_col_loops(op: ir.Operation, reduced: frozenset[int] = frozenset(),
                      whole: frozenset[int] = frozenset()) -> tuple[int | None, int | None]:
    """Columns take the innermost loop; rows the largest other parallel loop
    that no op of the region reduces (`reduced`): a reduction is only ever
    combined across the columns, so one split over the rows would leave each
    PE row with a partial result (softmax over dim 0 after an elementwise op).
    A reduction whose partial results do not combine (an arg-max) is never
    split: columns take the innermost loop not in `whole`.

    Except when the innermost loop is a reduction no longer than the second
    largest parallel loop (a pooling window's kw): split over columns it would
    use no more PEs than that parallel loop, and cost a reduce and a multicast
    per row. Then rows and columns take the two largest parallel loops and
    each PE reduces its windows whole. So too when the innermost loop walks
    a window a PE reads in place (`window_offsets`: a depthwise convolution's
    kw), which no split may take. Softmax and layernorm rows, longer than
    any other parallel loop, still split across the columns.

    A 0-d op (a scalar's elementwise work) has no loop to split: (None, None).
    """
    kinds, ranges = iterator_types(op), loop_ranges(op)
    col = next((d for d in reversed(range(len(kinds))) if d not in whole), None)
    if col is None:
        return None, None
    parallel = sorted((d for d, kind in enumerate(kinds) if kind == PARALLEL and d not in reduced),
                      key=lambda d: -ranges[d])
    offset_innermost = len(kinds) - 1 in window_offsets(op)
    if len(parallel) > 1 and (offset_innermost or kinds[col] == REDUCTION and ranges[parallel[1]] >= ranges[col]):
        return parallel[0], parallel[1]
    rows = [d for d in parallel if d != col]
    return (rows[0] if rows else None), col


def distribute(region: ir.Operation) -> None:
    builder = RegionBuilder(region)
    members = [op for op in builder.ops if op.name == "linalg.generic" and not is_init(op)]
    anchor = members[0]
    kind = str_attr(region, "kind")
    if kind == LOOKUP:
        builder.lookup(anchor)
    elif kind in STEPPED:
        if kind == CANNON:
            builder.cannon(anchor)
        else:
            builder.summa(anchor)
        for op in members[1:]:
            builder.local(op, *summa_epilogue_loops(anchor, op))
    else:
        for op, row_loop, col_loop in rowwise_loops(members, placed_loops(region)):
            builder.local(op, row_loop, col_loop)
    builder.finish()


@dataclass(frozen=True)
class WseDistribute(WaferPass):
    """Turn each placed region's tensor ops into what every PE holds and does.

    Each tensor a region reads becomes a `wse.buffer` of one PE's share,
    filled in place (inits) or brought in by `wse.scatter`; a contraction
    becomes a `wse.steps` loop of local `wse.compute` and panel multicasts
    (summa regions) or block shifts (cannon regions);
    reductions split across columns become `wse.reduce` plus a multicast
    back; the result leaves by `wse.gather`. Transfers are left unrouted
    (color -1) for wse-route.
    """

    name = "wse-distribute"
    summary = "Expand placed wse.regions into per-PE buffers, transfers and compute"

    def apply(self, module: ir.Operation) -> None:
        regions = regions_of(module)
        for region in regions:
            if int_attr(region, "slot") < 0:
                raise PassFailure(region.location, f"region '{str_attr(region, 'sym_name')}' is not "
                                  "placed: run wse-place first")
            distribute(region)
