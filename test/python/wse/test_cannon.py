"""Cannon's algorithm on the wafer: skewed layouts, shifts over a folded ring,
exact cycles of a hand-written region, and wse-place's choice against SUMMA."""

import numpy as np
import pytest
from torch_mlir import ir
from wse_checks import dense_literal, one_region_report

import wafer
from wafer.compiler import prepare_wse, run_stages
from wafer.context import make_context
from wafer.dialects.wse import regions_of
from wafer.examples.models import matmul_mlir
from wafer.passes.wse_region_demand import demand
from wafer.wse_target.layout import SKEW_COLS, SKEW_ROWS, Layout
from wafer.wse_target.simulator import estimate, execute, gather, scatter


@pytest.mark.parametrize("layout", [Layout(0, 1, 0, 0, SKEW_COLS), Layout(0, 1, 0, 0, SKEW_ROWS),
                                    Layout(1, 0, 3, 0, SKEW_ROWS)])
def test_skewed_scatter_then_gather_is_the_identity(layout):
    tensor = np.arange(7 * 10, dtype=np.float32).reshape(7, 10)
    np.testing.assert_array_equal(gather(scatter(tensor, layout, 3, 3), layout, [7, 10]), tensor)


def test_a_column_skew_gives_pe_i_j_block_i_plus_j():
    tensor = np.arange(9, dtype=np.float32).reshape(3, 3)  # block (i, j) is the element 3i + j
    grid = scatter(tensor, Layout(0, 1, 0, 0, SKEW_COLS), 3, 3)
    assert grid[..., 0, 0].tolist() == [[0, 1, 2], [4, 5, 3], [8, 6, 7]]
    grid = scatter(tensor, Layout(0, 1, 0, 0, SKEW_ROWS), 3, 3)
    assert grid[..., 0, 0].tolist() == [[0, 4, 8], [3, 7, 2], [6, 1, 5]]


# A 4x4 Cannon in 4 steps, C (8x8) = A (8x8) @ W (8x8), 2x2 blocks of each per PE:
# A streams in from the west edge skewed by rows, the weight W is a constant
# (preloaded) skewed by columns; each step multiplies, then shifts A west and W
# north, into the second buffers the next step reads.
WEIGHT = np.arange(64, dtype=np.float32).reshape(8, 8) / 4 - 7
CANNON = """
#a = affine_map<(d0, d1) -> (d0, d1)>
#pa = affine_map<(d0, d1, d2) -> (d0, d2)>
#pb = affine_map<(d0, d1, d2) -> (d2, d1)>
#pc = affine_map<(d0, d1, d2) -> (d0, d1)>
module attributes {{wse.machine = {{name = "small", width = 32 : i64, height = 32 : i64,
                                   colors = 21 : i64, sram_bytes = 49152 : i64}}}} {{
func.func @f(%x: tensor<8x8xf32>) -> tensor<8x8xf32> {{
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<{weight}> : tensor<8x8xf32>
  %y = "wse.region"() ({{
    %c = "wse.buffer"() {{name = "c", offset = 0 : i64}} : () -> memref<2x2xf32>
    "wse.compute"() ({{
      linalg.generic {{indexing_maps = [#a], iterator_types = ["parallel", "parallel"]}}
          outs(%c : memref<2x2xf32>) {{
      ^bb0(%out: f32):
        linalg.yield %zero : f32
      }}
    }}) : () -> ()
    %a = "wse.buffer"() {{name = "a", offset = 16 : i64}} : () -> memref<2x2xf32>
    "wse.scatter"(%x, %a) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 2 : i64,
        skew = 1 : i64, color = 2 : i64}} : (tensor<8x8xf32>, memref<2x2xf32>) -> ()
    %an = "wse.buffer"() {{name = "an", offset = 32 : i64}} : () -> memref<2x2xf32>
    %b = "wse.buffer"() {{name = "b", offset = 48 : i64}} : () -> memref<2x2xf32>
    "wse.scatter"(%w, %b) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 2 : i64, col_panel = 0 : i64,
        skew = 2 : i64, color = 3 : i64}} : (tensor<8x8xf32>, memref<2x2xf32>) -> ()
    %bn = "wse.buffer"() {{name = "bn", offset = 64 : i64}} : () -> memref<2x2xf32>
    "wse.steps"() ({{
    ^bb0(%k: index):
      "wse.compute"() ({{
        linalg.generic {{indexing_maps = [#pa, #pb, #pc], iterator_types = ["parallel", "parallel", "reduction"]}}
            ins(%a, %b : memref<2x2xf32>, memref<2x2xf32>) outs(%c : memref<2x2xf32>) {{
        ^bb0(%in: f32, %in_0: f32, %out: f32):
          %p = arith.mulf %in, %in_0 : f32
          %s = arith.addf %out, %p : f32
          linalg.yield %s : f32
        }}
      }}) : () -> ()
      "wse.shift"(%a, %a) {{dx = -1 : i64, dy = 0 : i64, wrap = {wrap} : i64, color = 0 : i64}}
          : (memref<2x2xf32>, memref<2x2xf32>) -> ()
      "wse.shift"(%b, %b) {{dx = 0 : i64, dy = -1 : i64, wrap = {wrap} : i64, color = 1 : i64}}
          : (memref<2x2xf32>, memref<2x2xf32>) -> ()
    }}) {{count = 4 : i64, buffers = 2 : i64}} : () -> ()
    %t = "wse.gather"(%c) {{row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64,
        skew = 0 : i64, color = 4 : i64}} : (memref<2x2xf32>) -> tensor<8x8xf32>
    "wse.yield"(%t) : (tensor<8x8xf32>) -> ()
  }}) {{sym_name = "cannon", kind = "cannon", x = 0 : i64, y = 0 : i64, width = 4 : i64, height = 4 : i64,
       slot = 0 : i64, flops = 1024 : i64}} : () -> tensor<8x8xf32>
  return %y : tensor<8x8xf32>
}}
}}
"""


