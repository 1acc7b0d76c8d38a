"""wafer-fuse-rows: compute a row reduction and the ops around it a tile of rows at a time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch_mlir import ir
from torch_mlir.dialects import scf, tensor

from .cpu_target import TargetedPass, element_bytes
from .fuse import WHOLE_TILE, is_elementwise
from .kernel_defaults import PARALLEL_ELEMENTS, VECTOR_TILE_ELEMENTS
from .linalg_builders import (extract_slice, generic_like, largest_divisor, move_body, offset_indices,
                              parallel_insert, remade_init)
from .linalg_queries import (PARALLEL, holds_assert, indexing_maps, is_projected_map, iterator_types, loop_ranges,
                             reassociation_groups, reduces_rows)
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .serial_foralls import SERIAL

_RESHAPES = ("tensor.expand_shape", "tensor.collapse_shape")
# Marks wafer-attention-head-groups' loops, whose bodies hold softmax rows to fuse.
HEAD_GROUPS = "wafer.head_groups"
# Tiles a group's rows are cut into at least, where it has as many rows: work for the threads.
_MIN_TILES = 8


def _static(value: ir.Value) -> bool:
    return isinstance(value.type, ir.RankedTensorType) and ir.RankedTensorType(value.type).has_static_shape


def _reads_rows(affine_map: ir.AffineMap, rows: int) -> bool:
    """Whether `affine_map` indexes its first `rows` results by the first `rows` loops, in order."""
    results = list(affine_map.results)
    return len(results) >= rows and all(isinstance(e, ir.AffineDimExpr) and e.position == i
                                        for i, e in enumerate(results[:rows]))


def generic_rows(op: ir.OpView) -> list[int]:
    """The extents of the longest prefix of `op`'s loops that are rows: parallel,
    indexed first and in order by the outputs; inputs read slices of any loops
    (a layer norm's weights none of the rows, an attention bias some of them)."""
    if holds_assert(op) or not all(_static(v) for v in [*op.operands, *op.results]):
        return []
    kinds, maps, ranges = iterator_types(op), indexing_maps(op), loop_ranges(op)
    inputs = len(maps) - len(op.results)
    rows = 0
    while (rows < len(kinds) and kinds[rows] == PARALLEL
           and all(_reads_rows(m, rows + 1) for m in maps[inputs:])
           and all(is_projected_map(m) for m in maps[:inputs])):
        rows += 1
    return ranges[:rows]


def _reshape_rows(op: ir.OpView) -> list[int]:
    """The extents of the leading dims a reshape keeps (each its own dim on both
    sides, the last one with unit dims beside it at most)."""
    source, result = op.operands[0], op.results[0]
    if not (_static(source) and _static(result)):
        return []
    groups = reassociation_groups(op)
    expanded = ir.RankedTensorType((result if op.name == "tensor.expand_shape" else source).type).shape
    rows = []
    for i, group in enumerate(groups):
        if group[0] != i or any(expanded[d] != 1 for d in group[1:]):
            break
        rows.append(expanded[i])
        if len(group) > 1:
            break
    return rows


def row_extents(op: ir.OpView) -> list[int]:
    """The row dims' extents of a member op, empty for an op that cannot be one."""
    if op.name == "linalg.generic":
        return generic_rows(op)
    if op.name in _RESHAPES:
        return _reshape_rows(op)
    return []


def _common_prefix(a: list[int], b: list[int]) -> list[int]:
    prefix = []
    for x, y in zip(a, b):
        if x != y:
            break
        prefix.append(x)
    return prefix


@dataclass
class RowGroup:
    """Ops of one block over the same leading row dims, connected by the values
    they pass, around at least one row reduction that another of them reads."""

    members: list[ir.OpView] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)


def is_init_value(value: ir.Value) -> bool:
    """A `tensor.empty` or a `linalg.fill` of one: an init made again per tile."""
    owner = value.owner
    if not isinstance(owner, ir.OpView):
        return False
    if owner.name == "linalg.fill":
        owner = owner.operands[1].owner
    return isinstance(owner, ir.OpView) and owner.name == "tensor.empty"


