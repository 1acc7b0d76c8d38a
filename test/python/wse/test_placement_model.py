"""wse-place's time model against the simulator: it costs a region's streams as
the simulator costs each scatter (every PE's own share through its row's
link; what crosses the host's I/O no faster than it allows), so the rectangle
it finds fastest is the one the simulator finds fast."""

import pytest
import torch
from torch_mlir import ir

from wafer.compiler import run_stages
from wafer.dialects.wse import rect_of, regions_of, str_attr
from wafer.frontend import import_model
from wafer.pipelines.wse import WsePipeline
from wafer.wse_target.machine import WSE2
from wafer.tuning import placement
from wafer.wse_target.simulator import estimate

from wse_checks import compile_and_check, regions


def modelled_and_simulated(model: torch.nn.Module, x: torch.Tensor, mode: str) -> list[tuple[float, float]]:
    """(wse-place's cycles, the simulator's) of each region, where wse-place put it."""
    return list(placement.modelled_and_simulated(import_model(model, (x,)), "wse2", mode=mode).values())


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


def _simulated_with_panel(module_text: str, panel: int | None, stages) -> float:
    """The simulated cycles of a module placed by wse-place, its one SUMMA
    region stepping by `panel` (None: as placed)."""
    from wafer.compiler import parse_module
    from wafer.context import make_context
    from wafer.wse_target.distribution import PANEL_ATTR

    with make_context() as ctx:
        module = parse_module(module_text, ctx)
        if panel is not None:
            (region,) = regions_of(module.operation)
            region.attributes[PANEL_ATTR] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), panel)
        run_stages(module, stages)
        return estimate(module, WSE2).cycles


def test_a_summa_takes_the_panel_its_model_and_the_simulator_find_faster():
    """On the whole of WSE-2 a 768-deep product's narrowest panel is a block
    of k per PE of the longer side: a step per PE, each paying a kernel call
    and its multicasts' hops. wse-place widens it where the model finds that
    faster, and the simulator agrees."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(768, 768).eval()
    module = import_model(linear, (torch.randn(256, 768),))
    stages = WsePipeline(machine="wse2", mode="whole-wafer").stages()
    run_stages(module, stages[:3])
    (region,) = regions_of(module.operation)
    _, _, width, height = rect_of(region)
    base = -(-768 // max(width, height))
    chosen = ir.IntegerAttr(region.attributes["panel"]).value
    assert str_attr(region, "kind") == "summa" and chosen > base
    text = str(module)
    assert _simulated_with_panel(text, None, stages[3:]) < _simulated_with_panel(text, base, stages[3:])


def test_a_pointwise_convolutions_collapsed_weight_is_preloaded_when_pipelined():
    """A 1x1 convolution's weight reaches its region collapsed to a matrix
    (data movement of a constant): the simulator loads it before the
    pipeline runs, and the model, which took only a literal constant for a
    weight, charged its stream every inference (21% over at 7x7 pixels).
    Within 5%: pipelined, the model counts a stream's hops over its region's
    own columns, not those between its strip and its producer's (128 cycles,
    2% of the second convolution, whose k is split over the columns)."""
    torch.manual_seed(0)
    convs = torch.nn.Sequential(torch.nn.Conv2d(192, 1152, 1), torch.nn.ReLU6(),
                                torch.nn.Conv2d(1152, 192, 1)).eval()
    for modelled, simulated in modelled_and_simulated(convs, torch.randn(1, 192, 7, 7), "pipelined"):
        assert simulated == pytest.approx(modelled, rel=0.05)


def test_a_layer_norm_split_over_columns_is_modelled_as_it_simulates():
    """A layer norm whose rows are split over the columns reduces each
    row's partial sums along the PE row and multicasts them back, twice
    (mean, variance): a chain reduction, a dependent step through each core
    (`row_reduce_cycles`). The model charged one cycle a column for both.
    Its input streams in from the wider region of the linear layer before
    it, across that region's columns, which the model counts too."""
    torch.manual_seed(0)
    norm = torch.nn.Sequential(torch.nn.Linear(768, 768), torch.nn.LayerNorm(768)).eval()
    for modelled, simulated in modelled_and_simulated(norm, torch.randn(128, 768), "whole-wafer"):
        assert simulated == pytest.approx(modelled, rel=0.03)


