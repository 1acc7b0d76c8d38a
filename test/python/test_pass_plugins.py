"""User passes (wafer/plugins.py): plugin files, entry points, `wafer.register_pass`,
and the cpu pipeline's after-<stage> options that run them."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import wafer
from wafer import plugins
from wafer.pass_pipeline import parse_options
from wafer.passes import registry
from wafer.pipelines.cpu import CpuPipeline
from wafer.tools import wafer_opt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_pass.py"

DOUBLE = """\
func.func @double(%x: f32) -> f32 {
  %two = arith.constant 2.0 : f32
  %y = arith.mulf %x, %two : f32
  return %y : f32
}
"""

# A plugin with one pass, named by the test: `mulf` -> `addf`, whatever the constant.
PLUGIN = '''\
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith

from wafer.passes.pass_base import WaferPass, find_ops


@dataclass(frozen=True)
class MulToAdd(WaferPass):
    """Every arith.mulf becomes an arith.addf of the same operands."""

    name = "{name}"
    summary = "arith.mulf -> arith.addf"

    def apply(self, module):
        for op in find_ops(module, lambda op: op.name == "arith.mulf"):
            with ir.InsertionPoint(op), op.location:
                op.result.replace_all_uses_with(arith.addf(*op.operands))
            op.erase()
'''


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch):
    """Each test registers into empty tables, so no user pass outlives its test."""
    monkeypatch.setattr(registry, "_REGISTERED", {})
    monkeypatch.setattr(plugins, "_LOADED_FILES", {})


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def run_wafer_opt(capsys, *arguments) -> tuple[int, str, str]:
    code = wafer_opt.main([str(a) for a in arguments])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, pattern: str) -> None:
    assert code == 1
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert re.fullmatch(pattern, err.strip()), err


# ---------------------------------------------------------------------------
# Plugin files.


def test_plugin_pass_runs_from_the_command_line(tmp_path, capsys):
    source = write(tmp_path, "double.mlir", DOUBLE)
    code, out, err = run_wafer_opt(capsys, source, "--load-pass-plugin", EXAMPLE, "-p", "double-to-add")
    assert code == 0, err
    assert "arith.addf %arg0, %arg0 : f32" in out and "arith.mulf" not in out


def test_every_named_pass_of_a_plugin_is_registered_and_listed(tmp_path, capsys):
    plugin = write(tmp_path, "two.py", PLUGIN.format(name="mul-to-add") + textwrap.dedent('''
        class Base(WaferPass):
            """No name: a base class, not a pass."""


        @dataclass(frozen=True)
        class Nothing(Base):
            """Does nothing."""

            name = "do-nothing"
            summary = "Leaves the module as it is"

            def apply(self, module):
                pass
    '''))
    assert sorted(plugins.load_pass_plugin(plugin)) == ["do-nothing", "mul-to-add"]
    assert registry.is_wafer_pass("do-nothing") and "mul-to-add" in registry.pass_names()
    assert plugins.load_pass_plugin(plugin) == plugins.load_pass_plugin(plugin)  # loaded once
    code, out, _ = run_wafer_opt(capsys, "--load-pass-plugin", plugin, "--list-passes")
    assert code == 0 and re.search(r"^  do-nothing +Leaves the module as it is$", out, re.MULTILINE)


@pytest.mark.parametrize("name, clash", [
    ("wafer-fuse", "has the name of a built-in Wafer pass"),
    ("canonicalize", "has the name of an upstream MLIR pass"),
])
def test_a_name_that_is_taken_is_an_error(tmp_path, capsys, name, clash):
    plugin = write(tmp_path, "clash.py", PLUGIN.format(name=name))
    code, _, err = run_wafer_opt(capsys, "--load-pass-plugin", plugin, "--list-passes")
    assert_one_line_error(code, err, rf"error: pass '{name}' from plugin '.*clash\.py' {clash}")


def test_two_plugins_cannot_define_one_name(tmp_path, capsys):
    first = write(tmp_path, "first.py", PLUGIN.format(name="mine"))
    second = write(tmp_path, "second.py", PLUGIN.format(name="mine"))
    code, _, err = run_wafer_opt(capsys, "--load-pass-plugin", first, "--load-pass-plugin", second, "--list-passes")
    assert_one_line_error(code, err, r"error: pass 'mine' from plugin '.*second\.py' has the name of "
                                     r"the pass from plugin '.*first\.py'")


@pytest.mark.parametrize("text, pattern", [
    (None, r"error: cannot read pass plugin '.*broken\.py': No such file or directory"),
    ("import os\n\ndef broken(:\n    pass\n", r".*broken\.py:3:12: error: invalid syntax.* \(in pass plugin\)"),
    ("import os\n\nx = 1 / 0\n", r".*broken\.py:3: error: pass plugin raised ZeroDivisionError: division by zero"),
    ("import no_such_module_here\n", r".*broken\.py:1: error: pass plugin raised ModuleNotFoundError: "
                                     r"No module named 'no_such_module_here'"),
    ("from wafer.passes.fuse import Fuse\n", r"error: pass plugin '.*broken\.py' defines no pass "
                                             r"\(a WaferPass subclass with a `name`\)"),
    (PLUGIN.format(name="plain").replace("@dataclass(frozen=True)\n", ""),
     r"error: class MulToAdd from plugin '.*broken\.py' is not a dataclass: decorate it with @dataclass\(frozen=True\)"),
    (PLUGIN.format(name="plain").replace('    summary = "arith.mulf -> arith.addf"\n', ""),
     r"error: class MulToAdd from plugin '.*broken\.py' has no `summary`"),
], ids=["missing", "syntax", "raises", "import", "no-pass", "no-dataclass", "no-summary"])
def test_a_broken_plugin_is_a_one_line_error_naming_the_file(tmp_path, capsys, text, pattern):
    plugin = tmp_path / "broken.py"
    if text is not None:
        plugin.write_text(text)
    code, _, err = run_wafer_opt(capsys, "--load-pass-plugin", plugin, "--list-passes")
    assert_one_line_error(code, err, pattern)


def test_the_same_errors_from_the_command_line_exit_1_without_a_traceback(tmp_path):
    plugin = write(tmp_path, "broken.py", "def broken(:\n")
    run = subprocess.run([sys.executable, "-m", "wafer.tools.wafer_opt", "--load-pass-plugin", plugin, "-"],
                         input=DOUBLE, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert_one_line_error(run.returncode, run.stderr, r".*broken\.py:1:12: error: .* \(in pass plugin\)")


# ---------------------------------------------------------------------------
# From Python.


def test_register_pass_makes_a_class_usable_by_name():
    namespace = {}
    exec(PLUGIN.format(name="python-mul-to-add"), namespace)
    pass_class = namespace["MulToAdd"]
    assert wafer.register_pass(pass_class) is pass_class
    wafer.register_pass(pass_class)  # again: the same class, no clash
    assert registry.get_pass("python-mul-to-add") is pass_class


@pytest.mark.parametrize("value, problem", [
    (int, "is not a WaferPass subclass"),
    (registry.get_pass("wafer-fuse"), "has the name of a built-in Wafer pass"),
])
def test_register_pass_rejects_what_is_not_a_new_pass(value, problem):
    with pytest.raises(wafer.WaferError, match=problem):
        wafer.register_pass(value)


# ---------------------------------------------------------------------------
# Entry points of installed packages.


def make_distribution(site: Path, entry_points: str) -> None:
    """A package installed in `site`: a module of passes and a dist-info naming them."""
    (site / "my_wafer_passes.py").write_text(PLUGIN.format(name="ep-class-pass") + textwrap.dedent('''
        @dataclass(frozen=True)
        class Nothing(WaferPass):
            """Does nothing."""

            name = "ep-module-pass"
            summary = "Leaves the module as it is"

            def apply(self, module):
                pass
    '''))
    dist_info = site / "my_wafer_passes-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-wafer-passes\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[wafer.passes]\n" + entry_points)


def run_with_site(site: Path, script: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=120, env=env)


def test_entry_points_are_loaded_when_a_pipeline_names_their_pass(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "ep-class-pass = my_wafer_passes:MulToAdd\nep-module-pass = my_wafer_passes\n")
    source = write(tmp_path, "double.mlir", DOUBLE)
    run = run_with_site(site, f"""
        import sys
        from wafer.tools import wafer_opt
        assert wafer_opt.main([{source!r}, "-p", "canonicalize"]) == 0
        assert "my_wafer_passes" not in sys.modules, "an upstream pipeline imported a plugin"
        assert "importlib.metadata" not in sys.modules, "an upstream pipeline read the entry points"
        assert wafer_opt.main([{source!r}, "-p", "ep-module-pass,ep-class-pass"]) == 0
    """)
    assert run.returncode == 0, run.stderr
    (_, transformed) = run.stdout.split("module {", 2)[1:]
    assert "arith.addf %arg0, %cst" in transformed and "arith.mulf" not in transformed


@pytest.mark.parametrize("entry_points, pattern", [
    ("broken-pass = no_such_module:Pass\n",
     r"error: cannot load entry point 'broken-pass = no_such_module:Pass': ModuleNotFoundError: .*"),
    ("misnamed-pass = my_wafer_passes:MulToAdd\n",
     r"error: entry point 'misnamed-pass = my_wafer_passes:MulToAdd' defines no pass named 'misnamed-pass'"),
    ("wafer-fuse = my_wafer_passes\n", None),  # a built-in name: Wafer's own pass, never the entry point
])
def test_a_broken_entry_point_is_a_one_line_error(tmp_path, entry_points, pattern):
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, entry_points)
    name = entry_points.split(" = ")[0]
    run = subprocess.run([sys.executable, "-m", "wafer.tools.wafer_opt", "-", "-p", name], input=DOUBLE,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(site)})
    if pattern is None:
        assert run.returncode == 0, run.stderr
    else:
        assert_one_line_error(run.returncode, run.stderr, pattern)


# ---------------------------------------------------------------------------
# A user pass at a stage of the cpu pipeline.


class Doubling(torch.nn.Module):
    def forward(self, x):
        return torch.tanh(x * 2.0) + 1.0


def test_after_stage_option_text_appends_the_passes_to_that_stage():
    plugins.load_pass_plugin(str(EXAMPLE))
    pipeline = CpuPipeline.from_options(parse_options("after-fuse=double-to-add,func.func(cse) threads=1"))
    stages = dict(pipeline.stages())
    assert stages["fuse"].endswith("},func.func(canonicalize,cse),double-to-add,func.func(cse)")
    assert stages == {**dict(CpuPipeline(threads=1).stages()), "fuse": stages["fuse"]}


def test_after_fuse_runs_the_pass_and_numerics_match_torch(tmp_path):
    plugins.load_pass_plugin(str(EXAMPLE))
    x = torch.randn(4, 8)
    compiled = wafer.compile(Doubling(), (x,), threads=1, after_fuse="double-to-add", dump_ir=str(tmp_path))
    packed, fused = (tmp_path / "03-pack.mlir").read_text(), (tmp_path / "04-fuse.mlir").read_text()
    assert "arith.mulf" in packed
    assert "arith.mulf" not in fused and re.search(r"arith\.addf (%\w+), \1 : f32", fused)
    torch.testing.assert_close(compiled(x), Doubling()(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("options, message", [
    ({"after_fuse": "no-such-pass"},
     r"error: option cpu\{after-fuse\}: in pass pipeline at 'no-such-pass': .*'no-such-pass' does not refer "
     r"to a registered pass"),
    ({"after_simplify": "wafer-fuse{no-such-option=1}"},
     r"error: option cpu\{after-simplify\}: pass 'wafer-fuse' has no option 'no-such-option'"),
    ({"after_vectorize": "cse", "vectorize": False},
     r"error: option cpu\{after-vectorize\}: the vectorize stage is off \(vectorize=false\)"),
])
def test_after_stage_option_names_what_is_wrong_before_anything_runs(options, message):
    with pytest.raises(wafer.WaferError, match=message):
        wafer.compile_mlir(DOUBLE, **options)


def test_after_stage_option_error_from_the_command_line(tmp_path, capsys):
    source = write(tmp_path, "double.mlir", DOUBLE)
    code, _, err = run_wafer_opt(capsys, source, "--pipeline", "cpu{after-lower=no-such-pass}")
    assert_one_line_error(code, err, r"error: option cpu\{after-lower\}: in pass pipeline at 'no-such-pass': .*")