def find_row_groups(block: ir.Block) -> list[RowGroup]:
    """Grow a group from each row reduction over the ops it is connected to
    that share its rows (the common prefix of their row dims), as long as
    every result the group passes out is used after its last member, where the
    loop is built (a layer norm whose output the next layer's matmul reads
    stops before the residual add after that matmul)."""
    position = {op.operation: i for i, op in enumerate(block.operations)}
    grouped: set = set()
    groups = []
    for seed in block.operations:
        if seed.name != "linalg.generic" or not reduces_rows(seed) or seed.operation in grouped:
            continue
        rows = row_extents(seed)
        if not rows:
            continue
        group = RowGroup([seed], rows)
        frontier = [seed]
        while frontier:
            op = frontier.pop()
            neighbours = [v.owner for v in op.operands if isinstance(v.owner, ir.OpView) and not is_init_value(v)]
            neighbours += [use.owner for result in op.results for use in result.uses]
            for other in neighbours:
                if not isinstance(other, ir.OpView) or other in group.members or other.operation in grouped:
                    continue
                common = _common_prefix(group.rows, row_extents(other))
                if other.name in _RESHAPES and len(common) < len(group.rows):
                    continue  # read through, not tiled: it would cut the rows (one head's [1, 1, q, k] split)
                grown = RowGroup(sorted([*group.members, other], key=lambda m: position.get(m.operation, -1)), common)
                if (common and other.operation in position and _outputs_used_after(grown)
                        and reads_members_by_rows(grown)):
                    group = grown
                    frontier.append(other)
        if _rereads_a_reduction(group):
            groups.append(group)
            grouped.update(member.operation for member in group.members)
    return groups


def reads_members_by_rows(group: RowGroup) -> bool:
    """Whether each member reads the other members' results through maps that
    index the rows first: a tile's result holds only its own rows."""
    for member in group.members:
        if member.name != "linalg.generic":
            continue
        for value, affine_map in zip(member.operands, indexing_maps(member)):
            if value.owner in group.members and not _reads_rows(affine_map, len(group.rows)):
                return False
    return True


def _rereads_a_reduction(group: RowGroup) -> bool:
    """Whether a member reads a row reduction's result: rows read more than once."""
    reductions = [m for m in group.members if m.name == "linalg.generic" and reduces_rows(m)]
    return any(use.owner in group.members for r in reductions for result in r.results for use in result.uses)


def _outside_uses(group: RowGroup, value: ir.Value) -> list:
    return [use for use in value.uses if use.owner not in group.members]


def _outputs_used_after(group: RowGroup) -> bool:
    """Whether every use of a member's result outside the group comes after the
    last member, where the loop that replaces them is built."""
    last = group.members[-1]
    return all(use.owner.operation.parent == last.operation.parent
               and last.operation.is_before_in_block(use.owner.operation)
               for m in group.members for result in m.results for use in _outside_uses(group, result))


def _row_bytes(group: RowGroup) -> int:
    """Bytes of one row of every value the members write or read from outside:
    what a tile of rows keeps in cache."""
    values = {v for m in group.members for v in [*m.operands, *m.results] if isinstance(v.type, ir.RankedTensorType)}
    total = 0
    for value in values:
        shaped = ir.RankedTensorType(value.type)
        if list(shaped.shape[:len(group.rows)]) == group.rows:
            total += math.prod(shaped.shape[len(group.rows):]) * element_bytes(shaped.element_type)
    return total