@pytest.mark.parametrize("mode", ["whole-wafer", "pipelined"])
def test_a_region_scatters_a_tensor_it_reads_twice_once(mode):
    """Centering rows reads x for the mean and again to subtract it: one
    copy on each PE, as the model counts its streams and SRAM."""
    x = torch.randn(16, 64)
    program = compile_and_check(lambda x: x - x.mean(-1, keepdim=True), x, mode=mode)
    (region,) = regions(program, "rowwise")
    scattered = [op.operands[0] for op in region.regions[0].blocks[0].operations
                 if op.operation.name == "wse.scatter"]
    assert len(scattered) == 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_a_steps_transfers_are_its_panels_as_laid_out(dtype):
    """A 3x3 convolution's contraction steps over k = the 64 channels; its
    window taps and output columns ride along as extra loops, in A's panels
    but not in the weights'. The model sized both panels by the flops'
    extra loops (B's at 504 elements a step where it is 9): 17% over at
    16 bits, where the simulator shifts what wse-distribute lays out."""
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU()).eval().to(dtype)
    for modelled, simulated in modelled_and_simulated(conv, torch.randn(1, 64, 56, 56, dtype=dtype), "whole-wafer"):
        assert simulated == pytest.approx(modelled, rel=0.01)


@pytest.mark.parametrize("mode", ["whole-wafer", "pipelined"])
@pytest.mark.parametrize("stride", [1, 2])
def test_a_depthwise_convolution_read_in_place_is_modelled_as_it_simulates(stride, mode):
    """A depthwise region holds its input rows, each PE its block's windows and
    their halo, which it reads at the window's stride: the model costs that
    share's stream and its strided kernel as the simulator does."""
    torch.manual_seed(0)
    block = torch.nn.Sequential(torch.nn.Conv2d(96, 96, 3, stride=stride, padding=1, groups=96),
                                torch.nn.ReLU6()).eval()
    for modelled, simulated in modelled_and_simulated(block, torch.randn(1, 96, 56, 56), mode):
        assert simulated == pytest.approx(modelled, rel=0.05)


def _placed_layers(depth: int, mode: str, monkeypatch, share: bool) -> tuple[list, int]:
    """Each region's rectangle and cycles for `depth` identical Linear+ReLU
    layers on wse2, and how many rectangles placement timed; `share` False
    times every region's rectangles itself."""
    import wafer
    from wafer.passes.wse_demand import Demand

    timed, time = [0], Demand._time

    def counted(self, rows, cols):
        timed[0] += 1
        return time(self, rows, cols)

    monkeypatch.setattr(Demand, "_time", counted)
    if not share:
        monkeypatch.setattr(Demand, "sharing_timings", lambda self, twin: self)
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[m for _ in range(depth) for m in (torch.nn.Linear(256, 256), torch.nn.ReLU())])
    program = wafer.compile(model.eval(), (torch.randn(64, 256),), target="wse", machine="wse2", mode=mode)
    return [(op.region, op.compute_cycles, op.comm_cycles) for op in program.estimate().ops], timed[0]


@pytest.mark.parametrize("mode", ["whole-wafer", "pipelined"])
def test_identical_layers_time_their_rectangles_once(mode, monkeypatch):
    """Regions alike in structure and in where their streams come from (the
    layers between the first, which reads the input, and the last, whose
    result leaves) share their rectangles' timings: placed exactly as when
    each times its own, for a fraction of the timings."""
    shared, timed = _placed_layers(12, mode, monkeypatch, share=True)
    alone, timed_alone = _placed_layers(12, mode, monkeypatch, share=False)
    assert shared == alone
    assert 3 * timed <= timed_alone, (timed, timed_alone)
