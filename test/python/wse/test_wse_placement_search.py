"""`wafer tune --target wse`: each region's rectangle searched on the simulator,
recorded in the tuning database, and taken by wse-place where it holds."""

import json

import pytest
import torch

import wafer
from wafer.diagnostics import WaferError
from wafer.dialects.wse import int_attr, regions_of, str_attr
from wafer.tools.wafer_cli import main
from wafer.tuning.placement import tune_placement
from wafer.wse_target.distribution import PANEL_ATTR

from zoo_blocks import build

MODES = ("pipelined", "whole-wafer")


def rects(program) -> dict[str, tuple[int, int]]:
    """Each region's (rows, cols), by name."""
    return {op.name: (op.region[3], op.region[2]) for op in program.estimate().ops}


@pytest.fixture(scope="module", params=MODES)
def tuned(request, tmp_path_factory):
    mode = request.param
    model, x = build("resnet")
    database = tmp_path_factory.mktemp("tuning") / "wafer-tuning.json"
    results = tune_placement(model, (x,), database=str(database), machine="small", mode=mode, rounds=6,
                             progress=False)
    return mode, model, x, database, results


def test_every_region_gets_a_record_no_slower_than_its_placement(tuned):
    mode, _, _, database, results = tuned
    records = json.loads(database.read_text())["wse"][f"small 32x32 {mode}"]
    assert {r.region for r in results} == set(records)
    for result in results:
        assert result.best.cycles <= result.default.cycles
        assert 1 <= result.measured_now <= 6
        measured = [(p["rows"], p["cols"], p["kind"], p["panel"]) for p in records[result.region]["measured"]]
        assert len(measured) == len(set(measured))  # no candidate twice


def test_a_tuned_compile_is_no_slower(tuned):
    mode, model, x, database, _ = tuned
    untuned = wafer.compile(model, (x,), target="wse", machine="small", mode=mode)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode, tuning=str(database))
    assert program.estimate().cycles <= untuned.estimate().cycles


def test_a_tuned_compile_takes_the_records_and_still_matches_pytorch(tuned, tmp_path):
    """Each region is placed as its record says, here another rectangle the
    search measured than the one wse-place would take."""
    mode, model, x, database, results = tuned
    data = json.loads(database.read_text())
    records = data["wse"][f"small 32x32 {mode}"]
    chosen = {}
    for result in results:
        entry = records[result.region]
        other = next((p for p in entry["measured"] if (p["rows"], p["cols"]) != (result.default.rows,
                                                                                  result.default.cols)), None)
        if other is not None:
            entry["best"] = other
            chosen[result.region] = (other["rows"], other["cols"])
    assert chosen
    edited = tmp_path / "db.json"
    edited.write_text(json.dumps(data))
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode, tuning=str(edited))
    placed = rects(program)
    for result in results:
        for name in result.names:
            assert placed[name] == chosen.get(result.region, (result.default.rows, result.default.cols))
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)


def test_a_rerun_measures_the_next_candidates(tuned, tmp_path):
    mode, model, x, database, first = tuned
    copy = tmp_path / "db.json"
    copy.write_text(database.read_text())
    again = tune_placement(model, (x,), database=str(copy), machine="small", mode=mode, rounds=2, progress=False)
    records = json.loads(copy.read_text())["wse"][f"small 32x32 {mode}"]
    for before, after in zip(first, again):
        measured = [(p["rows"], p["cols"], p["kind"], p["panel"]) for p in records[after.region]["measured"]]
        assert len(measured) == len(set(measured)) == before.measured_now + after.measured_now


def test_a_record_that_does_not_hold_its_region_is_ignored(tuned, tmp_path):
    mode, model, x, database, results = tuned
    data = json.loads(database.read_text())
    for entry in data["wse"][f"small 32x32 {mode}"].values():
        entry["best"] = {"rows": 64, "cols": 64, "cycles": 1.0}  # larger than the 32x32 fabric
    edited = tmp_path / "db.json"
    edited.write_text(json.dumps(data))
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode, tuning=str(edited))
    assert rects(program) == rects(wafer.compile(model, (x,), target="wse", machine="small", mode=mode))


def _searched_product(tmp_path, rounds: int):
    """A 64x64x64 product on the whole 'small' fabric, its placement searched
    for `rounds` rounds: the model, its input, the database and the result."""
    torch.manual_seed(0)
    model, x = torch.nn.Linear(64, 64, bias=False).eval(), torch.randn(64, 64)
    database = tmp_path / "db.json"
    (result,) = tune_placement(model, (x,), database=str(database), machine="small", mode="whole-wafer",
                               rounds=rounds, progress=False)
    return model, x, database, result