def _tile_rows(group: RowGroup, cache_bytes: int) -> int:
    """Rows of the last row dim a tile takes: as many as fit `cache_bytes`, dividing
    it, and few enough to leave _MIN_TILES tiles for the threads where there are rows."""
    fit = max(1, cache_bytes // max(1, _row_bytes(group)))
    return largest_divisor(group.rows[-1], min(fit, max(1, math.prod(group.rows) // _MIN_TILES)))


def _tiled_type(value: ir.Value, rows: list[int]) -> ir.RankedTensorType:
    shaped = ir.RankedTensorType(value.type)
    return ir.RankedTensorType.get([*rows, *shaped.shape[len(rows):]], shaped.element_type)


def _slice_read(value: ir.Value, affine_map: ir.AffineMap, offsets: list[ir.Value], rows: list[int]) -> ir.Value:
    """What a tile of rows reads of `value` through `affine_map`: each dim a row
    loop indexes cut to the tile, the others whole; `value` itself where the
    map reads no row."""
    shape = ir.RankedTensorType(value.type).shape
    cuts = [(offsets[e.position], rows[e.position]) if isinstance(e, ir.AffineDimExpr) and e.position < len(rows)
            else (0, extent) for e, extent in zip(affine_map.results, shape)]
    if all(size == extent for (_, size), extent in zip(cuts, shape)) and not any(
            isinstance(e, ir.AffineDimExpr) and e.position < len(rows) for e in affine_map.results):
        return value
    return extract_slice(value, [offset for offset, _ in cuts], [size for _, size in cuts])


def _tile_init(value: ir.Value, rows: list[int]) -> ir.Value:
    """A tile's `tensor.empty`, or fill of one, for the init `value`."""
    shape = _tiled_type(value, rows).shape
    if value.owner.name == "tensor.empty":
        return tensor.EmptyOp(shape, ir.RankedTensorType(value.type).element_type).result
    return remade_init(value, shape)


def _tile_generic(op: ir.OpView, operand, offsets: list[ir.Value], rows: list[int]) -> ir.Operation:
    """`op` over the tile's rows: its operands through `operand(value, map)`,
    built at the current insertion point."""
    maps = list(ir.ArrayAttr(op.attributes["indexing_maps"]))
    n_inputs = len(maps) - len(op.results)
    values = [operand(v, ir.AffineMapAttr(m).value) for v, m in zip(op.operands, maps)]
    copy = op.operation.clone()
    generic, block = generic_like(copy, values[:n_inputs], maps[:n_inputs], list(copy.regions[0].blocks[0].arguments),
                                  values[n_inputs:], maps[n_inputs:])
    move_body(copy, block)
    copy.erase()
    offset_indices(generic, [*offsets, *[0] * (len(iterator_types(op)) - len(offsets))])
    result = ir.RankedTensorType(generic.results[0].type)
    if is_elementwise(generic.opview) and math.prod(result.shape) <= VECTOR_TILE_ELEMENTS:
        generic.attributes[WHOLE_TILE] = ir.UnitAttr.get()
    return generic


def _tile_reshape(op: ir.OpView, source: ir.Value, rows: list[int]) -> ir.Value:
    result = _tiled_type(op.results[0], rows)
    if op.name == "tensor.collapse_shape":
        return tensor.CollapseShapeOp(result, source, op.attributes["reassociation"]).result
    return tensor.ExpandShapeOp(result, source, op.attributes["reassociation"], [], result.shape).result


def tile_members(members: list[ir.OpView], offsets: list[ir.Value], tile_rows: list[int],
                 tiled: dict[ir.Value, ir.Value]) -> None:
    """Rebuild each of `members` (generics and reshapes that keep the rows, in
    order) on the tile of rows at `offsets`, at the insertion point: each reads
    the tiles in `tiled` of the values they hold, slices of the others (an init
    made again), and adds the tiles of its results to `tiled`."""
    def operand(value: ir.Value, affine_map: ir.AffineMap | None) -> ir.Value:
        if value in tiled:
            return tiled[value]
        if is_init_value(value):
            return _tile_init(value, tile_rows)
        if affine_map is None:  # a reshape's source: its leading dims are the rows
            affine_map = ir.AffineMap.get_identity(ir.RankedTensorType(value.type).rank)
        return _slice_read(value, affine_map, offsets, tile_rows)

    for member in members:
        if member.name == "linalg.generic":
            results = _tile_generic(member, operand, offsets, tile_rows).results
        else:
            results = [_tile_reshape(member, operand(member.operands[0], None), tile_rows)]
        tiled.update(zip(member.results, results))


def _overwritable(value: ir.Value, reader: ir.OpView, through: ir.AffineMap) -> bool:
    """Whether `value` is the result of an elementwise generic writing a fresh
    init through `through`, and nothing reads it after `reader` (in its block)."""
    producer = value.owner
    return (isinstance(producer, ir.OpView) and producer.name == "linalg.generic" and is_elementwise(producer)
            and indexing_maps(producer)[-1] == through and is_init_value(producer.operands[-1])
            and all(use.owner.operation.parent == reader.operation.parent
                    and (use.owner == reader or use.owner.operation.is_before_in_block(reader.operation))
                    for use in value.uses))


def _compute_last_in_place(result: ir.Value, destination) -> None:
    """Make the elementwise op that computes the tile `result` write over an
    elementwise member's result it reads last, which the `destination()`
    slice now holds: softmax's exp goes into the output tile and is divided
    by the row sums in place (ONNX Runtime's order). Written to a temporary
    and divided into the output, the output's first touch fell in a loop of
    stores with nothing to hide them behind."""
    last = result.owner
    if not (isinstance(last, ir.OpView) and last.name == "linalg.generic" and is_elementwise(last)
            and is_init_value(last.operands[-1])):
        return
    maps = indexing_maps(last)
    inputs = len(maps) - 1
    args = list(last.regions[0].blocks[0].arguments)
    if any(True for _ in args[inputs].uses):
        return
    over = next((i for i, value in enumerate(last.operands[:inputs])
                 if value.type == result.type and maps[i] == maps[inputs] and list(last.operands).count(value) == 1
                 and _overwritable(value, last, maps[inputs])), None)
    if over is None:
        return
    tile = last.operands[over]
    with ir.InsertionPoint(tile.owner), tile.owner.location:
        tile.owner.operands[len(tile.owner.operands) - 1] = destination()
    kept = [j for j in range(inputs) if j != over]
    map_attrs = list(ir.ArrayAttr(last.attributes["indexing_maps"]))
    generic, block = generic_like(last.operation, [last.operands[j] for j in kept], [map_attrs[j] for j in kept],
                                  [args[j] for j in kept] + [args[over]], [tile], [map_attrs[inputs]])
    move_body(last.operation, block)
    result.replace_all_uses_with(generic.results[0])
    last.operation.erase()


def fuse_rows(group: RowGroup, tile: int, serial: bool) -> None:
    """Replace the group's members by an `scf.forall` over tiles of its rows
    (`tile` of the last row dim, one of the others) that computes each member
    on the tile in turn; results used outside the group are the loop's."""
    last = group.members[-1]
    outputs = [r for m in group.members for r in m.results if _outside_uses(group, r)]
    generics = sum(m.name == "linalg.generic" for m in group.members)
    tile_rows = [1] * (len(group.rows) - 1) + [tile]
    record_strategy(last, f"rows fused: {generics} ops over {'x'.join(map(str, group.rows))} rows, {tile} a tile")
    with ir.InsertionPoint(last), last.location:
        dests = [tensor.EmptyOp(ir.RankedTensorType(v.type).shape, ir.RankedTensorType(v.type).element_type).result
                 for v in outputs]
        loop = scf.ForallOp([0] * len(tile_rows), group.rows, tile_rows, dests)
        if serial:
            loop.operation.attributes[SERIAL] = ir.UnitAttr.get()
        with ir.InsertionPoint(loop.body):
            offsets = list(loop.induction_variables)
            tiled = {}
            tile_members(group.members, offsets, tile_rows, tiled)
            places = [([*offsets, *[0] * (len(tiled[v].type.shape) - len(tile_rows))], tiled[v].type.shape)
                      for v in outputs]
            with ir.InsertionPoint(loop.terminator().block):
                for value, dest, (at, sizes) in zip(outputs, loop.inner_iter_args, places):
                    parallel_insert(tiled[value], dest, at, sizes)
            for value, dest, (at, sizes) in zip(outputs, loop.inner_iter_args, places):
                _compute_last_in_place(tiled[value], lambda dest=dest, at=at, sizes=sizes:
                                       extract_slice(dest, at, sizes))
    for value, result in zip(outputs, loop.results):
        for use in _outside_uses(group, value):
            use.owner.operands[use.operand_number] = result
    for member in reversed(group.members):
        member.operation.erase()


@dataclass(frozen=True)
class FuseRows(TargetedPass):
    """Compute each row reduction, the ops that read its result and the ops
    between them a tile of rows at a time: softmax's max, exp and sum and
    division, a layer or group norm's moments and normalization.

    wafer-fuse tiles each reduction and each elementwise op on its own, so a
    softmax over long rows passed over its whole input four times, through
    the last-level cache (bench/norms.py times softmax and norms against
    ONNX Runtime). A reduction's result keeps its reduced dims as unit
    dims (constant indices), which upstream's tile-and-fuse cannot fuse into
    a consumer's loop; here every member is rebuilt on a slice of its rows
    inside one `scf.forall` over row tiles, so each tile's rows are read from
    L1 by every member after the first. Elementwise members of a vector tile
    or less are marked `WHOLE_TILE`: wafer-fuse leaves them untiled and
    wafer-vectorize takes them whole (a row at a time where rows are ragged);
    it reduces the reductions a row at a time.

    A group is the ops of one block connected by the values they pass whose
    outputs index the same leading dims (the rows) first, reading their inputs
    through any projected map (a layer norm's weights read no row, an
    attention bias some of them) and each other's results row by row, with
    reshapes that keep those dims, in which a member reads a row reduction's
    result, and whose results used outside all come after its last member.

    The group's last elementwise op writes over the elementwise member result
    it reads last, which goes into the loop's output tile (softmax's division
    over its exponentials, in place).

    Groups in the body of a loop over attention heads (see
    wafer-attention-head-groups) loop serially in each of its iterations.

    Options:
      machine: the CPU (see cpu_target) whose L1 sizes the tile of rows.
      parallel-elements: groups whose rows hold fewer elements loop serially.
    """

    name = "wafer-fuse-rows"
    summary = "Compute row reductions and the ops around them a tile of rows at a time"

    parallel_elements: int = PARALLEL_ELEMENTS

    def apply(self, module: ir.Operation) -> None:
        for func in find_ops(module, lambda op: op.name == "func.func"):
            if not func.regions[0].blocks:
                continue
            for group in find_row_groups(func.regions[0].blocks[0]):
                elements = math.prod(group.rows) * _row_bytes(group) // 4
                fuse_rows(group, _tile_rows(group, self.cpu.l1d_bytes // 2), elements < self.parallel_elements)
        # In a loop over groups of attention heads, the softmax's rows loop serially.
        for loop in find_ops(module, lambda op: op.name == "scf.forall" and HEAD_GROUPS in op.attributes):
            for group in find_row_groups(loop.regions[0].blocks[0]):
                fuse_rows(group, _tile_rows(group, self.cpu.l1d_bytes // 2), serial=True)
