"""The simulator runs hand-written `wse` programs: each transfer's semantics on a 2x3 grid."""

import numpy as np
import pytest
import torch
from torch_mlir import ir
from wse_checks import dense_literal, one_region_report

import wafer
from wafer.context import make_context
from wafer.wse_target.layout import Layout, Window
from wafer.wse_target.machine import SMALL
from wafer.wse_target.simulator import estimate, execute, scatter

# x (4x6) in 2x2 blocks over a 2x3 region: PE (row i, column j) holds x[2i:2i+2, 2j:2j+2].
PROGRAM = """
module attributes {{wse.machine = {{name = "small", width = 32 : i64, height = 32 : i64,
                                   colors = 21 : i64, sram_bytes = 49152 : i64}}}} {{
func.func @f(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {{
  %y = "wse.region"() ({{
    %a = "wse.buffer"() {{name = "a", offset = 0 : i64}} : () -> memref<2x2xf32>
    %b = "wse.buffer"() {{name = "b", offset = 16 : i64}} : () -> memref<2x2xf32>
    "wse.scatter"(%x, %a) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64,
        col_panel = 0 : i64, skew = 0 : i64, color = 0 : i64}} : (tensor<4x6xf32>, memref<2x2xf32>) -> ()
    {transfer}
    %t = "wse.gather"(%b) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64,
        col_panel = 0 : i64, skew = 0 : i64, color = 0 : i64}} : (memref<2x2xf32>) -> tensor<4x6xf32>
    "wse.yield"(%t) : (tensor<4x6xf32>) -> ()
  }}) {{sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 3 : i64, height = 2 : i64,
       slot = 0 : i64, flops = 0 : i64}} : () -> tensor<4x6xf32>
  return %y : tensor<4x6xf32>
}}
}}
"""


def run(transfer: str) -> tuple[np.ndarray, np.ndarray]:
    ctx = make_context()
    module = ir.Module.parse(PROGRAM.format(transfer=transfer), ctx)
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    with ctx:
        (y,) = execute(module, "f", [x])
    return x, y


def blocks(x: np.ndarray) -> np.ndarray:
    """x as (row of PEs, column of PEs, 2, 2)."""
    return x.reshape(2, 2, 3, 2).transpose(0, 2, 1, 3)


def unblocks(grid: np.ndarray) -> np.ndarray:
    return grid.transpose(0, 2, 1, 3).reshape(4, 6)


def test_cyclic_shift_east_rotates_the_blocks_of_each_row():
    x, y = run('"wse.shift"(%a, %b) {dx = 1 : i64, dy = 0 : i64, wrap = 1 : i64, color = 1 : i64}'
               " : (memref<2x2xf32>, memref<2x2xf32>) -> ()")
    np.testing.assert_array_equal(y, np.roll(x, 2, axis=1))


def test_shift_south_without_wrap_leaves_the_first_row_as_it_was():
    x, y = run('"wse.shift"(%a, %b) {dx = 0 : i64, dy = 1 : i64, wrap = 0 : i64, color = 1 : i64}'
               " : (memref<2x2xf32>, memref<2x2xf32>) -> ()")
    np.testing.assert_array_equal(y[2:], x[:2])
    np.testing.assert_array_equal(y[:2], 0)  # %b was never written there


@pytest.mark.parametrize("kind,combine", [("add", np.sum), ("max", np.max), ("min", np.min)])
def test_row_reduce_lands_on_the_root_only(kind, combine):
    x, y = run(f'"wse.reduce"(%a, %b) {{axis = "row", root = 1 : i64, kind = "{kind}", color = 1 : i64}}'
               " : (memref<2x2xf32>, memref<2x2xf32>) -> ()")
    expected = np.zeros((2, 3, 2, 2), np.float32)
    expected[:, 1] = combine(blocks(x), axis=1)
    np.testing.assert_array_equal(y, unblocks(expected))


def test_column_multicast_copies_the_root_row_down_each_column():
    x, y = run('"wse.multicast"(%a, %b) {axis = "col", root = 1 : i64, panel_dim = 0 : i64, panel = 0 : i64,'
               " color = 1 : i64} : (memref<2x2xf32>, memref<2x2xf32>) -> ()")
    grid = blocks(x)
    np.testing.assert_array_equal(y, unblocks(np.broadcast_to(grid[1:2], grid.shape)))


