"""`wafer run --target wse`: numerics, the report, its files, and clean errors for bad flags."""

import json

import pytest

from wafer.tools.wafer_cli import main
from wafer.wse_target.machine import SMALL

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def op_rows(stdout: str) -> list[str]:
    """Names of the op rows of the report table (the lines after its dashed rule)."""
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    rows = []
    for line in lines[rule + 1:]:
        if not line or line.startswith("wrote "):
            break
        rows.append(line.split()[0])
    return rows


def test_mlp_on_wse_checks_numerics_prints_the_report_and_writes_its_files(tmp_path, capsys):
    from matplotlib.image import imread

    heatmap, trace = tmp_path / "heat.png", tmp_path / "trace.json"
    code = main(["run", "mlp", "--target", "wse", "--heatmap", str(heatmap), "--trace", str(trace)])
    out = capsys.readouterr().out
    assert code == 0
    assert "target: wse (small, pipelined)" in out
    assert "max |wafer - torch|" in out and ": OK" in out
    assert f"{SMALL.name}: {SMALL.width}x{SMALL.height} PEs" in out
    assert "inferences/s, a call in every stage" in out  # pipelined mode reports its steady-state rate
    ops = op_rows(out)
    assert ops, "the report lists no ops"

    assert heatmap.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = imread(heatmap).shape
    assert width > height > 0
    events = json.loads(trace.read_text())["traceEvents"]
    tracks = [e["args"]["name"].split()[0] for e in events if e["name"] == "thread_name"]
    assert tracks == ops
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")
    assert f"wrote {heatmap}" in out and f"wrote {trace}" in out


def test_whole_wafer_mode_has_no_pipeline_rate(capsys):
    assert main(["run", "mlp", "--target", "wse", "--mode", "whole-wafer"]) == 0
    out = capsys.readouterr().out
    assert "target: wse (small, whole-wafer)" in out and ": OK" in out
    assert "inferences/s, one call at a time" in out and "every stage" not in out


def test_a_model_files_call_unit_names_the_rates(tmp_path, capsys):
    """A decode step's file says a call computes a token: the latency is per
    token and the rates are tokens/s."""
    path = tmp_path / "step.py"
    path.write_text("import torch\nCALL_UNIT = 'token'\n"
                    "def make_model():\n    return torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 8))\n"
                    "def example_inputs():\n    return torch.randn(1, 8)\n")
    assert main(["run", str(path), "--target", "wse"]) == 0
    out = capsys.readouterr().out
    assert "us per token" in out and "tokens/s, one call at a time" in out and "tokens/s, a call in every stage" in out


@pytest.mark.parametrize("args,flag", [
    (["--target", "wse", "--tile-sizes", "8,64"], "--tile-sizes"),
    (["--target", "wse", "--repeat", "3"], "--repeat"),
    (["--machine", "wse2"], "--machine"),
    (["--mode", "whole-wafer"], "--mode"),
    (["--heatmap", "heat.png"], "--heatmap"),
    (["--target", "wse", "--profile"], "--profile"),
])
def test_an_option_of_the_other_target_is_a_one_line_error(args, flag, capsys):
    assert main(["run", "mlp", *args]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: {flag} applies to")
    assert captured.out == ""  # rejected before compiling anything


def test_an_output_in_a_missing_directory_is_rejected_before_compiling(tmp_path, capsys):
    path = tmp_path / "missing" / "trace.json"
    assert main(["run", "mlp", "--target", "wse", "--trace", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"error: cannot write --trace '{path}': no such directory '{path.parent}'\n"
    assert captured.out == ""


@pytest.mark.parametrize("args,argument", [
    (["--target", "tpu"], "--target"),
    (["--target", "wse", "--machine", "wse9"], "--machine"),
    (["--target", "wse", "--mode", "sideways"], "--mode"),
    (["--tile-sizes", "8,x"], "--tile-sizes"),
    (["--tile-sizes", "8,0"], "--tile-sizes"),
    (["--batch", "0"], "--batch"),
    (["--repeat", "-2"], "--repeat"),
])
def test_a_bad_value_is_a_usage_error(args, argument, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "mlp", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"wafer run: error: argument {argument}" in err and "Traceback" not in err
