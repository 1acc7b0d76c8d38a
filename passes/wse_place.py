"""wse-place: give every wse.region a rectangle of PEs and a time slot."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import fabric_of, int_attr, regions_of, str_attr
from ..wse_target.distribution import as_contraction, loop_ranges
from .pass_base import PassFailure, WaferPass
from .wse_distribute import row_and_col_loops
from .wse_partition import SUMMA, is_init

MODES = ("pipelined", "whole-wafer")


@dataclass(frozen=True)
class Demand:
    """What a region asks of the fabric: its work and the most PEs it can use."""

    flops: float
    max_rows: int
    max_cols: int
    divides: bool  # rows and columns must divide the split extents exactly
    bytes: int  # every tensor the region reads or writes, once

    def min_cols(self, rows: int, sram_bytes: int) -> int:
        """Columns needed for the region's tensors to fit, split evenly, in
        80% of the SRAM (the rest for panels and replicated operands)."""
        return math.ceil(self.bytes / (min(rows, self.max_rows) * 0.8 * sram_bytes))

    def shape(self, rows: int, cols: int) -> tuple[int, int]:
        """The rectangle used out of `rows` x `cols` available."""
        if self.divides:
            return _largest_divisor(self.max_rows, rows), _largest_divisor(self.max_cols, cols)
        return min(rows, self.max_rows), min(cols, self.max_cols)


def _largest_divisor(extent: int, limit: int) -> int:
    return next(d for d in range(min(extent, limit), 0, -1) if extent % d == 0)


def _tensor_bytes(values) -> int:
    unique = []
    for value in values:
        if isinstance(value.type, ir.RankedTensorType) and not any(value == u for u in unique):
            unique.append(value)
    return sum(math.prod(ir.RankedTensorType(v.type).shape)
               * max(1, ir.RankedTensorType(v.type).element_type.width // 8) for v in unique)


def demand(region: ir.Operation) -> Demand:
    members = [op.operation for op in region.regions[0].blocks[0].operations
               if op.operation.name == "linalg.generic" and not is_init(op.operation)]
    flops = float(int_attr(region, "flops"))
    size = _tensor_bytes([v for op in members for v in list(op.operands) + list(op.results)])
    anchor = members[0]
    ranges = loop_ranges(anchor)
    if str_attr(region, "kind") == SUMMA:
        # Every row helps even past m: the stepped operands' k dim is split over the rows.
        contraction = as_contraction(anchor)
        rows = max(ranges[contraction.k], ranges[contraction.m] if contraction.m is not None else 1)
        cols = ranges[contraction.n] if contraction.n is not None else 1
        return Demand(flops, rows, cols, divides=False, bytes=size)
    row, col = row_and_col_loops(anchor)
    return Demand(flops, ranges[row] if row is not None else 1, ranges[col], divides=True, bytes=size)


def _set_rect(region: ir.Operation, x: int, y: int, width: int, height: int, slot: int) -> None:
    i64 = ir.IntegerType.get_signless(64)
    for key, value in (("x", x), ("y", y), ("width", width), ("height", height), ("slot", slot)):
        region.attributes[key] = ir.IntegerAttr.get(i64, value)


@dataclass(frozen=True)
class WsePlace(WaferPass):
    """Size and place each region's rectangle, in one of two modes.

    pipelined: every region is live at once (slot 0), each in its own strip
      of columns as tall as it can use; each strip starts as wide as its
      tensors need and spare columns go, one by one, to the slowest stage
      (FLOPs per PE used), so the pipeline's stages balance; activations
      stream from strip to strip.
    whole-wafer: one region at a time (slot = its position), each on as
      much of the whole fabric as it can use.
    A model with more regions than the fabric has columns does not fit
    pipelined; the error says by how much.

    Options:
      mode: pipelined or whole-wafer.
    """

    name = "wse-place"
    summary = "Place wse.regions on the fabric: layer-pipelined strips or whole-wafer slots"

    mode: str = "pipelined"

    def apply(self, module: ir.Operation) -> None:
        if self.mode not in MODES:
            raise PassFailure(module.location, f"unknown mode '{self.mode}' (modes: {', '.join(MODES)})")
        regions = regions_of(module)
        if not regions:
            return
        fabric = fabric_of(regions[0])
        demands = [demand(region) for region in regions]
        least = [d.min_cols(fabric.height, fabric.sram_bytes) for d in demands]
        for region, need, cols in zip(regions, demands, least):
            if cols > fabric.width:
                raise PassFailure(
                    region.location,
                    f"region '{str_attr(region, 'sym_name')}' does not fit: its {need.bytes:,} B of "
                    f"tensors need at least {cols} columns of {fabric.height} PEs, '{fabric.name}' "
                    f"has {fabric.width} ({cols - fabric.width} short)",
                )
        if self.mode == "whole-wafer":
            for slot, (region, need) in enumerate(zip(regions, demands)):
                rows, cols = need.shape(fabric.height, fabric.width)
                _set_rect(region, 0, 0, cols, rows, slot)
            return
        if len(regions) > fabric.width:
            raise PassFailure(
                regions[fabric.width].location,
                f"{len(regions)} regions do not fit side by side in the {fabric.width} columns of "
                f"'{fabric.name}' ({len(regions) - fabric.width} too many): use mode=whole-wafer",
            )
        if sum(least) > fabric.width:
            raise PassFailure(
                regions[0].location,
                f"the {len(regions)} regions need at least {sum(least)} columns of {fabric.height} PEs "
                f"to hold their tensors side by side; '{fabric.name}' has {fabric.width} "
                f"({sum(least) - fabric.width} short): use mode=whole-wafer or a larger machine",
            )
        x = 0
        for region, need, cols in zip(regions, demands, _balanced_widths(demands, least, fabric.width, fabric.height)):
            rows, used = need.shape(fabric.height, cols)
            _set_rect(region, x, 0, used, rows, 0)
            x += cols


def _balanced_widths(demands: list[Demand], least: list[int], width: int, height: int) -> list[int]:
    """Columns per region: each starts at what its tensors need, then every
    spare column goes to the slowest stage that can still use one. A stage's
    time is taken as its FLOPs over the PEs it uses, so a region that cannot
    use more rows or columns stops drawing columns."""
    widths = list(least)

    def stage_time(i: int) -> float:
        rows, cols = demands[i].shape(height, widths[i])
        return demands[i].flops / (rows * cols)

    for _ in range(width - sum(widths)):
        growable = [i for i, d in enumerate(demands) if widths[i] < d.max_cols]
        if not growable:
            break
        widths[max(growable, key=stage_time)] += 1
    return widths
