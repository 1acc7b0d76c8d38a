"""wse-place: give every wse.region a rectangle of PEs and a time slot."""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import fabric_of, regions_of, str_attr
from ..tuning.database import ModeDatabase, PlacementDatabase
from ..wse_target.distribution import PANEL_ATTR, set_placed_loops
from ..wse_target.lookup import lookup_of
from .pass_base import PassFailure, WaferPass
from .placement_modes import AUTO, check_mode
from .wse_demand import Demand, rectangle_sides
from .wse_region_demand import demands_of, is_weight, region_key, tensor_bytes
from .wse_distribute import WseDistribute
from .wse_partition import LOOKUP, ROWWISE, SUMMA, inline_on_host
from .wse_route import WseRoute


def model_key(region_keys: list[str]) -> str:
    """What a model's placement mode depends on, for the tuning database: its
    regions' keys (`region_key`), in order."""
    return hashlib.sha1("\n".join(region_keys).encode()).hexdigest()[:16]


def fabric_key(fabric) -> str:
    """The tuning database's name for a fabric."""
    return f"{fabric.name} {fabric.width}x{fabric.height}"


def placement_key(fabric, mode: str) -> str:
    """The tuning database's name for a fabric and placement mode."""
    return f"{fabric_key(fabric)} {mode}"


def set_rect(region: ir.Operation, need: Demand, x: int, width: int, height: int, slot: int,
             kind: str = "", panel: int = 0) -> None:
    """Place `region` on `width` x `height` PEs from column `x` in time slot `slot`.
    A contraction's region takes `kind` where that algorithm applies there (a
    tuning record's), else the one `need` finds faster there; a SUMMA region
    steps by `panel` where that panel fits there (a record's), else by the one
    `need` finds fastest."""
    i64 = ir.IntegerType.get_signless(64)
    for key, value in (("x", x), ("y", 0), ("width", width), ("height", height), ("slot", slot)):
        region.attributes[key] = ir.IntegerAttr.get(i64, value)
    if need.anchor is not None:
        if kind not in need.algorithms(height, width):
            kind = need.algorithm(height, width)
        region.attributes["kind"] = ir.StringAttr.get(kind)
        if kind == SUMMA:
            panels = need.panels(height, width)
            region.attributes[PANEL_ATTR] = ir.IntegerAttr.get(i64, panel if panel in panels else panels[0])
        elif PANEL_ATTR in region.attributes:  # a tuning round's copy of a placed module
            del region.attributes[PANEL_ATTR]
        set_placed_loops(region, need.local_at(height, width).loops if kind == ROWWISE else None)