def cannon_module(wrap: int = 2) -> tuple[ir.Context, ir.Module]:
    ctx = make_context()
    return ctx, ir.Module.parse(CANNON.format(weight=dense_literal(WEIGHT), wrap=wrap), ctx)


@pytest.mark.parametrize("wrap", [1, 2])
def test_cannon_4x4_in_4_steps_computes_the_product(wrap):
    ctx, module = cannon_module(wrap)
    x = np.arange(64, dtype=np.float32).reshape(8, 8) / 8
    with ctx:
        (y,) = execute(module, "f", [x])
    np.testing.assert_allclose(y, x @ WEIGHT, rtol=1e-6)


# Hand-derived, per machine variant and wrap (f32, every term a whole number of cycles):
# - fill of C: 120 set-up + 2 rows x (23 loop + 1 issue + 2 elements, moved 2 a
#   cycle: @fmovs's SIMD width)                                                   = 170
# - each step's product: 120 + 4 AXPYs x (23 + 20 scalar + 1 + 2 elements)          = 304
# - each step's two shifts of 4 wavelets: over the folded ring every link carries 4
#   and no flow goes past 2 hops: max(ramp 4, 4 + 2) = 6 each; the long way round,
#   the wrapping flow crosses 3 hops: 4 + 3 = 7 each. Double-buffered, the 4 steps'
#   shifts (4 x 12) hide under the products (4 x 304) but for one step's: 12 (14).
# - the stream of A from the west edge: 4 wavelets per PE x 4 PEs a row, across 4
#   columns: 16 + 4; the preload of W the same 20; the gather of C: 20.
FOLDED, LONG_WAY = 2, 1
VARIANTS = {
    ("small", FOLDED): ({}, 12 + 3 * 20),
    ("small", LONG_WAY): ({}, 14 + 3 * 20),
    # Shifts max(4 / 2, 4 / 2 + 2) = 4; streams 16 / 2 + 4 = 12.
    ("2 wavelets a link-cycle", FOLDED): (dict(link_wavelets_per_cycle=2), 2 * 4 + 3 * 12),
    # Shifts 4 + 2 x 3 = 10 (long way 4 + 3 x 3 = 13); streams 16 + 4 x 3 = 28.
    ("3-cycle hops", FOLDED): (dict(hop_cycles=3), 2 * 10 + 3 * 28),
    ("3-cycle hops", LONG_WAY): (dict(hop_cycles=3), 2 * 13 + 3 * 28),
}


@pytest.mark.parametrize("variant, wrap", VARIANTS)
def test_cannon_4x4_in_4_steps_costs_exactly(variant, wrap):
    change, comm = VARIANTS[variant, wrap]
    report, row = one_region_report(*cannon_module(wrap), **change)
    assert (row.kind, row.compute_cycles, row.comm_cycles) == ("cannon", 170 + 4 * 304, comm)
    assert report.sram_high_water_max == 5 * 2 * 2 * 4  # C, A and W, and the second A and W


def _placed(m: int, k: int, n: int, machine: str, region=None):
    """The GEMM's module through wse-place, its region, the stages after, and the fabric."""
    ctx = make_context()
    with ctx:
        module = ir.Module.parse(matmul_mlir(m, k, n))
        pipeline, target, _ = prepare_wse(module, machine, region=region)
        stages = pipeline.stages()
        placed = next(i for i, (name, _) in enumerate(stages) if name == "place") + 1
        run_stages(module, stages[:placed])
    return ctx, module, stages[placed:], target


@pytest.mark.parametrize("m,k,n,region", [(8, 16, 12, (4, 4)), (5, 33, 7, (3, 3)), (30, 64, 17, (8, 8)),
                                          (2, 6, 9, (3, 3))])
