"""The `wse` dialect: IRDL text checked in beside this file, plus Python verifiers.

IRDL says which operands, attributes and regions each op has. What it cannot
say is checked here, at the op's location, whenever the IR is parsed or
verified: a region's rectangle lies inside the fabric and does not overlap a
region live at the same time, every color is within the machine's budget,
the buffers of a region lie in one PE's SRAM without overlapping, and every multicast or reduce
root lies inside its region.

The machine is read from the `wse.machine` attribute of the enclosing module:
    module attributes {wse.machine = {name = "small", width = 32 : i64,
        height = 32 : i64, colors = 21 : i64, sram_bytes = 49152 : i64}}
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from torch_mlir import ir
from torch_mlir.dialects import irdl

MACHINE_ATTR = "wse.machine"
IRDL_PATH = Path(__file__).with_name("wse.irdl.mlir")
COMM_OPS = ("wse.scatter", "wse.gather", "wse.multicast", "wse.shift", "wse.reduce", "wse.lookup")
UNROUTED = -1  # the color of a transfer before wse-route
FOLDED_RING = 2  # wse.shift's `wrap` for a cyclic shift over a folded ring
WORD_BYTES = 4  # a PE's SRAM banks are 32 bits wide (SDK appendix, 'SIMD Mode')


def next_word(address: int) -> int:
    """The first word-aligned byte address at or after `address`."""
    return -(-address // WORD_BYTES) * WORD_BYTES


@dataclass(frozen=True)
class FabricInfo:
    """What the verifiers need to know about the machine, read from the IR."""

    name: str
    width: int
    height: int
    colors: int
    sram_bytes: int

    @staticmethod
    def of(machine) -> FabricInfo:
        """The verifiers' view of a `wafer.wse_target.machine.Machine`."""
        return FabricInfo(machine.name, machine.width, machine.height,
                          machine.usable_colors, machine.sram_bytes)

    def to_attr(self) -> ir.Attribute:
        i64 = ir.IntegerType.get_signless(64)
        return ir.DictAttr.get({
            "name": ir.StringAttr.get(self.name),
            **{key: ir.IntegerAttr.get(i64, getattr(self, key))
               for key in ("width", "height", "colors", "sram_bytes")},
        })

    @staticmethod
    def from_attr(attr: ir.Attribute) -> FabricInfo:
        values = ir.DictAttr(attr)
        return FabricInfo(
            ir.StringAttr(values["name"]).value,
            *(ir.IntegerAttr(values[key]).value for key in ("width", "height", "colors", "sram_bytes")),
        )


def fabric_of(op: ir.Operation) -> FabricInfo | None:
    """The machine of the nearest enclosing op that carries `wse.machine`."""
    current = op.parent
    while current is not None:
        if MACHINE_ATTR in current.attributes:
            return FabricInfo.from_attr(current.attributes[MACHINE_ATTR])
        current = current.parent
    return None


def int_attr(op: ir.Operation, name: str) -> int:
    return ir.IntegerAttr(op.attributes[name]).value


def str_attr(op: ir.Operation, name: str) -> str:
    return ir.StringAttr(op.attributes[name]).value


def rect_of(region: ir.Operation) -> tuple[int, int, int, int]:
    return tuple(int_attr(region, key) for key in ("x", "y", "width", "height"))


def regions_of(op: ir.Operation) -> list[ir.Operation]:
    """Every wse.region under `op`, in program order."""
    regions = []

    def collect(inner: ir.Operation) -> ir.WalkResult:
        if inner.name == "wse.region":
            regions.append(inner)
            return ir.WalkResult.SKIP
        return ir.WalkResult.ADVANCE

    op.walk(collect, ir.WalkOrder.PRE_ORDER)
    return regions


def enclosing_region(op: ir.Operation) -> ir.Operation | None:
    current = op.parent
    while current is not None and current.name != "wse.region":
        current = current.parent
    return current