@dataclass(frozen=True)
class WsePlace(WaferPass):
    """Size and place each region's rectangle, in one of two modes.

    pipelined: every region is live at once (slot 0), each in its own strip
      of columns; each strip starts as wide as its tensors need and spare
      columns go to the slowest stage while they make it faster, so the
      pipeline's stages balance; activations stream from strip to strip.
    whole-wafer: one region at a time (slot = its position), each on the
      rectangle of the fabric its time model likes best. A lookup from a
      weight table larger than what it looks up runs on the host instead:
      its table would stream in every inference.
    Within its strip or the fabric, a region takes the rectangle the time
    model of `Demand.cycles` finds fastest among those that hold it, and a
    contraction's region the algorithm (summa, cannon, or rowwise: each PE
    its outputs over all of k) it models fastest there, a summa region with the panel of k it models fastest (`panel`
    attribute, `Demand.panel`); or the rectangle, algorithm and panel the tuning database's record of it
    found fastest on the simulator (`wafer tune --target wse`), where that
    rectangle holds it there.
    A model with more regions than the fabric has columns does not fit
    pipelined; the error says by how much.

    Options:
      mode: pipelined, whole-wafer, or auto: the mode the tuning database
        found faster for this model (`wafer tune --target wse` with no mode),
        else pipelined where the regions fit side by side and their streams
        route within the fabric's colors, else whole-wafer.
      tuning: a tuning database written by `wafer tune --target wse`.
    """

    name = "wse-place"
    summary = "Place wse.regions on the fabric: layer-pipelined strips or whole-wafer slots"

    mode: str = "pipelined"
    tuning: str = ""

    def __post_init__(self):
        check_mode(self.mode)

    def apply(self, module: ir.Operation) -> None:
        regions = regions_of(module)
        if not regions:
            return
        fabric = fabric_of(regions[0])
        mode = self.mode
        if mode == AUTO:
            mode = self._recorded_mode(regions, fabric)
            if mode is None:
                if self._place_pipelined_where_it_routes(module, regions):
                    return
                mode = "whole-wafer"
        if mode == "whole-wafer":
            for region in [r for r in regions if _cheaper_on_the_host(r)]:
                inline_on_host(region)
            regions = regions_of(module)
        demands = demands_of(regions, mode)
        tuned = PlacementDatabase(self.tuning, placement_key(fabric, mode)) if self.tuning else None
        for region, need, place in zip(regions, demands, places(regions, demands, fabric, mode)):
            record = tuned and tuned.best(region_key(region))
            if record and record.rows <= fabric.height and record.cols <= place.cols \
                    and need.holds(record.rows, record.cols):
                rows, cols, kind, panel = record.candidate
            else:
                (rows, cols), kind, panel = need.shape(fabric.height, place.cols, fabric.sram_bytes), "", 0
            set_rect(region, need, place.x, cols, rows, place.slot, kind, panel)

    def _recorded_mode(self, regions: list[ir.Operation], fabric) -> str | None:
        """The mode the tuning database found faster for this model, if any."""
        if not self.tuning:
            return None
        return ModeDatabase(self.tuning, fabric_key(fabric)).best(model_key([region_key(r) for r in regions]))

    def _place_pipelined_where_it_routes(self, module: ir.Operation, regions: list[ir.Operation]) -> bool:
        """Place the regions side by side if they fit so, and then lay out and
        route within the fabric's colors; else leave them unplaced. Every
        stream between strips crosses the strips between them, and all are
        live at once: a densely connected model (DenseNet's blocks, each layer
        reading every earlier one) needs more colors than a fabric has. Tried
        on a copy, through wse-distribute and wse-route, whose placement the
        regions then take attribute for attribute (neither pass sets any on a
        region)."""
        trial = module.clone()
        try:
            for stage in (WsePlace(mode="pipelined", tuning=self.tuning), WseDistribute(), WseRoute()):
                stage.apply(trial)
            for region, placed in zip(regions, regions_of(trial)):
                for name in placed.attributes:
                    region.attributes[name] = placed.attributes[name]
        except PassFailure:
            return False
        finally:
            trial.erase()
        return True


def _cheaper_on_the_host(region: ir.Operation) -> bool:
    """A lookup from a weight table larger than the rows it looks up: one
    layer at a time (whole-wafer), the table would stream in from the host
    every inference, where the host can send only the rows, through the same
    I/O. Pipelined, the table stays on the wafer, loaded once."""
    if str_attr(region, "kind") != LOOKUP:
        return False
    (op,) = [op.operation for op in region.regions[0].blocks[0].operations if lookup_of(op.operation)]
    table = lookup_of(op).table
    return is_weight(table) and tensor_bytes([table]) > tensor_bytes([op.results[0]])


@dataclass(frozen=True)
class Place:
    """Where a region may go: `cols` columns from column `x` (its strip, or the
    whole fabric), all rows, in time slot `slot`."""

    x: int
    cols: int
    slot: int


def places(regions: list[ir.Operation], demands: list[Demand], fabric, mode: str) -> list[Place]:
    """Each region's place in `mode`; a PassFailure says why the regions do not fit."""
    least = [d.min_cols(fabric.height, fabric.sram_bytes) for d in demands]
    for region, need, cols in zip(regions, demands, least):
        if cols > fabric.width:
            raise PassFailure(
                region.location,
                f"region '{str_attr(region, 'sym_name')}' does not fit: its {need.bytes:,} B of "
                f"tensors need at least {cols} columns of {fabric.height} PEs, '{fabric.name}' "
                f"has {fabric.width} ({cols - fabric.width} short)",
            )
    # Whether some rectangle holds each region, from SRAM alone: timing every
    # rectangle of the whole fabric is wasted where the strips are narrower.
    for region, need in zip(regions, demands):
        if not need.holds_within(fabric.height, fabric.width, fabric.sram_bytes):
            raise _overflow(region, need, fabric)
    if mode == "whole-wafer":
        return [Place(0, fabric.width, slot) for slot in range(len(regions))]
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
            f"({sum(least) - fabric.width} short, {_wafers(sum(least), fabric)} wafers' worth): "
            "use mode=whole-wafer or a larger machine",
        )
    widths = _narrowest_strips(demands, least, fabric)
    if sum(widths) > fabric.width:
        raise _too_wide(regions, demands, widths, fabric)
    _balance(widths, demands, fabric)
    return [Place(x, cols, 0) for x, cols in zip(itertools.accumulate(widths, initial=0), widths)]


