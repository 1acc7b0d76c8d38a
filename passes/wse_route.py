"""wse-route: give every transfer a routing color within the machine's budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch_mlir import ir

from ..dialects.wse import (COMM_OPS, enclosing_region, fabric_of, i64_attr, int_attr, rects_overlap, rects_union,
                            regions_of, str_attr, stream_box)
from .pass_base import PassFailure, WaferPass, find_ops

_STREAMS = ("wse.scatter", "wse.gather")


@dataclass(frozen=True)
class WseRoute(WaferPass):
    """Assign colors: distinct within a region, shared between regions.

    Transfers inside a region (multicasts, reductions, shifts) stay inside
    its rectangle, so regions reuse the same low colors. Weight loads run
    one region at a time before the model does, so they share one color.
    Other streams in and out (scatter, gather) cross other regions. The
    scatters of one tensor in one slot are one route, a tree that a router
    fans out to every reader (a router forwards a color to several outputs
    and its own PE at once; SDK, 'Routing'), so they share a color: a tensor
    read by every layer, such as rotary tables or a mask, takes one color,
    not one per layer. Two routes get different colors when they are live
    in the same slot and their bounding boxes meet. Colors are given
    greedily; needing more than the machine has is an error at the first
    transfer of the route that ran out.
    """

    name = "wse-route"
    summary = "Assign routing colors to every wse transfer within the color budget"

    def apply(self, module: ir.Operation) -> None:
        regions = regions_of(module)
        if not regions:
            return
        budget = fabric_of(regions[0]).colors
        local_colors = 0
        streams = []
        for region in regions:
            transfers = find_ops(region, lambda op: op.name in COMM_OPS)
            local = [op for op in transfers if op.name not in _STREAMS]
            for color, op in enumerate(local):
                self._color(op, color, budget)
            local_colors = max(local_colors, len(local))
            streams += [(op, int_attr(region, "slot"), stream_box(op)) for op in transfers
                        if op.name in _STREAMS]
        load_color, assigned = local_colors, []
        side_by_side = len(regions) > 1 and len({int_attr(region, "slot") for region in regions}) == 1
        hint = (": the streams between regions side by side cross one another (use mode=whole-wafer)"
                if side_by_side else "")
        for op, slot, box in streams:
            if box is None:
                self._color(op, load_color, budget)
        for route in _routes([stream for stream in streams if stream[2] is not None]):
            taken = {other.color for other in assigned
                     if other.slot == route.slot and rects_overlap(route.box, other.box)}
            route.color = next(c for c in range(load_color + 1, load_color + len(assigned) + 2) if c not in taken)
            if route.color >= budget:
                raise _out_of_colors(route, len(taken), budget, hint)
            for op in route.ops:
                self._color(op, route.color, budget)
            assigned.append(route)

    @staticmethod
    def _color(op: ir.Operation, color: int, budget: int) -> None:
        if color >= budget:
            raise PassFailure(op.location, f"routing needs more than the {budget} colors the machine has")
        op.attributes["color"] = i64_attr(color)


def _out_of_colors(route: _Route, crossed: int, budget: int, hint: str) -> PassFailure:
    """The error for a route that finds every color taken, at the layer it
    streams into: which region, how many tensors that region reads (each
    its own route) and how many routes it crosses there."""
    region = enclosing_region(route.ops[0])
    reads = len({op.operands[0] for op in find_ops(region, lambda op: op.name == "wse.scatter")})
    return PassFailure(region.location,
                       f"routing needs more than the {budget} colors the machine has: the stream into region "
                       f"'{str_attr(region, 'sym_name')}' (which reads {reads} tensors) crosses {crossed} other "
                       f"routes live at once{hint}")


@dataclass
class _Route:
    """The streams one color carries: a gather alone, or every scatter of one tensor in one slot."""

    source: ir.Value | None
    slot: int
    box: tuple[int, int, int, int]
    ops: list[ir.Operation] = field(default_factory=list)
    color: int = -1


def _routes(streams: list[tuple[ir.Operation, int, tuple[int, int, int, int]]]) -> list[_Route]:
    """`streams` as routes, in the order of their first streams."""
    routes = []
    for op, slot, box in streams:
        source = op.operands[0] if op.name == "wse.scatter" else None
        route = next((route for route in routes if source is not None and route.source is not None
                      and route.slot == slot and route.source == source), None)
        if route is None:
            route = _Route(source, slot, box)
            routes.append(route)
        route.box = rects_union([route.box, box])
        route.ops.append(op)
    return routes
