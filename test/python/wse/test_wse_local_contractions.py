"""Contractions run rowwise: each PE computes its own outputs over all of k.

SUMMA holds every batch (every group of a grouped convolution) on each PE;
where that does not fit, or models slower, wse-place runs the region rowwise.
"""

import pytest
import torch
from torch import nn
from torch_mlir import ir
from torch_mlir.dialects import linalg

import wafer
from wafer.compiler import prepare_wse, run_stages
from wafer.dialects.wse import regions_of
from wafer.frontend import import_model
from wafer.passes.linalg_queries import iterator_types
from wafer.passes.wse_region_demand import demand
from wafer.wse_target.distribution import placed_loops, set_placed_loops
from wafer.wse_target.simulator import estimate
from wse_checks import ops_in, regions


def _grouped_conv(channels: int, groups: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False).eval()


def test_a_grouped_convolution_summa_cannot_hold_runs_rowwise_on_wse2():
    """ResNeXt-50's first grouped 3x3 (32 groups of 4 filters, 56x56): stepped,
    each PE would hold all 32 groups of its rows (135 KB of a 48 KB PE).
    Rowwise, the output rows and the groups are split and each PE's
    instructions run along whole 56-pixel rows."""
    model, x = _grouped_conv(128, 32), torch.randn(1, 128, 56, 56)
    program = wafer.compile(model, (x,), target="wse", machine="wse2", mode="whole-wafer")
    (row,) = program.estimate().ops
    assert row.kind == "rowwise" and row.compute_cycles > 0
    (region,) = regions(program, "rowwise")
    (conv,) = [op for op in ops_in(region) if op.name == "linalg.generic" and len(iterator_types(op)) == 7]
    assert ir.MemRefType(conv.operands[len(conv.operands) - 1].type).shape[-1] == 56
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)


def _placed(model: nn.Module, x: torch.Tensor, machine: str):
    """The model's module through wse-place, the stages after it, and the fabric."""
    module = import_model(model, (x,))
    with module.context:
        pipeline, target, _ = prepare_wse(module, machine, mode="whole-wafer")
        stages = pipeline.stages()
        placed = next(i for i, (name, _) in enumerate(stages) if name == "place") + 1
        run_stages(module, stages[:placed])
    return module, stages[placed:], target


def _deep_narrow_conv(bias: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(256, 32, 3, padding=1, bias=bias).eval()


CASES = {
    "deep, narrow conv": (_deep_narrow_conv, (1, 256, 3, 3)),
    "grouped conv": (lambda: _grouped_conv(32, 8), (1, 32, 16, 16)),
    "linear, batch 8": (lambda: nn.Linear(64, 24).eval(), (8, 64)),
    "linear, batch 64": (lambda: nn.Linear(96, 96).eval(), (64, 96)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_placement_runs_a_contraction_the_way_the_simulator_finds_faster(case):
    """On the rectangle wse-place chose, each way the region may run there
    (SUMMA, Cannon on a square, rowwise on each choice of split loops),
    simulated: its choice is the fastest."""
    build, shape = CASES[case]
    torch.manual_seed(0)
    module, after, target = _placed(build(), torch.randn(*shape), "small")
    with module.context:
        (region,) = [r for r in regions_of(module.operation) if r.attributes["sym_name"].value.startswith("summa")]
        chosen = (region.attributes["kind"].value, placed_loops(region))
        rows, cols = (ir.IntegerAttr(region.attributes[side]).value for side in ("height", "width"))
        need = demand(region, preloaded=False)
        ways = [(kind, None) for kind in need.algorithms(rows, cols) if kind != "rowwise"]
        ways += [("rowwise", local.loops) for local in need.locals if local.holds(rows, cols)]
        cycles = {}
        for kind, loops in ways:
            trial = module.operation.clone()
            (placed,) = [r for r in regions_of(trial) if r.attributes["sym_name"].value.startswith("summa")]
            placed.attributes["kind"] = ir.StringAttr.get(kind)
            if kind != "summa" and "panel" in placed.attributes:
                del placed.attributes["panel"]
            set_placed_loops(placed, loops)
            run_stages(trial, after)
            report = estimate(trial, target, "forward")
            (op,) = [op for op in report.ops if op.name.startswith("summa")]
            cycles[kind, loops] = op.compute_cycles + op.comm_cycles
    assert len(cycles) >= 2, cycles  # a choice was made
    assert cycles[chosen] <= min(cycles.values()) * 1.01, (chosen, cycles)


@pytest.mark.parametrize("mode", ["pipelined", "whole-wafer"])
def test_a_grouped_convolution_block_matches_pytorch_on_small(mode):
    """A ResNeXt bottleneck scaled down: 1x1, grouped 3x3 (8 groups), 1x1, residual."""
    torch.manual_seed(0)

    class Bottleneck(nn.Module):
        def __init__(self):
            super().__init__()
            self.reduce = nn.Conv2d(32, 32, 1, bias=False)
            self.grouped = nn.Conv2d(32, 32, 3, padding=1, groups=8, bias=False)
            self.expand = nn.Conv2d(32, 32, 1, bias=False)

        def forward(self, x):
            return torch.relu(x + self.expand(torch.relu(self.grouped(torch.relu(self.reduce(x))))))

    model, x = Bottleneck().eval(), torch.randn(1, 32, 8, 8)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("mode", ["pipelined", "whole-wafer"])
def test_a_deep_convolution_with_few_outputs_splits_k_over_the_columns(mode, bias):
    """A late layer's shape: 288 outputs (32 filters at 3x3) over 2,304 of k.
    Each PE its own outputs over all of k leaves most PEs idle and each a long
    serial sum; SUMMA's or Cannon's steps each pay a kernel call for a few
    multiply-adds. Rowwise with the filters over the rows and the channels
    over the columns, each PE sums its channels' share, and the partial sums
    are chain-reduced along each row (`wse.reduce`) and multicast back. A
    bias is added after the sums (wse-bias-after-sums): as their init, each
    PE's part would have started from it."""
    model, x = _deep_narrow_conv(bias), torch.randn(1, 256, 3, 3)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)
    (region,) = regions(program, "rowwise")
    (conv,) = [op for op in ops_in(region) if op.name == "linalg.generic" and len(iterator_types(op)) == 6]
    _, col_loop = placed_loops(region)
    assert iterator_types(conv)[col_loop] == linalg.IteratorType.reduction
    assert any(op.name == "wse.reduce" for op in ops_in(region))