def test_stepped_multicast_sends_the_owner_of_each_panel():
    # Panels of 1 along each PE's second column dealt over 3 PEs: step 4 is
    # owned by column 4 mod 3 = 1, at local offset (4 div 3) * 1 = 1.
    transfer = ('%p = "wse.buffer"() {name = "p", offset = 32 : i64} : () -> memref<2x1xf32>\n'
                '    "wse.steps"() ({\n    ^bb0(%k: index):\n'
                '      "wse.multicast"(%a, %p, %k) {axis = "row", root = 0 : i64, panel_dim = 1 : i64,'
                ' panel = 1 : i64, color = 1 : i64} : (memref<2x2xf32>, memref<2x1xf32>, index) -> ()\n'
                '    }) {count = 5 : i64, buffers = 1 : i64} : () -> ()\n'
                '    "wse.compute"() ({\n'
                '      linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>],'
                ' iterator_types = ["parallel", "parallel"]} ins(%p : memref<2x1xf32>) outs(%b : memref<2x2xf32>) {\n'
                '      ^bb0(%in: f32, %out: f32):\n        linalg.yield %in : f32\n      }\n'
                '    }) : () -> ()')
    x, y = run(transfer)
    # The last step (4) left column 1's second local column (x[:, 3]) on every PE, both columns.
    np.testing.assert_array_equal(y, np.repeat(x[:, 3:4], 6, axis=1))


def test_a_wider_multicast_costs_more_and_loads_the_links_it_crosses():
    def report(width: int):
        text = PROGRAM.format(transfer='"wse.multicast"(%a, %b) {axis = "row", root = 0 : i64, panel_dim = 0 : i64,'
                              ' panel = 0 : i64, color = 1 : i64} : (memref<2x2xf32>, memref<2x2xf32>) -> ()')
        text = text.replace("width = 3 : i64, height = 2", f"width = {width} : i64, height = 2")
        ctx = make_context()
        module = ir.Module.parse(text.replace("tensor<4x6xf32>", f"tensor<4x{2 * width}xf32>"), ctx)
        with ctx:
            return estimate(module, SMALL, "f")

    narrow, wide = report(3), report(6)
    assert wide.ops[0].comm_cycles > narrow.ops[0].comm_cycles
    assert wide.link_load[0, :5].min() > 0 and narrow.link_load[0, 3:6].max() == 0


# A 2x2 SUMMA over 3 steps, C (4x4) = A (4x6) @ W (6x4): A comes in from the west edge,
# the weight W is a constant (preloaded), and k is dealt in panels of 2 over the PEs.
# Per PE: C 2x2, A 2x4, its panel 2x2, W 4x2, its panel 2x2 (all f32).
WEIGHT = np.arange(24, dtype=np.float32).reshape(6, 4) - 7
SUMMA = """
#a = affine_map<(d0, d1) -> (d0, d1)>
#pa = affine_map<(d0, d1, d2) -> (d0, d2)>
#pb = affine_map<(d0, d1, d2) -> (d2, d1)>
#pc = affine_map<(d0, d1, d2) -> (d0, d1)>
module attributes {{wse.machine = {{name = "small", width = 32 : i64, height = 32 : i64,
                                   colors = 21 : i64, sram_bytes = 49152 : i64}}}} {{
func.func @f(%x: tensor<4x6xf32>) -> tensor<4x4xf32> {{
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<{weight}> : tensor<6x4xf32>
  %y = "wse.region"() ({{
    %c = "wse.buffer"() {{name = "c", offset = 0 : i64}} : () -> memref<2x2xf32>
    "wse.compute"() ({{
      linalg.generic {{indexing_maps = [#a], iterator_types = ["parallel", "parallel"]}}
          outs(%c : memref<2x2xf32>) {{
      ^bb0(%out: f32):
        linalg.yield %zero : f32
      }}
    }}) : () -> ()
    %a = "wse.buffer"() {{name = "a", offset = 16 : i64}} : () -> memref<2x4xf32>
    "wse.scatter"(%x, %a) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 2 : i64, skew = 0 : i64,
        color = 2 : i64}} : (tensor<4x6xf32>, memref<2x4xf32>) -> ()
    %ap = "wse.buffer"() {{name = "ap", offset = 48 : i64}} : () -> memref<2x2xf32>
    %b = "wse.buffer"() {{name = "b", offset = 64 : i64}} : () -> memref<4x2xf32>
    "wse.scatter"(%w, %b) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 2 : i64, col_panel = 0 : i64, skew = 0 : i64,
        color = 3 : i64}} : (tensor<6x4xf32>, memref<4x2xf32>) -> ()
    %bp = "wse.buffer"() {{name = "bp", offset = 96 : i64}} : () -> memref<2x2xf32>
{next_panels}    "wse.steps"() ({{
    ^bb0(%k: index):
      "wse.multicast"(%a, %ap, %k) {{axis = "row", root = 0 : i64, panel = 2 : i64, panel_dim = 1 : i64,
          color = 0 : i64}} : (memref<2x4xf32>, memref<2x2xf32>, index) -> ()
      "wse.multicast"(%b, %bp, %k) {{axis = "col", root = 0 : i64, panel = 2 : i64, panel_dim = 0 : i64,
          color = 1 : i64}} : (memref<4x2xf32>, memref<2x2xf32>, index) -> ()
      "wse.compute"() ({{
        linalg.generic {{indexing_maps = [#pa, #pb, #pc], iterator_types = ["parallel", "parallel", "reduction"]}}
            ins(%ap, %bp : memref<2x2xf32>, memref<2x2xf32>) outs(%c : memref<2x2xf32>) {{
        ^bb0(%in: f32, %in_0: f32, %out: f32):
          %p = arith.mulf %in, %in_0 : f32
          %s = arith.addf %out, %p : f32
          linalg.yield %s : f32
        }}
      }}) : () -> ()
    }}) {{count = 3 : i64, buffers = {buffers} : i64}} : () -> ()
    %t = "wse.gather"(%c) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64,
        color = 4 : i64}} : (memref<2x2xf32>) -> tensor<4x4xf32>
    "wse.yield"(%t) : (tensor<4x4xf32>) -> ()
  }}) {{sym_name = "summa", kind = "summa", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64,
       slot = 0 : i64, flops = 192 : i64}} : () -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}}
}}
"""


