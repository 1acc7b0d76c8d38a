"""wse-route: give every transfer a routing color within the machine's budget."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import COMM_OPS, fabric_of, i64_attr, int_attr, rects_overlap, regions_of, stream_box
from .pass_base import PassFailure, WaferPass, find_ops

_STREAMS = ("wse.scatter", "wse.gather")


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
                continue
            taken = {color for color, other_slot, other_box in assigned
                     if other_slot == slot and rects_overlap(box, other_box)}
            color = next(c for c in range(load_color + 1, load_color + len(assigned) + 2) if c not in taken)
            self._color(op, color, budget, hint)
            assigned.append((color, slot, box))

    @staticmethod
    def _color(op: ir.Operation, color: int, budget: int, hint: str = "") -> None:
        if color >= budget:
            raise PassFailure(op.location, f"routing needs more than the {budget} colors the machine has{hint}")
        op.attributes["color"] = i64_attr(color)
