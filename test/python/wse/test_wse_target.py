"""The WSE target end to end: numerics against PyTorch, the report, and its errors."""

import numpy as np
import pytest
import torch

import wafer
from wafer.examples.models import EXAMPLES, matmul_mlir
from wafer.wse_target.layout import Layout
from wafer.wse_target.machine import SMALL
from wafer.wse_target.simulator import gather, scatter



@pytest.mark.parametrize("layout", [Layout(0, 1), Layout(1, 0, 3, 0), Layout(-1, 1, 0, 2), Layout(0, -1)])
def test_scatter_then_gather_is_the_identity(layout):
    tensor = np.arange(7 * 10, dtype=np.float32).reshape(7, 10)
    grid = scatter(tensor, layout, 3, 4)
    assert grid.shape[:2] == (3, 4)
    np.testing.assert_array_equal(gather(grid, layout, [7, 10]), tensor)


def test_block_cyclic_scatter_deals_panels_in_turn():
    tensor = np.arange(12, dtype=np.float32)[None, :]
    grid = scatter(tensor, Layout(-1, 1, 0, 2), 1, 3)
    # Panels of 2: PE 0 gets panels 0 and 3, PE 1 panels 1 and 4, PE 2 panels 2 and 5.
    np.testing.assert_array_equal(grid[0, 0, 0], [0, 1, 6, 7])
    np.testing.assert_array_equal(grid[0, 2, 0], [4, 5, 10, 11])


@pytest.mark.parametrize("m,k,n,region", [(8, 16, 12, None), (5, 33, 7, (3, 2)), (1, 40, 9, (4, 4))])
def test_gemm_matches_numpy(m, k, n, region):
    exe = wafer.compile_mlir(matmul_mlir(m, k, n), target="wse", region=region)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    np.testing.assert_allclose(exe.gemm(a, b), a @ b, rtol=1e-5, atol=1e-5)
    assert exe.report.cycles > 0 and exe.report.flops >= 2 * m * n * k


@pytest.mark.parametrize("mode", ["pipelined", "whole-wafer"])
@pytest.mark.parametrize("name,batch", [("mlp", 1), ("mlp", 3), ("transformer", 1), ("transformer", 2)])
def test_model_matches_pytorch(name, batch, mode):
    model, inputs = EXAMPLES[name].build(batch)
    compiled = wafer.compile(model, inputs, target="wse", mode=mode)
    got = compiled(*inputs)
    with torch.no_grad():
        expected = model(*inputs)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert (got - expected).abs().max().item() <= 1e-4 * expected.abs().max().item()
    report = compiled.report
    assert report.cycles == compiled.estimate().cycles
    assert (report.pipeline_throughput is not None) == (mode == "pipelined")
    assert 0 < report.sram_high_water_max <= SMALL.sram_bytes