def test_gemm_on_a_square_runs_cannon_and_matches_numpy(m, k, n, region):
    """Padding in m and n, k in whole blocks (33 = 3 x 11) or not (64 = 8 x 8 blocks, 30 rows over 8)."""
    ctx, module, after, _ = _placed(m, k, n, "small", region)
    with ctx:
        (placed,) = regions_of(module.operation)
        i64 = ir.IntegerType.get_signless(64)
        for key, value in (("kind", ir.StringAttr.get("cannon")), ("width", ir.IntegerAttr.get(i64, region[0])),
                           ("height", ir.IntegerAttr.get(i64, region[1]))):
            placed.attributes[key] = value
        run_stages(module, after)
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
        (c,) = execute(module, "gemm", [a, b])
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


def test_a_k_that_leaves_a_block_empty_is_not_cannon():
    """k = 9 on 4x4 PEs: in blocks of ceil(9 / 4) = 3 it makes 3 blocks for 4 PE
    rows, and Cannon would step over one of padding: not a choice there."""
    exe = wafer.compile_mlir(matmul_mlir(8, 9, 8), target="wse", region=(4, 4))
    assert [op.kind for op in exe.estimate("gemm").ops] in (["summa"], ["rowwise"])
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((8, 9), np.float32), rng.standard_normal((9, 8), np.float32)
    np.testing.assert_allclose(exe.gemm(a, b), a @ b, rtol=1e-5, atol=1e-5)


def _every_algorithm(m: int, k: int, n: int, machine: str, region=None) -> tuple[str, dict[str, float]]:
    """wse-place's choice for the GEMM's region, and the simulator's cycles for
    the region on the same rectangle as a summa region (in the panel
    wse-place chose, and in the narrowest, "summa base"), as a cannon region
    and as a rowwise one."""
    ctx, module, after, target = _placed(m, k, n, machine, region)
    with ctx:
        (region_op,) = regions_of(module.operation)
        chosen = ir.StringAttr(region_op.attributes["kind"]).value
        cycles = {}
        for kind, panel in (("summa", None), ("summa base", 0), ("cannon", None), ("rowwise", 0)):
            trial = module.operation.clone()
            placed = regions_of(trial)[0]
            placed.attributes["kind"] = ir.StringAttr.get(kind.split()[0])
            if panel is not None and "panel" in placed.attributes:
                del placed.attributes["panel"]
            run_stages(trial, after)
            cycles[kind] = estimate(trial, target, "gemm").cycles
    return chosen, cycles


@pytest.mark.parametrize("m,k,n,machine,region", [(1024, 1024, 1024, "wse2", None), (64, 64, 64, "small", (4, 4)),
                                                  (96, 48, 40, "small", (6, 6))])
def test_placement_picks_the_algorithm_the_simulator_finds_faster(m, k, n, machine, region):
    chosen, cycles = _every_algorithm(m, k, n, machine, region)
    assert cycles[chosen] <= min(cycles.values()) * 1.01


def test_cannon_beats_a_narrow_summa_and_the_whole_of_k_on_each_pe_beats_both():
    """A 1024^3 GEMM on WSE-2's 512x512 PEs. In panels of 2 (512 steps) a SUMMA
    step's multicasts cross 512 PEs and a Cannon step's shifts 2: Cannon wins
    by half. But each of its 512 steps pays a kernel call for 8 multiply-adds;
    a PE that holds its two rows of A and two columns of B whole (rowwise),
    each streamed in once and fanned out along its row or column, makes one
    call and no step: faster still, and wse-place takes it."""
    chosen, cycles = _every_algorithm(1024, 1024, 1024, "wse2")
    assert cycles["cannon"] < cycles["summa base"] / 2
    assert chosen == "rowwise" and cycles["rowwise"] < cycles["cannon"]


def test_a_cannon_region_off_the_square_is_a_clear_error():
    with make_context():
        module = ir.Module.parse(matmul_mlir(16, 16, 16))
        pipeline, _, _ = prepare_wse(module, "small", region=(4, 4))
        stages = pipeline.stages()
        placed = next(i for i, (name, _) in enumerate(stages) if name == "place") + 1
        run_stages(module, stages[:placed])
        (region_op,) = regions_of(module.operation)
        region_op.attributes["kind"] = ir.StringAttr.get("cannon")
        region_op.attributes["height"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 2)
        with pytest.raises(wafer.WaferError, match="of kind 'cannon' needs a square of PEs .* it is 2x4 for k = 16"):
            run_stages(module, stages[placed:])


def test_demand_models_cannon_only_where_it_fits():
    with make_context():
        module = ir.Module.parse(matmul_mlir(64, 64, 64))
        pipeline, _, _ = prepare_wse(module, "small")
        stages = pipeline.stages()
        run_stages(module, stages[:next(i for i, (name, _) in enumerate(stages) if name == "place") + 1])
        need = demand(regions_of(module.operation)[0], preloaded=False)
        assert "cannon" not in need.algorithms(4, 8) and "summa" in need.algorithms(4, 8)
        stepped = [kind for kind in need.algorithms(8, 8) if kind != "rowwise"]
        assert stepped == ["cannon", "summa"]  # 8 blocks of 8: each step's shifts hide under its product
