"""The placement mode as a search choice: `wafer tune --target wse` with mode
auto searches both modes and records the faster for the model; wse-place's
`mode=auto` takes that record, else pipelined where the model fits side by
side, else whole-wafer."""

import collections
import dataclasses
import json

import pytest
import torch
from torch_mlir import ir

import wafer
from wafer.dialects.wse import rect_of, rects_union, regions_of, stream_box
from wafer.tools.wafer_cli import main
from wafer.tuning.modes import search_modes

from wse_checks import ops_in
from zoo_blocks import build


def placed_mode(program) -> str:
    """Whole-wafer regions each start at column 0; pipelined ones side by side."""
    return "whole-wafer" if all(op.region[0] == 0 for op in program.estimate().ops) else "pipelined"


def _deep_mlp():
    """More Linear layers than `small` has columns: it fits whole-wafer only."""
    torch.manual_seed(0)
    return torch.nn.Sequential(*[torch.nn.Linear(8, 8) for _ in range(40)]).eval(), torch.randn(4, 8)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    model, x = build("mlp")
    database = tmp_path_factory.mktemp("modes") / "db.json"
    results = search_modes(model, (x,), budget_s=10, database=str(database), machine="small", rounds=2,
                           progress=False)
    return model, x, database, results


def test_both_modes_are_searched_and_the_faster_recorded(searched):
    model, x, database, results = searched
    assert [r.mode for r in results] == ["pipelined", "whole-wafer"]
    assert all(r.period > 0 and r.regions for r in results)
    (record,) = json.loads(database.read_text())["wse_modes"]["small 32x32"].values()
    assert record["period"] == {r.mode: r.period for r in results}
    assert record["best"] == min(results, key=lambda r: r.period).mode
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="auto", tuning=str(database))
    assert placed_mode(program) == record["best"]
    torch.testing.assert_close(program(x), model(x), rtol=1e-4, atol=1e-5)


def test_auto_takes_the_recorded_mode(searched, tmp_path):
    model, x, database, _ = searched
    data = json.loads(database.read_text())
    (record,) = data["wse_modes"]["small 32x32"].values()
    other = next(mode for mode in record["period"] if mode != record["best"])
    record["best"] = other
    flipped = tmp_path / "flipped.json"
    flipped.write_text(json.dumps(data))
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="auto", tuning=str(flipped))
    assert placed_mode(program) == other


def test_auto_without_a_record_places_side_by_side_where_it_fits():
    model, x = build("mlp")
    assert placed_mode(wafer.compile(model, (x,), target="wse", machine="small", mode="auto")) == "pipelined"
    model, x = _deep_mlp()
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="auto")
    assert placed_mode(program) == "whole-wafer"
    torch.testing.assert_close(program(x), model(x), rtol=1e-4, atol=1e-5)


class _DenselyConnected(torch.nn.Module):
    """Each layer reads every earlier one's output, as DenseNet's blocks do."""

    def __init__(self, layers: int, width: int = 16):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(width * (i + 1), width) for i in range(layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(torch.relu(layer(torch.cat(features, dim=1))))
        return features[-1]


def test_densely_connected_layers_pass_their_input_on_side_by_side():
    """Side by side, each of 24 densely connected layers reads its input
    concatenation from the layer before it, which holds all but the newest
    part already (wse-extend-concats): one short route a layer, where a
    route from every earlier layer's strip would cross more of them than the
    fabric has colors."""
    torch.manual_seed(0)
    model, x = _DenselyConnected(24).eval(), torch.randn(4, 16)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="pipelined")
    regions = regions_of(program.executable.module.operation)
    assert len(regions) == 24
    for before, region in zip(regions, regions[1:]):
        (scatter,) = [op for op in ops_in(region) if op.name == "wse.scatter"
                      and op.operands[0].owner.name == "tensor.concat"]
        assert stream_box(scatter) == rects_union([rect_of(before), rect_of(region)])
    torch.testing.assert_close(program(x), model(x), rtol=1e-4, atol=1e-5)


class _NestedSkips(torch.nn.Module):
    """A U-Net's skips as linear layers: the k-th layer down is added to the
    k-th from the last up, so every skip crosses the middle."""

    def __init__(self, depth: int, width: int = 16):
        super().__init__()
        self.down = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(depth))
        self.up = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(depth - 1))

    def forward(self, x):
        skips = []
        for layer in self.down:
            x = torch.relu(layer(x))
            skips.append(x)
        skips.pop()
        for layer in self.up:
            x = torch.relu(layer(x)) + skips.pop()
        return x


def test_auto_places_whole_wafer_where_the_streams_side_by_side_do_not_route():
    """31 layers fit side by side on `small`, but side by side the 15 skips
    all cross the middle strips, with the streams between neighbours: more
    routes than the fabric has colors."""
    torch.manual_seed(0)
    model, x = _NestedSkips(16).eval(), torch.randn(4, 16)
    with pytest.raises(wafer.WaferError, match=r"routing needs more than the 21 colors "
                                               r"the machine has: .* \(use mode=whole-wafer\)"):
        wafer.compile(model, (x,), target="wse", machine="small", mode="pipelined")
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="auto")
    assert placed_mode(program) == "whole-wafer"
    torch.testing.assert_close(program(x), model(x), rtol=1e-4, atol=1e-5)