def stream_sources(value: ir.Value) -> tuple[list[tuple[int, int, int, int]], bool]:
    """The rectangles of the regions a tensor comes from (`source_regions`),
    and whether it also comes in at the edge."""
    regions, edge = source_regions(value)
    return [rect_of(region) for region in regions], edge


def source_regions(value: ir.Value, stops=lambda op: False,
                   relay=lambda value: None) -> tuple[list[ir.Operation], bool]:
    """The regions a tensor comes from, seen through the data movement
    between regions (and the ops `stops` accepts, such as ops run on the
    host, which count as sources too), and whether it also comes in at the
    edge (a function argument). Constants come from neither: they are
    preloaded. A part of the tensor for which `relay` names a region comes
    from that region instead of from where it was computed."""
    regions, edge, pending, seen = [], False, [value], []
    root = value
    while pending:
        value = pending.pop()
        if any(value == v for v in seen):
            continue
        seen.append(value)
        owner = value.owner
        relayed = None if value == root else relay(value)
        if relayed is not None:
            regions.append(relayed)
        elif not isinstance(owner, ir.OpView):
            edge = True  # a block argument: the function's input
        elif owner.name == "wse.region" or stops(owner.operation):
            regions.append(owner.operation)
        elif owner.name != "arith.constant":
            pending += list(owner.operands)
    return regions, edge


_RESHAPES = ("tensor.collapse_shape", "tensor.expand_shape")
# A scatter's optional windows (stride, span) over rows then columns (wse.irdl.mlir).
WINDOWS_ATTR = "windows"


def _scatter_sources(scatter: ir.Operation) -> tuple[list[tuple[int, int, int, int]], bool]:
    """`stream_sources` of what a scatter reads, where a region side by side
    with the scatter's (in its slot) that took a part whole (or reshaped)
    passes that part on: it holds it already, and a chain of short routes
    crosses fewer others than one route from every producer
    (`wse-extend-concats`). Taken through windows, a region may hold only
    some of a tensor's elements."""
    region = enclosing_region(scatter)
    slot = int_attr(region, "slot")

    def holder(value: ir.Value) -> ir.Operation | None:
        for use in value.uses:
            if use.owner.name in _RESHAPES:
                found = holder(use.owner.results[0])
                if found is not None:
                    return found
            elif use.owner.name == "wse.scatter" and WINDOWS_ATTR not in use.owner.attributes:
                other = enclosing_region(use.owner)
                if other != region and int_attr(other, "slot") == slot:
                    return other
        return None

    regions, edge = source_regions(scatter.operands[0], relay=holder)
    return [rect_of(r) for r in regions], edge


def rects_union(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The bounding box of (x, y, width, height) rectangles."""
    left, top = min(r[0] for r in rects), min(r[1] for r in rects)
    right, bottom = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
    return left, top, right - left, bottom - top


def stream_box(op: ir.Operation) -> tuple[int, int, int, int] | None:
    """The PEs a stream crosses (routes run X first), or None for a weight
    load, which runs region by region before the model does. A scatter comes
    from the regions its tensor was computed on (or that pass a part of it
    on, `_scatter_sources`) and from the west edge if it reads an input; a
    gather goes to the west edge when its result leaves the program, else
    stays in its region (the consumer's scatter carries it on)."""
    region = enclosing_region(op)
    x, y, w, h = rect_of(region)
    if op.name == "wse.gather":
        leaves = any(use.owner.name == "func.return" for use in region.results[0].uses)
        return (0, y, x + w, h) if leaves else (x, y, w, h)
    rects, edge = _scatter_sources(op)
    if not rects and not edge:
        return None
    if edge:
        rects.append((0, y, 1, h))
    return rects_union(rects + [(x, y, w, h)])


def crosses_host_io(op: ir.Operation) -> bool:
    """Whether a stream moves data between the wafer and the host: a weight
    load, a scatter of a function argument, a gather whose result leaves."""
    if op.name == "wse.gather":
        return any(use.owner.name == "func.return" for use in enclosing_region(op).results[0].uses)
    rects, edge = _scatter_sources(op)
    return edge or not rects


def i64_attr(value: int) -> ir.Attribute:
    """An i64 attribute, as every integer attribute of the dialect is."""
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), value)


