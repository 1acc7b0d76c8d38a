"""Gathers on the wafer: embedding lookups as lookup regions (the table split
over the PEs, each row sent down its column), gathers at constant indices
(upsampling) as data movement between regions. Each matches PyTorch, and a
lookup region's cycles are worked out on paper."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_mlir import ir

import wafer
from wafer.context import make_context
from wafer.wse_target.simulator import execute
from wse_checks import Lambda, compile_and_check, dense_literal, one_region_report, regions

MODES = ("pipelined", "whole-wafer")

# A 9x4 table (a weight, preloaded) on a region of 3 PE rows x 2 columns: PE row i
# holds table rows 3i..3i+2, PE column j table columns 2j, 2j+1. Every PE gets the 5
# row numbers (i64, from the caller); PE row 0 collects the 5 looked-up rows.
TABLE = np.arange(36, dtype=np.float32).reshape(9, 4) - 11
LOOKUP = """
module attributes {{wse.machine = {{name = "small", width = 32 : i64, height = 32 : i64,
                                   colors = 21 : i64, sram_bytes = 49152 : i64}}}} {{
func.func @f(%ids: tensor<5xi64>) -> tensor<5x4xf32> {{
  %w = arith.constant dense<{table}> : tensor<9x4xf32>
  %y = "wse.region"() ({{
    %t = "wse.buffer"() {{name = "t", offset = 0 : i64}} : () -> memref<3x2xf32>
    "wse.scatter"(%w, %t) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64,
        skew = 0 : i64, color = 1 : i64}} : (tensor<9x4xf32>, memref<3x2xf32>) -> ()
    %r = "wse.buffer"() {{name = "r", offset = 24 : i64}} : () -> memref<5xi64>
    "wse.scatter"(%ids, %r) {{row_dim = -1 : i64, col_dim = -1 : i64, row_panel = 0 : i64, col_panel = 0 : i64,
        skew = 0 : i64, color = 2 : i64}} : (tensor<5xi64>, memref<5xi64>) -> ()
    %o = "wse.buffer"() {{name = "o", offset = 64 : i64}} : () -> memref<5x2xf32>
    "wse.lookup"(%t, %r, %o) {{axis = "col", root = 0 : i64, color = 0 : i64}}
        : (memref<3x2xf32>, memref<5xi64>, memref<5x2xf32>) -> ()
    %g = "wse.gather"(%o) {{row_dim = -1 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64,
        skew = 0 : i64, color = 3 : i64}} : (memref<5x2xf32>) -> tensor<5x4xf32>
    "wse.yield"(%g) : (tensor<5x4xf32>) -> ()
  }}) {{sym_name = "lookup", kind = "lookup", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 3 : i64,
       slot = 0 : i64, flops = 0 : i64}} : () -> tensor<5x4xf32>
  return %y : tensor<5x4xf32>
}}
}}
"""


def lookup_module() -> tuple[ir.Context, ir.Module]:
    ctx = make_context()
    return ctx, ir.Module.parse(LOOKUP.format(table=dense_literal(TABLE)), ctx)


def test_a_lookup_collects_each_named_row_on_the_root_row():
    ctx, module = lookup_module()
    ids = np.array([7, 0, 4, 8, 4])
    with ctx:
        (y,) = execute(module, "f", [ids])
    np.testing.assert_array_equal(y, TABLE[ids])


def test_a_row_past_the_table_is_an_error_not_a_read_of_padding():
    ctx, module = lookup_module()
    with ctx, pytest.raises(ValueError, match="lookup of row 9 in a table of 9 rows"):
        execute(module, "f", [np.array([1, 9, 0, 0, 0])])


# Hand-derived (f32; small's costs unless the variant changes one):
# - the lookup's busiest PE: 120 set-up + 5 row moves x (23 loop + 20 row-number
#   read + 1 issue + 2 elements, moved 2 a cycle: @fmovs's SIMD width) = 345;
# - its chain up each column of 3 PEs into row 0: 5 x 2 = 10 wavelets on the
#   links, 2 hops, 2 dependent steps of 2 x 2 + 1: max(ramp 10, 10 + 2) + 10 = 22;
# - the row numbers from the caller, every PE all 5 i64 = 10 wavelets: fanned
#   out, each link carries them once, across 2 columns and down 3 rows: 10 + 5 = 15;
#   the table's preload: 6 x 2 + 2 = 14; the result back to the edge, from
#   both PEs of each row: 10 x 2 + 2 = 22.
VARIANTS = {
    "small": ({}, 345, 22 + 15 + 14 + 22),
    # Lookup max(10 / 2, 10 / 2 + 2) + 10 = 17; streams 10 / 2 + 5, 12 / 2 + 2, 20 / 2 + 2.
    "2 wavelets a link-cycle": (dict(link_wavelets_per_cycle=2), 345, 17 + 10 + 8 + 12),
    # Lookup 10 + 2 x 3 + 10 = 26; streams 10 + 15, 12 + 6, 20 + 6.
    "3-cycle hops": (dict(hop_cycles=3), 345, 26 + 25 + 18 + 26),
    # Two 4 B reads through one port: rows of 2 take 4 cycles (the port binds).
    "one read port": (dict(sram_port_bytes=4, sram_reads_per_cycle=1), 120 + 5 * 48, 73),
    # A slower ramp: each of the 2 steps pays 2 x 5 + 1.
    "5-cycle ramps": (dict(ramp_latency_cycles=5), 345, 12 + 2 * 11 + 15 + 14 + 22),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_lookup_region_costs_exactly(variant):
    change, compute, comm = VARIANTS[variant]
    report, row = one_region_report(*lookup_module(), **change)
    assert (row.kind, row.compute_cycles, row.comm_cycles) == ("lookup", compute, comm)
    assert report.sram_high_water_max == 64 + 5 * 2 * 4


# After a run of rows 7, 0, 4, 8, 4, PE row 0 holds one of them, rows 1 and 2 two each:
# - the busiest PE moves 2 rows: 120 + 2 x 45 = 210;
# - each column's chain into row 0: row 2 sends its 2 shares of 2 wavelets to row 1,
#   which sends those and its own, 8, to row 0: max(ramp 8, 8 + 2 hops) + 2 x 5 = 20;
#   the streams as above, 15 + 14 + 22.
# All five rows in PE row 1 (3, 4, 5, 5, 3): 345 to compute, and a chain of one hop,
# max(10, 10 + 1) + 5 = 16.
RUNS = {"spread": ([7, 0, 4, 8, 4], 210, 20 + 51), "one PE row": ([3, 4, 5, 5, 3], 345, 16 + 51)}


@pytest.mark.parametrize("run", RUNS)
def test_a_run_costs_the_rows_it_looked_up(run):
    """`estimate()` costs a lookup at its worst case; after a run, the report
    costs the rows that run named: how many the busiest PE holds, and how far
    the shares travel."""
    ids, compute, comm = RUNS[run]
    ctx, module = lookup_module()
    looked_up = {}
    with ctx:
        execute(module, "f", [np.array(ids)], looked_up)
    _, row = one_region_report(ctx, module, looked_up)
    assert (row.compute_cycles, row.comm_cycles) == (compute, comm)
    _, worst = one_region_report(ctx, module)
    assert (worst.compute_cycles, worst.comm_cycles) == VARIANTS["small"][1:]


def test_an_embeddings_report_after_a_run_is_of_that_run():
    """Pipelined, the report after a call costs its ids, spread over the PE rows
    that hold the table's 16384 rows (too many for one PE row's SRAM);
    `estimate()` stays the worst case."""
    torch.manual_seed(0)
    embedding, linear = torch.nn.Embedding(16384, 2), torch.nn.Linear(2, 8)
    program = compile_and_check(lambda i: linear(embedding(i)), torch.arange(8)[None] * 2048)
    after_run = next(op for op in program.report.ops if op.kind == "lookup")
    worst = next(op for op in program.executable.estimate().ops if op.kind == "lookup")
    assert after_run.region[3] > 1
    assert after_run.compute_cycles < worst.compute_cycles and after_run.comm_cycles < worst.comm_cycles


def test_an_embedding_runs_on_the_wafer_where_its_table_stays():
    """Pipelined, the table is loaded once and stays: the lookup runs on the PEs."""
    torch.manual_seed(0)
    embedding, linear = torch.nn.Embedding(50, 16), torch.nn.Linear(16, 8)
    ids = torch.tensor([[3, 49, 0, 7, 7]])
    program = compile_and_check(lambda i: linear(embedding(i)), ids)
    kinds = [op.kind for op in program.report.ops]
    assert "host" not in kinds and kinds.count("lookup") == 1


def test_one_layer_at_a_time_a_large_table_is_looked_up_on_the_host():
    """Whole-wafer, a weight table streams in every inference: 50 x 16 values
    to look up 5 rows of 16. The host sends the 5 rows instead, through the
    same I/O. A table of fewer rows than the lookups stays on the wafer."""
    torch.manual_seed(0)
    embedding, linear = torch.nn.Embedding(50, 16), torch.nn.Linear(16, 8)
    program = compile_and_check(lambda i: linear(embedding(i)), torch.tensor([[3, 49, 0, 7, 7]]), mode="whole-wafer")
    kinds = [op.kind for op in program.report.ops]
    assert kinds.count("host") == 1 and "lookup" not in kinds
    small = torch.nn.Embedding(4, 16)
    program = compile_and_check(lambda i: small(i) * 2, torch.tensor([3, 1, 0, 2, 2, 1, 0, 3]), mode="whole-wafer")
    kinds = [op.kind for op in program.report.ops]
    assert "host" not in kinds and kinds.count("lookup") == 1


def test_token_and_position_embeddings_summed_run_on_the_wafer():
    """Fusion copies both lookups into the add; each comes back out, the token
    embedding as a lookup region, the positions' (constant rows) as data
    movement, and the add runs on the PEs."""
    torch.manual_seed(0)
    tokens, positions = torch.nn.Embedding(40, 24), torch.nn.Embedding(8, 24)

    def model(ids):
        return tokens(ids) + positions(torch.arange(ids.shape[1]))

    for mode in MODES:
        program = compile_and_check(model, torch.tensor([[5, 39, 0, 2, 2, 17, 3, 8]] * 2), mode=mode)
        kinds = [op.kind for op in program.report.ops]
        assert kinds.count("host") == (mode == "whole-wafer") and kinds.count("lookup") == (mode == "pipelined")


@pytest.mark.parametrize("mode", MODES)
def test_a_table_computed_on_the_wafer_is_looked_up_where_it_lies(mode):
    weight = torch.randn(30, 12)
    program = compile_and_check(lambda ids, w: F.embedding(ids, torch.relu(w) * 2), torch.tensor([4, 29, 4, 0]),
                                weight, mode=mode)
    assert len(regions(program, "lookup")) == 1 and "host" not in [op.kind for op in program.report.ops]


def test_an_index_out_of_range_is_still_a_run_time_error():
    embedding = torch.nn.Embedding(10, 4)
    model = Lambda(lambda i: embedding(i) * 2)
    program = wafer.compile(model, (torch.tensor([1, 2, 3]),), target="wse", machine="small")
    assert len(regions(program, "lookup")) == 1
    with pytest.raises(wafer.WaferError, match=r"assertion failed: index must be smaller than dim size"):
        program(torch.tensor([1, 12, 3]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_upsampling_moves_data_between_regions(interpolation, mode):
    """Its source pixels are constants: the gathers are data movement (as
    windows and transposes are), bilinear's weighting runs on the PEs."""
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    program = compile_and_check(lambda x: F.interpolate(conv(x), scale_factor=2, mode=interpolation),
                                torch.randn(1, 3, 5, 5), mode=mode)
    assert "host" not in [op.kind for op in program.report.ops]


def test_a_gather_at_indices_the_caller_gives_along_the_last_dim_stays_on_the_host():
    """No table row per result row: a lookup does not apply. The same gather at
    constant indices moves data between regions."""
    index = torch.tensor([[[1], [0]], [[2], [2]]])
    x = torch.randn(2, 2, 3)
    program = compile_and_check(lambda t, i: torch.gather(t, 2, i) * 3, x, index)
    assert [op.kind for op in program.report.ops].count("host") == 1
    program = compile_and_check(lambda t: torch.gather(t, 2, index) * 3, x)
    assert "host" not in [op.kind for op in program.report.ops]