def _records(database) -> dict:
    """The database's records of 'small' in whole-wafer mode, by region."""
    return json.loads(database.read_text())["wse"]["small 32x32 whole-wafer"]


def test_on_a_square_the_search_measures_every_algorithm_and_keeps_the_faster(tmp_path):
    """A 64x64x64 product on the whole 'small' fabric: on each square that k
    splits over, the search measures the region as SUMMA, as Cannon and
    rowwise, and a compile with the database runs it as the fastest record."""
    model, x, database, result = _searched_product(tmp_path, rounds=24)
    measured = _records(database)[result.region]["measured"]
    kinds = {}
    for p in measured:
        kinds.setdefault((p["rows"], p["cols"]), {})[p["kind"]] = p["cycles"]
    assert any(set(both) == {"summa", "cannon", "rowwise"} for both in kinds.values()), kinds
    assert result.best.cycles == min(p["cycles"] for p in measured)
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer", tuning=str(database))
    (row,) = program.estimate().ops
    assert (row.kind, row.region[3], row.region[2]) == (result.best.kind, result.best.rows, result.best.cols)
    assert row.compute_cycles + row.comm_cycles == result.best.cycles
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)


def _summa_panels(program) -> dict[str, int]:
    """Each SUMMA region's panel of k, by name."""
    module = program.executable.module
    with module.context:
        return {str_attr(region, "sym_name"): int_attr(region, PANEL_ATTR)
                for region in regions_of(module.operation) if str_attr(region, "kind") == "summa"}


def test_the_search_measures_a_summas_panels_and_a_compile_takes_the_fastest(tmp_path):
    """The tile of k a SUMMA steps by is searched with its rectangle: on the
    first SUMMA rectangle every panel that fits is measured, and a compile
    with the database steps by the recorded one, at the recorded cycles."""
    model, x, database, result = _searched_product(tmp_path, rounds=16)
    measured = _records(database)[result.region]["measured"]
    panels = {}
    for p in measured:
        if p["kind"] == "summa":
            panels.setdefault((p["rows"], p["cols"]), {})[p["panel"]] = p["cycles"]
    (rows, cols), times = max(panels.items(), key=lambda item: len(item[1]))
    assert len(times) >= 3, panels
    modelled, slowest = next(iter(times)), max(times, key=times.get)  # the first measured is the model's
    assert slowest != modelled
    data = json.loads(database.read_text())
    data["wse"]["small 32x32 whole-wafer"][result.region]["best"] = {
        "rows": rows, "cols": cols, "cycles": times[slowest], "kind": "summa", "panel": slowest}
    database.write_text(json.dumps(data))
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer", tuning=str(database))
    assert list(_summa_panels(program).values()) == [slowest]
    (row,) = program.estimate().ops
    assert row.compute_cycles + row.comm_cycles == times[slowest]
    torch.testing.assert_close(program(x), model(x).detach(), rtol=1e-4, atol=1e-5)


def test_a_record_of_a_panel_that_does_not_fit_falls_back_to_the_model(tmp_path):
    """A hand-edited record asks for a panel of k the rectangle cannot step
    by: wse-place steps by the panel its model finds fastest there."""
    model, x, database, result = _searched_product(tmp_path, rounds=1)

    def placed_with(panel: int) -> dict[str, int]:
        data = json.loads(database.read_text())
        data["wse"]["small 32x32 whole-wafer"][result.region]["best"] = {
            "rows": 16, "cols": 16, "cycles": 1.0, "kind": "summa", "panel": panel}
        database.write_text(json.dumps(data))
        return _summa_panels(wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer",
                                           tuning=str(database)))

    modelled = placed_with(0)
    assert len(modelled) == 1 and 3 not in modelled.values()
    assert placed_with(3) == modelled


def test_a_record_of_cannon_where_it_does_not_apply_falls_back_to_the_model(tmp_path):
    """A hand-edited record asks for Cannon on a rectangle that is not square:
    wse-place runs the region there as the model finds fastest of what
    applies (SUMMA's steps or, as here, each PE its outputs over all of k)."""
    model, x, database, result = _searched_product(tmp_path, rounds=1)
    data = json.loads(database.read_text())
    data["wse"]["small 32x32 whole-wafer"][result.region]["best"] = {"rows": 8, "cols": 16, "cycles": 1.0,
                                                                     "kind": "cannon"}
    database.write_text(json.dumps(data))
    program = wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer", tuning=str(database))
    (row,) = program.estimate().ops
    assert (row.kind, row.region[3], row.region[2]) == ("rowwise", 8, 16)


