"""The pass registry, read by wafer-opt, the pipelines and the tests alike."""

import contextlib
import dataclasses
import io
import subprocess
import sys

import pytest

from wafer.passes import registry
from wafer.passes.pass_base import WaferPass
from wafer.pipelines import get_pipeline, pipeline_names
from wafer.tools import wafer_opt


def list_passes() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert wafer_opt.main(["--list-passes"]) == 0
    return out.getvalue()


@pytest.mark.parametrize("name", registry.pass_names())
def test_every_pass_loads_under_its_own_name(name):
    assert registry.is_wafer_pass(name)
    pass_class = registry.get_pass(name)
    assert issubclass(pass_class, WaferPass) and dataclasses.is_dataclass(pass_class)
    assert pass_class.name == name
    assert pass_class.summary and pass_class.__doc__
    assert pass_class.from_options({}) == pass_class()  # every option has a default


@pytest.mark.parametrize("name", registry.pass_names())
def test_list_passes_shows_every_pass_with_summary_and_options(name):
    pass_class = registry.get_pass(name)
    lines = list_passes().splitlines()
    (row,) = [i for i, line in enumerate(lines) if line.split()[:1] == [name]]
    assert lines[row].split(None, 1)[1] == pass_class.summary
    options = pass_class.option_help()
    assert [line.strip() for line in lines[row + 1 : row + 1 + len(options)]] == options
    for option in options:  # "name: type = default"
        key, _, rest = option.partition(": ")
        assert key and " = " in rest


@pytest.mark.parametrize("name", pipeline_names())
def test_list_passes_shows_every_named_pipeline(name):
    text = list_passes()
    assert "Named pipelines" in text
    pipeline_class = get_pipeline(name)
    assert f"  {name} " in text and pipeline_class.summary in text
    for option in pipeline_class.option_help():
        assert option in text


def test_unknown_names():
    assert not registry.is_wafer_pass("canonicalize")
    with pytest.raises(KeyError):
        get_pipeline("no-such-pipeline")


def test_registry_and_driver_import_neither_passes_nor_torch_up_front():
    script = (
        "import sys\n"
        "import wafer.passes.registry, wafer.tools.wafer_opt\n"
        "passes = {'wafer.passes.' + entry.split(':')[0] for entry in wafer.passes.registry._PASSES.values()}\n"
        "loaded = sorted(passes & set(sys.modules))\n"
        "assert not loaded, loaded\n"
        "assert 'torch' not in sys.modules\n"
        "wafer.tools.wafer_opt.main(['--list-passes'])\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