def element_bytes(element: ir.Type) -> int:
    """Bytes one element of `element` takes in SRAM (an index is 64 bits, an i1 a byte)."""
    if isinstance(element, ir.IndexType):
        return 8
    return max(1, element.width // 8)


def buffer_bytes(type_: ir.Type) -> int:
    """Bytes of a buffer or tensor type."""
    shaped = ir.ShapedType(type_)
    return math.prod(shaped.shape) * element_bytes(shaped.element_type)


def _error(op: ir.Operation, message: str) -> bool:
    op.location.emit_error(message)
    return False


# The bindings try to import `torch_mlir.dialects.<namespace>` whenever they wrap
# an op of a dialect they have no Python module for, and remember only imports
# that succeed: on a full wafer the simulator spent most of its time in failed
# imports. This module is the `wse` dialect's Python module, so say so.
sys.modules.setdefault("torch_mlir.dialects.wse", sys.modules[__name__])


def _lacks(op: ir.Operation, names: tuple[str, ...]) -> bool:
    """Report a missing attribute here: the verifiers can run before IRDL's own check."""
    missing = [name for name in names if name not in op.attributes]
    if missing:
        _error(op, f"'{op.name}' op attribute \"{missing[0]}\" is expected but not provided")
    return bool(missing)


def _fabric_or_error(op: ir.Operation) -> FabricInfo | None:
    fabric = fabric_of(op)
    if fabric is None:
        _error(op, f"'{op.name}' needs an enclosing module with a '{MACHINE_ATTR}' attribute")
    return fabric


class RegionVerifier(ir.DynamicOpTrait):
    """A placed rectangle lies inside the fabric, overlaps no region live in the
    same slot, and its buffers lie in one PE's SRAM without overlapping."""

    @staticmethod
    def verify_invariants(op) -> bool:
        op = op.operation
        if _lacks(op, ("sym_name", "x", "y", "width", "height", "slot")):
            return False
        fabric = _fabric_or_error(op)
        if fabric is None:
            return False
        x, y, width, height = rect_of(op)
        name = str_attr(op, "sym_name")
        if width < 1 or height < 1:
            return _error(op, f"region '{name}' has an empty rectangle {width}x{height}")
        if x < 0 or y < 0 or x + width > fabric.width or y + height > fabric.height:
            return _error(
                op,
                f"region '{name}' at ({x}, {y}) of {width}x{height} PEs lies outside the "
                f"{fabric.width}x{fabric.height} fabric of '{fabric.name}'",
            )
        if int_attr(op, "slot") >= 0:
            for other in _siblings(op):
                if _overlaps(op, other):
                    return _error(
                        op,
                        f"region '{name}' {(x, y, width, height)} overlaps region "
                        f"'{str_attr(other, 'sym_name')}' {rect_of(other)}, which is live "
                        f"in the same slot {int_attr(op, 'slot')}",
                    )
        return _check_sram(op, fabric)


def _siblings(region: ir.Operation):
    """Regions earlier in the same block: an overlap is reported at the later one."""
    for other in region.block.operations:
        other = other.operation
        if other == region:
            return
        if other.name == "wse.region":
            yield other


def rects_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Two (x, y, width, height) rectangles share a PE."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _overlaps(a: ir.Operation, b: ir.Operation) -> bool:
    return int_attr(a, "slot") == int_attr(b, "slot") and rects_overlap(rect_of(a), rect_of(b))


def _check_sram(region: ir.Operation, fabric: FabricInfo) -> bool:
    """Every buffer lies inside one PE's SRAM, aligned to its element (a word at
    most), and no two overlap: errors at the buffer that breaks it."""
    spans = []
    for op in region.regions[0].blocks[0].operations:
        op = op.operation
        if op.name != "wse.buffer":
            continue
        if _lacks(op, ("name", "offset")):
            return False
        name, offset, size = str_attr(op, "name"), int_attr(op, "offset"), buffer_bytes(op.results[0].type)
        align = min(element_bytes(ir.MemRefType(op.results[0].type).element_type), WORD_BYTES)
        if offset < 0 or offset % align:
            return _error(op, f"buffer '{name}' at offset {offset} is not aligned to its {align}-byte elements")
        if offset + size > fabric.sram_bytes:
            return _error(
                op,
                f"buffer '{name}' ({size} B at offset {offset}) takes region "
                f"'{str_attr(region, 'sym_name')}' to {offset + size} B per PE, over the "
                f"{fabric.sram_bytes} B of SRAM on a PE of '{fabric.name}' by {offset + size - fabric.sram_bytes} B",
            )
        for other, start, end in spans:
            if offset < end and start < offset + size:
                return _error(op, f"buffer '{name}' at bytes [{offset}, {offset + size}) overlaps "
                                  f"buffer '{other}' at [{start}, {end})")
        spans.append((name, offset, offset + size))
    return True


class TransferVerifier(ir.DynamicOpTrait):
    """A transfer's color is within budget and its root lies inside its region."""

    @staticmethod
    def verify_invariants(op) -> bool:
        op = op.operation
        if _lacks(op, ("color", "root") if "axis" in op.attributes else ("color",)):
            return False
        fabric = _fabric_or_error(op)
        if fabric is None:
            return False
        color = int_attr(op, "color")
        if color != UNROUTED and not 0 <= color < fabric.colors:
            return _error(
                op, f"color {color} is beyond the {fabric.colors} routable colors of '{fabric.name}'"
            )
        if op.name == "wse.lookup" and not _lookup_shapes_agree(op):
            return False
        if "axis" not in op.attributes:
            return True
        axis = str_attr(op, "axis")
        if axis not in ("row", "col"):
            return _error(op, f"axis must be \"row\" or \"col\", got \"{axis}\"")
        region = enclosing_region(op)
        if region is None:
            return _error(op, f"'{op.name}' must be inside a wse.region")
        extent = int_attr(region, "width" if axis == "row" else "height")
        root = int_attr(op, "root")
        if not 0 <= root < extent:
            return _error(op, f"root {root} is outside the {extent} PEs along a {axis} of the region")
        return True


def _lookup_shapes_agree(op: ir.Operation) -> bool:
    """A lookup's table is 2-D, `rows` has the result's shape but its last
    dim, and a row of the table is as long as one of the result."""
    table, rows, dest = (ir.MemRefType(v.type).shape for v in op.operands)
    if len(table) != 2 or list(rows) != list(dest[:-1]) or table[1] != dest[-1]:
        return _error(op, f"a lookup reads rows of a 2-D table into a result of the row numbers' shape "
                          f"and one more dim as long as a table row; got table {list(table)}, rows "
                          f"{list(rows)}, result {list(dest)}")
    if str_attr(op, "axis") != "col":
        return _error(op, "a lookup runs along the PE columns: axis must be \"col\"")
    return True


def load_wse(ctx: ir.Context) -> None:
    """Register the dialect and its verifiers on `ctx`; safe to call twice."""
    if ctx.is_dialect_loaded("wse"):
        return
    with ctx, ir.Location.unknown():
        irdl.load_dialects(ir.Module.parse(IRDL_PATH.read_text()))
        ir.IsTerminatorTrait.attach("wse.yield")
        for name in ("wse.compute", "wse.steps"):
            ir.NoTerminatorTrait.attach(name)
        ir.DynamicOpTrait.attach("wse.region", RegionVerifier)
        for name in COMM_OPS:
            ir.DynamicOpTrait.attach(name, TransferVerifier)
