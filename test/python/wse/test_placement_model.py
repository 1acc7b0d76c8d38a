"""wse-place's time model against the simulator: it costs a region's streams as
the simulator costs each scatter (every PE's own share through its row's
link; what crosses the host's I/O no faster than it allows), so the rectangle
it finds fastest is the one the simulator finds fast."""

import pytest
import torch

from wafer.compiler import run_stages
from wafer.dialects.wse import rect_of, regions_of, str_attr
from wafer.frontend import import_model
from wafer.passes.wse_place import demand
from wafer.pipelines.wse import WsePipeline
from wafer.wse_target.machine import WSE2
from wafer.wse_target.simulator import estimate


def modelled_and_simulated(model: torch.nn.Module, x: torch.Tensor, mode: str) -> list[tuple[float, float]]:
    """(wse-place's cycles, the simulator's) of each region, where wse-place put it."""
    module = import_model(model, (x,))
    stages = WsePipeline(machine="wse2", mode=mode).stages()
    run_stages(module, stages[:3])  # through wse-place
    with module.context:
        modelled = {}
        for region in regions_of(module.operation):
            _, _, width, height = rect_of(region)
            modelled[str_attr(region, "sym_name")] = demand(region, preloaded=mode == "pipelined").cycles(height, width)
    run_stages(module, stages[3:])
    report = estimate(module, WSE2)
    return [(modelled[op.name], op.compute_cycles + op.comm_cycles) for op in report.ops]


@pytest.mark.parametrize("mode", ["whole-wafer", "pipelined"])
def test_a_stem_convolution_is_modelled_as_it_simulates(mode):
    """A 7x7/2 stem's window gather is a share every PE of a row receives: the
    model, which spread the tensor once over the rows, put the region at 2.3x
    fewer cycles than the simulator, on a rectangle twice as wide as the one it
    takes now (45 k cycles simulated, where it was 53 k)."""
    torch.manual_seed(0)
    stem = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 7, stride=2, padding=3), torch.nn.ReLU()).eval()
    for modelled, simulated in modelled_and_simulated(stem, torch.randn(1, 3, 56, 56), mode):
        assert simulated == pytest.approx(modelled, rel=0.05)
