"""`dump_ir` / `--dump-ir` (the module after each stage) and `profile=True` /
`--profile` (each kernel's time, named after where in the model it came from)."""

import json
import statistics
from pathlib import Path

import pytest
import torch
from torch import nn
from torch_mlir import ir

import wafer
from wafer import atomic_file
from wafer.context import make_context
from wafer.examples.models import matmul_mlir
from wafer.ir_dump import IrDump
from wafer.pipelines.cpu import CpuPipeline
from wafer.pipelines.wse import WsePipeline
from wafer.tools import wafer_cli

REPEAT = 5
HERE = Path(__file__)


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 16 * 16, 32)  # 1 MB of weights

    def forward(self, x):
        y = torch.max_pool2d(torch.relu(self.conv(x)), 2)  # the conv line
        return self.fc(y.flatten(1))  # the fc line


def line_of(marker: str) -> int:
    (line,) = [i for i, text in enumerate(HERE.read_text().splitlines(), 1) if text.endswith(f"# {marker}")]
    return line


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """SmallCnn compiled with kernel timers and an IR dump, its input, and the dump's folder."""
    torch.manual_seed(0)
    model, x = SmallCnn().eval(), torch.randn(1, 16, 32, 32)
    folder = tmp_path_factory.mktemp("ir") / "dump"  # made by the dump
    result = wafer.compile(model, (x,), threads=1, profile=True, dump_ir=str(folder))
    torch.testing.assert_close(result(x), model(x), rtol=1e-4, atol=1e-5)
    return result, x, folder


def test_dump_has_one_file_per_stage_in_order_that_parses_back(compiled):
    _, _, folder = compiled
    stages = ["import"] + [name for name, _ in CpuPipeline(threads=1, profile=True).stages()]
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:02d}-{name}.mlir" for i, name in enumerate(stages)]
    for path in folder.iterdir():
        ir.Module.parse(path.read_text(), make_context())
    assert "linalg.conv_2d_nchw_fchw" in (folder / "00-import.mlir").read_text()
    assert "llvm.func @forward" in (folder / f"{len(stages) - 1:02d}-lower.mlir").read_text()
    assert "wafer_kernel_begin" in (folder / f"{len(stages) - 1:02d}-lower.mlir").read_text()


def test_dump_elides_weights(compiled):
    _, _, folder = compiled
    # The fc weights alone are 1 MB (2 MB of hex in full).
    assert max(path.stat().st_size for path in folder.iterdir() if "lower" not in path.name) < 200_000


def test_dump_of_the_wse_target(tmp_path):
    wafer.compile_mlir(matmul_mlir(8, 16, 8), target="wse", dump_ir=str(tmp_path))
    stages = ["import"] + [name for name, _ in WsePipeline().stages()]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i:02d}-{name}.mlir" for i, name in enumerate(stages)]
    assert "wse." in (tmp_path / f"{len(stages) - 1:02d}-route.mlir").read_text()


def test_interrupted_write_leaves_the_old_file_or_none(tmp_path, monkeypatch):
    module = ir.Module.parse(matmul_mlir(4, 4, 4), make_context())
    old = tmp_path / "00-import.mlir"
    old.write_text("old")

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_file.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        IrDump(tmp_path).write("import", module)
    with pytest.raises(KeyboardInterrupt):
        atomic_file.write_atomically(tmp_path / "new.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["00-import.mlir"] and old.read_text() == "old"


def test_profile_names_kernels_after_the_model_lines(compiled):
    model, x, _ = compiled
    profile = model.executable.profile("forward", x, repeat=REPEAT)
    assert f"conv at {HERE.name}:{line_of('the conv line')} in layer 'conv'" in profile.kernels
    assert any(f"{HERE.name}:{line_of('the fc line')} in layer 'fc'" in name for name in profile.kernels)
    table = profile.table()
    for name in profile.kernels:
        assert name in table
    assert "@forward" in table.splitlines()[-1]


def test_profile_times_nest_in_the_calls_and_sum_to_most_of_them(compiled):
    model, x, _ = compiled
    profile = model.executable.profile("forward", x, repeat=REPEAT)
    assert len(profile.calls) == REPEAT
    assert [runs for runs, _ in profile.totals()] == [REPEAT] * len(profile.kernels)
    for _, start, end in profile.runs:
        assert any(call_start <= start <= end <= call_end for call_start, call_end in profile.calls)
    assert sum(ns for _, ns in profile.totals()) <= profile.call_ns
    # The convolution dominates; the rest of a call is Python and about 2 us of timers per kernel.
    # Per call, and in the median one: a shared machine may stall any one call.
    shares = sorted(sum(end - start for _, start, end in profile.runs if call_start <= start <= call_end)
                    / (call_end - call_start) for call_start, call_end in profile.calls)
    assert 0.5 < statistics.median(shares) and shares[-1] <= 1


def test_trace_has_a_slice_per_call_and_kernel_run(compiled, tmp_path):
    model, x, _ = compiled
    profile = model.executable.profile("forward", x, repeat=REPEAT)
    profile.save_trace(tmp_path / "trace.json")
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert len(slices) == len(profile.calls) + len(profile.runs)
    assert {e["name"] for e in slices} == {"@forward", *profile.kernels}
    assert all(e["ts"] >= 0 and e["dur"] >= 0 for e in slices)


def test_profile_without_timers_is_an_error():
    exe = wafer.compile_mlir(matmul_mlir(4, 4, 4), threads=1)
    with pytest.raises(wafer.WaferError, match="compile it with profile=True"):
        exe.profile("gemm", *[torch.ones(4, 4).numpy()] * 2)


MODEL_FILE = """
import torch
from torch import nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 32)

    def forward(self, x):
        return torch.relu(self.fc(x))

def make_model():
    return Model()

def example_inputs():
    return torch.randn(2, 32)
"""


def test_wafer_run_profile_trace_and_dump(tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text(MODEL_FILE)
    trace, dump = tmp_path / "trace.json", tmp_path / "ir"
    assert wafer_cli.main(["run", str(model), "--threads", "1", "--repeat", "2", "--profile",
                           "--trace", str(trace), "--dump-ir", str(dump)]) == 0
    out = capsys.readouterr().out
    assert "kernels, over 2 calls" in out and "linear at model.py:11" in out
    assert any(e["ph"] == "X" for e in json.loads(trace.read_text())["traceEvents"])
    assert (dump / "00-import.mlir").exists() and (dump / "01-verify.mlir").exists()


def test_wafer_run_profile_is_for_the_cpu_target(capsys):
    assert wafer_cli.main(["run", "mlp", "--target", "wse", "--profile"]) == 1
    assert capsys.readouterr().err.strip() == "error: --profile applies to --target cpu, not wse"