# Double-buffered, the next step's panels land in a second pair of buffers.
NEXT_PANELS = """    %apn = "wse.buffer"() {name = "apn", offset = 112 : i64} : () -> memref<2x2xf32>
    %bpn = "wse.buffer"() {name = "bpn", offset = 128 : i64} : () -> memref<2x2xf32>
"""


def summa_module(buffers: int = 1) -> tuple[ir.Context, ir.Module]:
    ctx = make_context()
    text = SUMMA.format(weight=dense_literal(WEIGHT), buffers=buffers,
                        next_panels=NEXT_PANELS if buffers == 2 else "")
    return ctx, ir.Module.parse(text, ctx)


@pytest.mark.parametrize("buffers", [1, 2])
def test_summa_2x2_in_3_steps_computes_the_product(buffers):
    ctx, module = summa_module(buffers)
    x = np.arange(24, dtype=np.float32).reshape(4, 6) / 8
    with ctx:
        (y,) = execute(module, "f", [x])
    np.testing.assert_allclose(y, x @ WEIGHT, rtol=1e-6)


# Hand-derived, per machine variant (f32, every term a whole number of cycles):
# - fill of C: 120 set-up + 2 rows x (23 loop + 1 issue + 2 elements, moved 2 a
#   cycle: @fmovs's SIMD width)                                                   = 170
# - each step's product: 120 + 4 AXPYs (2 rows of C x 2 of k) x (23 + 20 scalar
#   + 1 + 2 elements)                                                               = 304
# - each step's two multicasts: 4 wavelets one hop: max(ramp 4, 4 + 1 hop)         = 5 each
# - the stream of A from the west edge: 8 wavelets per PE x 2 PEs a row, across 2
#   columns: 16 + 2; the preload of W the same 16 + 2; the gather of C back to the
#   edge: 4 x 2 + 2 = 10.
# Whole region: 170 + 3 x (304 + 5 + 5) + 18 + 18 + 10 = 1158.
SLOW_READ = dict(sram_port_bytes=4, sram_reads_per_cycle=1)  # 2 reads of 4 B: 2 cycles each element
SLOW_WRITE = dict(sram_port_bytes=2, sram_reads_per_cycle=4)  # reads 1 cycle, the write 2
VARIANTS = {
    "small": ({}, 170 + 3 * 304, 3 * 10 + 18 + 18 + 10),
    # Streams 16 / 2 + 2 = 10, multicasts max(4 / 2, 4 / 2 + 1) = 3, gather 8 / 2 + 2 = 6.
    "2 wavelets a link-cycle": (dict(link_wavelets_per_cycle=2), 170 + 3 * 304, 3 * 6 + 10 + 10 + 6),
    # Streams 16 + 2 x 3 = 22, multicasts 4 + 3 = 7, gather 8 + 6 = 14.
    "3-cycle hops": (dict(hop_cycles=3), 170 + 3 * 304, 3 * 14 + 22 + 22 + 14),
    # Rows of 2 elements take 4 cycles (the ports bind, not the move's width): fill
    # 120 + 2 x 28, product 120 + 4 x 48.
    "one read port": (SLOW_READ, 176 + 3 * 312, 3 * 10 + 18 + 18 + 10),
    "write-bound": (SLOW_WRITE, 176 + 3 * 312, 3 * 10 + 18 + 18 + 10),
    # The host's I/O at 4 B a cycle binds where the data crosses it: A (24 elements
    # of the input) 24, W (24, a weight) 24, C (16, the result) 16.
    "slow host I/O": (dict(host_io_bytes_per_second=4 * SMALL.clock_hz), 170 + 3 * 304, 3 * 10 + 24 + 24 + 16),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_summa_2x2_in_3_steps_costs_exactly(variant):
    change, compute, comm = VARIANTS[variant]
    report, row = one_region_report(*summa_module(), **change)
    assert (row.compute_cycles, row.comm_cycles) == (compute, comm)
    assert report.cycles == compute + comm
    assert report.sram_high_water_max == 4 * (4 + 8 + 4 + 8 + 4)


def test_double_buffered_summa_hides_all_but_the_first_steps_multicasts():
    """The same region with a second pair of panels: each step's two multicasts
    (5 + 5) run under the previous step's product (304), so only the first
    step's are exposed: comm 10 + 18 + 18 + 10 where it was 3 x 10 + 46. The
    second pair of 2x2 panels costs 32 B of SRAM."""
    ctx, module = summa_module(buffers=2)
    with ctx:
        report = estimate(module, SMALL, "f")
    (row,) = report.ops
    assert (row.compute_cycles, row.comm_cycles) == (170 + 3 * 304, 10 + 18 + 18 + 10)
    assert report.sram_high_water_max == 4 * (4 + 8 + 4 + 8 + 4) + 2 * 4 * 4


def test_a_windowed_scatter_gives_each_pe_its_blocks_windows_with_their_halo():
    """11 source rows read by 3-row windows at stride 2 are 5 output rows; over
    3 PE rows a block is 2 output rows, whose windows span 5 source rows: PE row
    i holds rows 4i to 4i + 4, the last row of one block the first of the next,
    and the last PE, whose second output row is padding, zeros past row 10."""
    x = np.arange(11 * 4, dtype=np.float32).reshape(11, 4)
    layout = Layout(row_dim=0, col_dim=1, row_window=Window(stride=2, span=3))
    assert layout.local_shape([11, 4], 3, 2) == [5, 2]
    grid = scatter(x, layout, 3, 2)
    for i in range(3):
        rows = np.zeros((5, 4), np.float32)
        held = x[4 * i:4 * i + 5]
        rows[:len(held)] = held
        for j in range(2):
            np.testing.assert_array_equal(grid[i, j], rows[:, 2 * j:2 * j + 2])


class _Fire(torch.nn.Module):
    """SqueezeNet's fire module: a squeeze, then two expands that both read it."""

    def __init__(self):
        super().__init__()
        self.squeeze = torch.nn.Conv2d(32, 8, 1)
        self.expand1x1, self.expand3x3 = torch.nn.Conv2d(8, 16, 1), torch.nn.Conv2d(8, 16, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.expand1x1(y)), torch.relu(self.expand3x3(y))], 1)


def test_a_pipeline_stage_starts_when_the_stages_it_reads_have_finished():
    """Each stage has PEs of its own and starts on an inference when its data
    is there: both expands when the squeeze ends, side by side. The latency is
    the longest chain, each stage taking its own time; the period is the
    slowest stage's (every stage busy at most that long an inference)."""
    torch.manual_seed(0)
    model, x = _Fire().eval(), torch.randn(1, 32, 12, 12)
    report = wafer.compile(model, (x,), target="wse", machine="small", mode="pipelined").estimate()
    squeeze, *expands = report.ops
    assert len(expands) == 2 and squeeze.start_cycle == 0
    assert all(op.start_cycle == squeeze.end_cycle for op in expands)
    assert report.cycles == squeeze.cycles + max(op.cycles for op in expands)
    assert report.period_cycles == max(op.cycles for op in report.ops)