class _SumOfEveryLayer(torch.nn.Module):
    """The sum of every layer's output, which fuses into the last layer's
    region: one region reading every tensor at once."""

    def __init__(self, layers: int, width: int = 16):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(layers))

    def forward(self, x):
        outputs = []
        for layer in self.layers:
            x = torch.relu(layer(x))
            outputs.append(x)
        return sum(outputs)


@pytest.mark.parametrize("mode", ["whole-wafer", "auto"])
def test_a_region_reading_more_tensors_than_colors_is_refused_at_its_layer(mode):
    """Each tensor a region reads is its own route into it, all live at once:
    the error names the layer (and the line in this file) whose region reads
    them, and how many it reads, not only the last stream's source."""
    model, x = _SumOfEveryLayer(24).eval(), torch.randn(4, 16)
    with pytest.raises(wafer.WaferError, match=rf"{__file__}:\d+:\d+: error: in layer 'layers.23': routing needs "
                                               r"more than the 21 colors the machine has: the stream into region "
                                               r"'\w+' \(which reads 25 tensors\)"):
        wafer.compile(model, (x,), target="wse", machine="small", mode=mode)


class _SharedByEveryLayer(torch.nn.Module):
    """One tensor every layer reads, as a decoder's rotary tables and mask are."""

    def __init__(self, layers: int, width: int = 16):
        super().__init__()
        self.shared = torch.nn.Linear(width, width)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(layers))

    def forward(self, x):
        shared, h = torch.tanh(self.shared(x)), x
        for layer in self.layers:
            h = torch.relu(layer(h) + shared)
        return h


def test_the_streams_of_one_tensor_to_every_layer_share_a_route():
    """24 layers side by side each read one tensor: the tensor's scatters are
    one route fanning out at the routers, one color and not 24."""
    torch.manual_seed(0)
    model, x = _SharedByEveryLayer(24).eval(), torch.randn(4, 16)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="auto")
    assert placed_mode(program) == "pipelined"
    torch.testing.assert_close(program(x), model(x), rtol=1e-4, atol=1e-5)
    colors_by_source = collections.defaultdict(set)
    for op in ops_in(program.executable.module.operation):
        source = op.operands[0].owner if op.name == "wse.scatter" else None
        if isinstance(source, ir.OpView) and source.name == "wse.region":
            colors_by_source[source.attributes["sym_name"]].add(op.attributes["color"])
    assert max(map(len, colors_by_source.values())) == 1


def test_a_mode_the_model_does_not_fit_is_reported_not_searched(tmp_path):
    model, x = _deep_mlp()
    database = tmp_path / "db.json"
    pipelined, whole = search_modes(model, (x,), budget_s=10, database=str(database), machine="small", rounds=1,
                                    progress=False)
    assert pipelined.period is None and not pipelined.regions
    assert "do not fit side by side in the 32 columns" in pipelined.reason
    assert whole.period > 0
    (record,) = json.loads(database.read_text())["wse_modes"]["small 32x32"].values()
    assert record == {"period": {"whole-wafer": whole.period}, "best": "whole-wafer"}


def test_wafer_tune_without_a_mode_prints_both_and_the_kept_one(tmp_path, capsys):
    database = tmp_path / "db.json"
    assert main(["tune", "mlp", "--target", "wse", "--machine", "small", "--db", str(database),
                 "--budget", "10"]) == 0
    out = capsys.readouterr().out
    assert "pipelined:" in out and "whole-wafer:" in out and out.count("<- kept (mode='auto')") == 1
    assert f"mode='auto', tuning='{database}'" in out


def test_a_record_of_an_unknown_mode_is_a_malformed_database(tmp_path):
    database = tmp_path / "db.json"
    database.write_text(json.dumps({"version": 1, "cpus": {}, "wse_modes": {"small 32x32": {
        "abc": {"period": {"sideways": 1.0}, "best": "sideways"}}}}))
    model, x = build("mlp")
    with pytest.raises(wafer.WaferError, match="malformed tuning database .*unknown placement mode 'sideways'"):
        wafer.compile(model, (x,), target="wse", machine="small", mode="auto", tuning=str(database))


def test_an_interrupted_search_records_no_mode(tmp_path, monkeypatch):
    """Ctrl-C in the first mode's search: its rectangles are kept, but no mode is
    chosen on half a search, and the table says so."""
    from wafer.tuning import modes
    from wafer.tuning.report import mode_table

    search = modes.search_placement

    def interrupted(*args, **keywords):
        return dataclasses.replace(search(*args, **keywords), interrupted=True)

    monkeypatch.setattr(modes, "search_placement", interrupted)
    model, x = build("mlp")
    database = tmp_path / "db.json"
    (result,) = search_modes(model, (x,), budget_s=5, database=str(database), machine="small", rounds=1,
                             progress=False)
    assert (result.mode, result.period, result.reason) == ("pipelined", None, modes.INTERRUPTED)
    data = json.loads(database.read_text())
    assert "small 32x32 pipelined" in data["wse"] and "wse_modes" not in data
    assert "interrupted" in mode_table([result]) and "kept" not in mode_table([result])