def test_identical_layers_share_one_record(tmp_path):
    """Four Linear+ReLU layers of one width: the first reads the model's input
    and the other three, identical but for their weights, share a record."""
    model = torch.nn.Sequential(*[m for _ in range(4) for m in (torch.nn.Linear(16, 16), torch.nn.ReLU())])
    x = torch.randn(4, 16)
    results = tune_placement(model, (x,), database=str(tmp_path / "db.json"), machine="small", rounds=2,
                             progress=False)
    assert [r.names for r in results] == [("summa0",), ("summa1", "summa2", "summa3")]


@pytest.mark.parametrize("name", ["gpt", "bert"])
def test_records_hold_beside_the_other_regions_bests(name, tmp_path):
    """A round measures a candidate of every region at once, and a region's
    streams cross the rectangles of the regions it reads: here a candidate
    faster beside the others' candidates was slower beside their bests, which
    a compile takes, and the tuned model 2 cycles slower than the untuned. The
    search measures the bests together before it ends: each region of a tuned
    compile takes its record's cycles (the mean of the layers sharing it), and
    the model is no slower."""
    model, x = build(name)
    database = str(tmp_path / "db.json")
    results = tune_placement(model, (x,), database=database, machine="small", mode="whole-wafer", rounds=6,
                             progress=False)
    untuned = wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer").estimate()
    tuned = wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer", tuning=database).estimate()
    assert tuned.cycles <= untuned.cycles
    cycles = {op.name: op.compute_cycles + op.comm_cycles for op in tuned.ops}
    for result in results:
        assert sum(cycles[n] for n in result.names) / len(result.names) == pytest.approx(result.best.cycles)


def test_a_budget_spent_before_the_first_round_records_nothing(tmp_path):
    """No round, so no best to measure together: the search ends with no records."""
    model, x = build("mlp")
    results = tune_placement(model, (x,), budget_s=0, database=str(tmp_path / "db.json"), machine="small",
                             mode="whole-wafer", progress=False)
    assert results and all(r.best is None and r.measured_now == 0 for r in results)


@pytest.mark.parametrize("record", [{"rows": 1}, {"rows": 4, "cols": 4, "cycles": 1.0, "panel": "8"}])
def test_a_malformed_record_is_a_clear_error(tmp_path, record):
    database = tmp_path / "db.json"
    database.write_text(json.dumps({"version": 1, "cpus": {}, "wse": {"small 32x32 whole-wafer": {
        "summa 0": {"default": record, "best": record, "measured": []}}}}))
    model, x = build("mlp")
    with pytest.raises(WaferError, match=f"malformed tuning database '{database}'"):
        wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer", tuning=str(database))


def test_wafer_tune_for_the_wse_prints_each_region_and_writes_the_database(tmp_path, capsys):
    database = tmp_path / "db.json"
    assert main(["tune", "mlp", "--target", "wse", "--machine", "small", "--db", str(database),
                 "--budget", "30"]) == 0
    out = capsys.readouterr().out
    assert "placed" in out and "searched" in out and f"tuning='{database}'" in out
    assert "small 32x32 whole-wafer" in json.loads(database.read_text())["wse"]
    assert main(["run", "mlp", "--target", "wse", "--machine", "small", "--mode", "whole-wafer",
                 "--tuning", str(database)]) == 0


def test_wafer_tune_refuses_wse_flags_for_the_cpu(capsys):
    assert main(["tune", "mlp", "--machine", "wse2"]) != 0
    assert "error: --machine applies to --target wse, not cpu" in capsys.readouterr().err


def test_a_rectangle_that_overflows_when_distributed_is_recorded_unfit(tmp_path, monkeypatch):
    """Placement's count of a PE's bytes runs a little short of wse-distribute's:
    a round with a rectangle that overflows is halved until that one is alone."""
    from wafer.tuning import placement

    model, x = build("resnet")
    trial = placement._Regions._trial
    seen = {}  # the first region's shapes, in the order its rounds reach them

    def overflowing(regions, chosen, stages):
        key = regions.keys[0]
        shapes = seen.setdefault(key, [])
        if key in chosen and chosen[key] not in shapes:
            shapes.append(chosen[key])
        if len(shapes) > 1 and chosen.get(key) == shapes[1]:  # its second candidate overflows
            raise WaferError("error: buffer 'out0' takes region 'summa0' over SRAM")
        return trial(regions, chosen, stages)

    monkeypatch.setattr(placement._Regions, "_trial", overflowing)
    database = tmp_path / "db.json"
    results = tune_placement(model, (x,), database=str(database), machine="small", mode="whole-wafer", rounds=3,
                             progress=False)
    records = _records(database)
    (key,) = seen
    rows, cols, kind, panel = seen[key][1]
    assert records[key]["unfit"] == [{"rows": rows, "cols": cols, "kind": kind, "panel": panel}]
    assert all(len(records[r.region]["measured"]) == 3 for r in results if r.region != key)
    assert len(records[key]["measured"]) == 2