def _overflow(region: ir.Operation, need: Demand, fabric) -> PassFailure:
    """No rectangle holds the region: say how far over SRAM its largest one is."""
    rows, cols = min(need.max_rows, fabric.height), min(need.max_cols, fabric.width)
    per_pe = need.bytes_per_pe(rows, cols)
    return PassFailure(
        region.location,
        f"region '{str_attr(region, 'sym_name')}' does not fit: spread over {rows}x{cols} PEs (as far as "
        f"its loops split), its blocks and panels take {per_pe:,} B per PE, and a PE of '{fabric.name}' "
        f"has {fabric.sram_bytes:,} B of SRAM (10% kept spare)")


def _stage_cycles(need: Demand, cols: int, fabric) -> float:
    shape = need.shape(fabric.height, cols, fabric.sram_bytes)
    return math.inf if shape is None else need.cycles(*shape)


def _narrowest_strips(demands: list[Demand], least: list[int], fabric) -> list[int]:
    """Per region, the narrowest full-height strip in which some rectangle holds
    its blocks and panels (each holds on the whole fabric): a binary search."""
    widths = []
    for need, low in zip(demands, least):
        high = fabric.width
        while low < high:
            middle = (low + high) // 2
            holds = need.holds_within(fabric.height, middle, fabric.sram_bytes)
            low, high = (low, middle) if holds else (middle + 1, high)
        widths.append(low)
    return widths


def _too_wide(regions: list[ir.Operation], demands: list[Demand], widths: list[int], fabric) -> PassFailure:
    """The regions need more columns than the fabric has: how many fit, and what the rest need."""
    fit, used = 0, 0
    while fit < len(widths) and used + widths[fit] <= fabric.width:
        used += widths[fit]
        fit += 1
    rest = len(regions) - fit
    return PassFailure(
        regions[fit].location,
        f"the {len(regions)} regions' blocks and panels need {sum(widths)} columns side by side; "
        f"'{fabric.name}' has {fabric.width}: the first {fit} fit, the other {rest} from region "
        f"'{str_attr(regions[fit], 'sym_name')}' on need {sum(widths[fit:])} columns more for "
        f"{sum(d.bytes for d in demands[fit:]):,} B of tensors ({_wafers(sum(widths), fabric)} wafers' worth): "
        "use mode=whole-wafer or a larger machine")


def _wafers(columns: int, fabric) -> int:
    """How many fabrics side by side hold `columns` full-height columns."""
    return math.ceil(columns / fabric.width)


def _balance(widths: list[int], demands: list[Demand], fabric) -> None:
    """Give spare columns to the slowest stage that they make faster, in the
    smallest step that does, until none gets faster: the slowest sets the
    pipeline's rate, and every stage's time adds to an inference's latency."""
    def wider(i: int, spare: int) -> list[int]:
        limit = widths[i] + spare
        return [c for c in rectangle_sides(limit, demands[i].max_cols, False) if c > widths[i]] + [limit]

    while (spare := fabric.width - sum(widths)) > 0:
        for stage in sorted(range(len(widths)), key=lambda i: -_stage_cycles(demands[i], widths[i], fabric)):
            now = _stage_cycles(demands[stage], widths[stage], fabric)
            faster = next((c for c in wider(stage, spare) if _stage_cycles(demands[stage], c, fabric) < now), None)
            if faster is not None:
                widths[stage] = faster
                break
        else:
            break
