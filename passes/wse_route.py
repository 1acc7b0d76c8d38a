"""wse-route: give every transfer a routing color within the machine's budget."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import COMM_OPS, enclosing_region, fabric_of, int_attr, rect_of
from .pass_base import PassFailure, WaferPass

_STREAMS = ("wse.scatter", "wse.gather")


def _boxes_overlap(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def stream_box(op: ir.Operation) -> tuple[int, int, int, int]:
    """The PEs a stream crosses: from the wafer's west edge, or from the
    producing region, to the region it feeds (routes run X first)."""
    region = enclosing_region(op)
    x, y, w, h = rect_of(region)
    source = op.operands[0].owner if op.name == "wse.scatter" else None
    if isinstance(source, ir.OpView) and source.name == "wse.region":
        sx, sy, sw, sh = rect_of(source.operation)
        left, top = min(x, sx), min(y, sy)
        return left, top, max(x + w, sx + sw) - left, max(y + h, sy + sh) - top
    return 0, y, x + w, h


@dataclass(frozen=True)
class WseRoute(WaferPass):
    """Assign colors: distinct within a region, shared between regions.

    Transfers inside a region (multicasts, reductions, shifts) stay inside
    its rectangle, so regions reuse the same low colors. Streams in and out
    (scatter, gather) cross other regions: two streams get different colors
    when they are live in the same slot and their routes' bounding boxes
    meet. Colors are given greedily; needing more than the machine has is an
    error at the transfer that ran out.
    """

    name = "wse-route"
    summary = "Assign routing colors to every wse transfer within the color budget"

    def apply(self, module: ir.Operation) -> None:
        regions = []

        def collect(op: ir.Operation) -> ir.WalkResult:
            if op.name == "wse.region":
                regions.append(op)
            return ir.WalkResult.ADVANCE

        module.walk(collect)
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
        assigned = []
        for op, slot, box in streams:
            taken = {color for color, other_slot, other_box in assigned
                     if other_slot == slot and _boxes_overlap(box, other_box)}
            color = next(c for c in range(local_colors, local_colors + len(assigned) + 1) if c not in taken)
            self._color(op, color, budget)
            assigned.append((color, slot, box))

    @staticmethod
    def _color(op: ir.Operation, color: int, budget: int) -> None:
        if color >= budget:
            raise PassFailure(op.location, f"routing needs more than the {budget} colors the machine has")
        op.attributes["color"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), color)
