"""Table lookups (embeddings) on the wafer: the table split over a region's PEs,
each looked-up row sent along its PE column to the PE that collects the result.

The tensor-level form is a "lookup" generic, the shape wse-split-gathers gives
every embedding: `out[r..., j] = table[rows[r...], j]`, reading a rank-2 table
from above, the row of each result row from an input, and the column from the
iota of the innermost loop. On a region of H x W PEs the table's rows are
split in blocks over the PE rows and its columns over the PE columns, as is
the result's last dim; every PE holds all of `rows`. A `wse.lookup` sends each
row's share down (or up) its column to the root PE row, which then holds the
result; PE row i owns table rows [i * b, (i + 1) * b).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import element_bytes
from ..passes.linalg_queries import PARALLEL, indexing_maps, iterator_types, map_dims
from .cost import compute_cycles
from .layout import Layout, local_extent
from .machine import Machine

TABLE_LAYOUT = Layout(row_dim=0, col_dim=1)
ROWS_LAYOUT = Layout()  # every PE holds every row number


def result_layout(rank: int) -> Layout:
    """The result's last dim over the PE columns, as the table's columns are."""
    return Layout(col_dim=rank - 1)


@dataclass(frozen=True)
class Lookup:
    """A lookup generic's table and the input holding each result row's table row."""

    table: ir.Value
    rows: ir.Value

    @property
    def rank(self) -> int:
        return len(ir.RankedTensorType(self.rows.type).shape) + 1


def cast_source(value: ir.Value) -> ir.Value:
    """What `value` casts with an `arith.index_cast`, or `value` itself."""
    owner = value.owner
    if isinstance(owner, ir.OpView) and owner.name == "arith.index_cast":
        return owner.operands[0]
    return value


def lookup_of(op: ir.Operation) -> Lookup | None:
    """`op` as a lookup generic, or None (see the module docstring)."""
    if op.name != "linalg.generic" or len(op.results) != 1 or len(op.operands) != 3:
        return None
    block = op.regions[0].blocks[0]
    body = [inner.operation for inner in block.operations]
    extract = next((inner for inner in body if inner.name == "tensor.extract"), None)
    if extract is None or body[-1].operands[0] != extract.results[0]:
        return None
    if any(inner.name not in ("arith.index_cast", "tensor.extract", "linalg.yield") for inner in body):
        return None
    table = extract.operands[0]
    if len(ir.RankedTensorType(table.type).shape) != 2:
        return None
    loops = len(iterator_types(op))
    if any(kind != PARALLEL for kind in iterator_types(op)):
        return None
    rows_map, cols_map, out_map = (map_dims(m) for m in indexing_maps(op))
    if out_map != list(range(loops)) or rows_map != list(range(loops - 1)) or cols_map != [loops - 1]:
        return None
    row, col = (cast_source(v) for v in list(extract.operands)[1:])
    if row != block.arguments[0] or col != block.arguments[1]:
        return None
    return Lookup(table, op.operands[0])


def table_block(table: ir.Value, height: int, width: int) -> list[int]:
    """One PE's block of the table on `height` x `width` PEs."""
    return TABLE_LAYOUT.share_of(table, height, width)


def lookup_bytes_per_pe(lookup: Lookup, result: ir.Value, height: int, width: int) -> int:
    """SRAM one PE takes for the table's block, every row number and its share of the result."""
    table = ir.RankedTensorType(lookup.table.type)
    rows = ir.RankedTensorType(lookup.rows.type)
    out = ir.RankedTensorType(result.type)
    count = math.prod(rows.shape)
    columns = local_extent(out.shape[-1], width, 0)
    return (math.prod(table_block(lookup.table, height, width)) * element_bytes(table.element_type)
            + count * element_bytes(rows.element_type) + count * columns * element_bytes(out.element_type))


def lookup_compute_cycles(machine: Machine, count: int, columns: int, dtype) -> float:
    """The busiest PE's work: at worst it holds the row of every one of the
    `count` lookups, and sends each (`columns` elements) with one move
    instruction (`@fmovs`, `@fmovh`), whose source row it reads from the row
    number (a scalar)."""
    return float(compute_cycles(machine, count * columns, max(columns, 1), dtype, scalar_operand=True,
                                datapath_cycles=1.0 / machine.simd_width("add", dtype)))