def test_pipelined_regions_do_not_overlap_and_whole_wafer_reuses_the_fabric():
    model, inputs = EXAMPLES["mlp"].build(1)
    pipelined = wafer.compile(model, inputs, target="wse", mode="pipelined").estimate()
    rects = [op.region for op in pipelined.ops]
    for i, (x, _, w, _) in enumerate(rects):
        for x2, _, w2, _ in rects[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x
    whole = wafer.compile(model, inputs, target="wse", mode="whole-wafer").estimate()
    assert all(op.region[:2] == (0, 0) for op in whole.ops)
    assert [op.start_cycle for op in whole.ops] == sorted(op.start_cycle for op in whole.ops)


def test_full_wse2_gemm_estimate_completes():
    exe = wafer.compile_mlir(matmul_mlir(2048, 2048, 2048), target="wse", machine="wse2")
    report = exe.estimate("gemm")
    assert report.cycles > 0
    assert 0 < report.peak_fraction <= 1


def test_unknown_machine_and_oversized_region_are_clear_errors():
    with pytest.raises(wafer.WaferError, match="unknown machine 'wse9'"):
        wafer.compile_mlir(matmul_mlir(2, 2, 2), target="wse", machine="wse9")
    with pytest.raises(wafer.WaferError, match="region 40x2 does not fit the 32x32 fabric"):
        wafer.compile_mlir(matmul_mlir(2, 2, 2), target="wse", region=(40, 2))


@pytest.mark.parametrize("mode", ["pipelined", "whole-wafer"])
def test_a_layer_too_large_for_sram_says_by_how_much(mode):
    with pytest.raises(wafer.WaferError, match=r"region 'summa0' does not fit: its 70,254,592 B of tensors "
                       r"need at least 894 columns of 2 PEs, 'small' has 2 \(892 short\)"):
        wafer.compile_mlir(matmul_mlir(64, 4096, 4096), target="wse", region=(2, 2), mode=mode)


def test_a_model_too_large_to_pipeline_says_by_how_much():
    model, inputs = EXAMPLES["mlp"].build(1)
    with pytest.raises(wafer.WaferError, match=r"the 3 regions need at least 4 columns of 32 PEs to hold their "
                       r"tensors side by side; 'small' has 3 \(1 short, 2 wafers' worth\): use mode=whole-wafer"):
        wafer.compile(model, inputs, target="wse", region=(3, 32))
    assert wafer.compile(model, inputs, target="wse", region=(3, 32), mode="whole-wafer").estimate().cycles > 0


def test_a_pipeline_one_strip_too_wide_says_which_layers_fit_and_what_the_rest_need():
    model, inputs = EXAMPLES["mlp"].build(64)
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(model, inputs, target="wse", region=(5, 32))
    message = str(info.value)
    assert "error: in layer 'layers.4': the 3 regions' blocks and panels need 6 columns side by side; " \
           "'small' has 5: the first 2 fit, the other 1 from region 'summa2' on need 1 columns more for " in message
    assert message.rstrip().endswith("B of tensors (2 wafers' worth): use mode=whole-wafer or a larger machine")


def test_matmul_on_one_pe_costs_what_the_cost_model_says():
    from wafer.wse_target.cost import compute_cycles

    m, k, n = 4, 16, 8
    report = wafer.compile_mlir(matmul_mlir(m, k, n), target="wse", region=(1, 1)).estimate("gemm")
    (row,) = report.ops
    assert row.region == (0, 0, 1, 1)
    # The zero fill stores m*n elements in rows of n, moved 2 a cycle (@fmovs);
    # then one step of the whole k: an AXPY per (row of C, k), each a row of n
    # with a scalar of A.
    fill = compute_cycles(SMALL, m * n, n, "fp32", datapath_cycles=1 / SMALL.fp32_add_width)
    product = compute_cycles(SMALL, m * n * k, n, "fp32", scalar_operand=True)
    assert row.compute_cycles == pytest.approx(float(fill + product))
    # 120 set-up + 4 rows x (23 loop + 1 issue + 8 / 2); 120 + 64 x (23 + 20 + 1 + 8).
    assert row.compute_cycles == 232 + 3448
    assert report.flops == 2 * m * n * k


@pytest.mark.parametrize("name", ["mlp", "transformer"])
def test_a_bigger_wafer_is_never_slower_whole_wafer(name):
    """wse-place picks each layer's rectangle by its time, not its size: on WSE-2
    it could still choose what it chose on the small fabric."""
    model, inputs = EXAMPLES[name].build(1)
    small = wafer.compile(model, inputs, target="wse", machine="small", mode="whole-wafer").estimate()
    wse2 = wafer.compile(model, inputs, target="wse", machine="wse2", mode="whole-wafer").estimate()
    assert wse2.cycles <= small.cycles
    assert any(op.region[2] * op.region[3] < 750 * 994 for op in wse2.ops)


def test_an_op_the_wse_target_cannot_run_fails_at_compile_time_at_the_model_line():
    class ComplexProduct(torch.nn.Module):
        def forward(self, a, b):
            return torch.view_as_real(torch.complex(a, b) * torch.complex(b, a))

    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(ComplexProduct(), (torch.randn(4), torch.randn(4)), target="wse")
    message = str(info.value)
    assert "computes on tensor<4xcomplex<f32>>: the wse target runs real numbers only" in message
    assert message.startswith(f"{__file__}:")


@pytest.mark.parametrize("function", [torch.asinh, torch.atanh, lambda x: torch.acosh(x + 1)])
def test_inverse_hyperbolic_functions_run_on_the_wafer(function):
    """Their math ops were missing from the simulator, which failed at call time."""

    class Elementwise(torch.nn.Module):
        def forward(self, x):
            return function(x) * 2

    x = torch.rand(4, 8) * 0.9 + 0.05
    compiled = wafer.compile(Elementwise(), (x,), target="wse", machine="small")
    torch.testing.assert_close(torch.as_tensor(compiled(x)), Elementwise()(x), rtol=1e-5, atol=1e-6)


def test_calls_are_checked_like_the_cpu_target():
    exe = wafer.compile_mlir(matmul_mlir(2, 3, 4), target="wse")
    with pytest.raises(wafer.WaferError, match="argument 1 of @gemm must be 3x4xfloat32, got shape 4x3"):
        exe.gemm(np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32))
    with pytest.raises(wafer.WaferError, match=r"no public function @forward \(have: gemm\)"):
        exe.estimate()


@pytest.mark.parametrize("n, buffers", [(120, 2), (128, 1)])
def test_a_summa_double_buffers_its_panels_where_the_sram_holds_them(n, buffers):
    """On 2 rows of 4 PEs (not a square: SUMMA), the blocks and panels of a
    120^3 GEMM (32.4 KB) leave room for a second pair of panels (10.8 KB);
    those of a 128^3 GEMM do not (36.9 KB, 49.2 with a second pair, over 90%
    of 48 KB). Either way the numbers match."""
    from torch_mlir import ir

    from wse_checks import ops_in

    exe = wafer.compile_mlir(matmul_mlir(n, n, n), target="wse", machine="small", region=(4, 2))
    assert [op.kind for op in exe.estimate("gemm").ops] == ["summa"]
    (steps,) = [op for op in ops_in(exe.module.operation) if op.name == "wse.steps"]
    assert ir.IntegerAttr(steps.attributes["buffers"]).value == buffers
    names = [ir.StringAttr(op.attributes["name"]).value for op in ops_in(exe.module.operation)
             if op.name == "wse.buffer"]
    assert sum("panelnext" in name for name in names) == (2 if buffers == 2 else 0)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    np.testing.assert_allclose(exe.invoke("gemm", a, b), a @ b, rtol=1e-4, atol=1e-4)
