"""wse-route: give every transfer a routing color within the machine's budget."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import COMM_OPS, enclosing_region, fabric_of, int_attr, rect_of, regions_of
from .pass_base import PassFailure, WaferPass

_STREAMS = ("wse.scatter", "wse.gather")


def _boxes_overlap(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def stream_sources(value: ir.Value) -> tuple[list[tuple[int, int, int, int]], bool]:
    """The rectangles of the regions a tensor comes from, seen through the
    data movement between regions, and whether it also comes in at the edge
    (a function argument). Constants come from neither: they are preloaded."""
    rects, edge, pending, seen = [], False, [value], []
    while pending:
        value = pending.pop()
        if any(value == v for v in seen):
            continue
        seen.append(value)
        owner = value.owner
        if not isinstance(owner, ir.OpView):
            edge = True  # a block argument: the function's input
        elif owner.name == "wse.region":
            rects.append(rect_of(owner.operation))
        elif owner.name != "arith.constant":
            pending += list(owner.operands)
    return rects, edge


def _union(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    left, top = min(r[0] for r in rects), min(r[1] for r in rects)
    right, bottom = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
    return left, top, right - left, bottom - top


def stream_box(op: ir.Operation) -> tuple[int, int, int, int] | None:
    """The PEs a stream crosses (routes run X first), or None for a weight
    load, which runs region by region before the model does. A scatter comes
    from the regions its tensor was computed on and from the west edge if it
    reads an input; a gather goes to the west edge when its result leaves the
    program, else stays in its region (the consumer's scatter carries it on)."""
    region = enclosing_region(op)
    x, y, w, h = rect_of(region)
    if op.name == "wse.gather":
        leaves = any(use.owner.name == "func.return" for use in region.results[0].uses)
        return (0, y, x + w, h) if leaves else (x, y, w, h)
    rects, edge = stream_sources(op.operands[0])
    if not rects and not edge:
        return None
    if edge:
        rects.append((0, y, 1, h))
    return _union(rects + [(x, y, w, h)])


@dataclass(frozen=True)
class WseRoute(WaferPass):
    """Assign colors: distinct within a region, shared between regions.

    Transfers inside a region (multicasts, reductions, shifts) stay inside
    its rectangle, so regions reuse the same low colors. Weight loads run
    one region at a time before the model does, so they share one color.
    Other streams in and out (scatter, gather) cross other regions: two get
    different colors when they are live in the same slot and their routes'
    bounding boxes meet. Colors are given greedily; needing more than the
    machine has is an error at the transfer that ran out.
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
            transfers = []

            def gather(op: ir.Operation) -> ir.WalkResult:
                if op.name in COMM_OPS:
                    transfers.append(op)
                return ir.WalkResult.ADVANCE

            region.walk(gather)
            local = [op for op in transfers if op.name not in _STREAMS]
            for color, op in enumerate(local):
                self._color(op, color, budget)
            local_colors = max(local_colors, len(local))
            streams += [(op, int_attr(region, "slot"), stream_box(op)) for op in transfers
                        if op.name in _STREAMS]
        load_color, assigned = local_colors, []
        for op, slot, box in streams:
            if box is None:
                self._color(op, load_color, budget)
                continue
            taken = {color for color, other_slot, other_box in assigned
                     if other_slot == slot and _boxes_overlap(box, other_box)}
            color = next(c for c in range(load_color + 1, load_color + len(assigned) + 2) if c not in taken)
            self._color(op, color, budget)
            assigned.append((color, slot, box))

    @staticmethod
    def _color(op: ir.Operation, color: int, budget: int) -> None:
        if color >= budget:
            raise PassFailure(op.location, f"routing needs more than the {budget} colors the machine has")
        op.attributes["color"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), color)
