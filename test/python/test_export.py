"""Ahead-of-time export: the library, header, weights and runner that `wafer export`
writes run without Python and agree with PyTorch; `wafer verify` says when they do not."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import wafer
from wafer.aot import export_module
from wafer.compiler import parse_module
from wafer.context import make_context
from wafer.examples.models import EXAMPLES
from wafer.exported import ExportedExecutable
from wafer.tools.wafer_cli import main


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """LeNet exported through the Python API, its model and example input."""
    model, inputs = EXAMPLES["lenet"].build(1)
    artifact = wafer.export(model, inputs, tmp_path_factory.mktemp("lenet"))
    return artifact, model, inputs


@pytest.fixture(scope="module")
def mlp_dir(tmp_path_factory):
    """The MLP exported through the command line."""
    out = tmp_path_factory.mktemp("mlp")
    assert main(["export", "mlp", "-o", str(out)]) == 0
    return out


def _reference(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def test_the_runner_reads_and_writes_npy_files_as_pytorch_computes(lenet, tmp_path):
    artifact, model, inputs = lenet
    assert {p.name for p in artifact.directory.iterdir()} == {"libmodel.so", "model.h", "weights.bin", "model_main"}
    assert "int forward(const float *in0, float *out0);" in artifact.header.read_text()
    assert "in0   float32 (1, 1, 28, 28)" in artifact.header.read_text()
    x = np.random.default_rng(1).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    done = subprocess.run([artifact.executable, tmp_path / "x.npy", tmp_path / "y.npy"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), _reference(model, x), rtol=1e-4, atol=1e-5)


def test_the_runner_refuses_an_input_of_another_shape(lenet, tmp_path):
    artifact, _, _ = lenet
    np.save(tmp_path / "x.npy", np.zeros((1, 784), np.float32))
    done = subprocess.run([artifact.executable, tmp_path / "x.npy", tmp_path / "y.npy"], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == (f"model_main: error: '{tmp_path / 'x.npy'}' must hold <f4 of shape (1, 1, 28, 28) "
                           "in C order, as in0\n")


def test_the_library_runs_in_process_without_mlir(lenet, tmp_path):
    # In a child that imports neither wafer nor MLIR: the library needs only itself and weights.bin.
    artifact, model, _ = lenet
    x = np.random.default_rng(2).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import ctypes, sys
        import numpy as np
        lib = ctypes.CDLL({str(artifact.library)!r})
        lib.model_last_error.restype = ctypes.c_char_p
        x, y = np.load({str(tmp_path / 'x.npy')!r}), np.zeros((1, 10), np.float32)
        print(lib.forward(x.ctypes.data_as(ctypes.c_void_p), y.ctypes.data_as(ctypes.c_void_p)))
        np.save({str(tmp_path / 'y.npy')!r}, y)
        print(lib.model_init(b"/nonexistent/weights.bin"), lib.model_last_error().decode())
        print(sorted(m for m in sys.modules if m.startswith(("torch", "wafer"))))
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "0",
        "2 error: cannot read weights '/nonexistent/weights.bin': No such file or directory",
        "[]",
    ]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), _reference(model, x), rtol=1e-4, atol=1e-5)


def test_the_exported_executable_checks_its_arguments_like_the_jit(lenet):
    artifact, model, inputs = lenet
    exported = ExportedExecutable(artifact.directory)
    x = inputs[0].numpy()
    np.testing.assert_allclose(exported.forward(x), _reference(model, x), rtol=1e-4, atol=1e-5)
    with pytest.raises(wafer.WaferError, match=r"^error: argument 0 of @forward must be 1x1x28x28xfloat32, got "
                       r"shape 1x784 \(the model exported to .*\)$"):
        exported.forward(np.zeros((1, 784), np.float32))


def test_verify_passes_an_export_and_fails_on_corrupt_weights(lenet, mlp_dir, tmp_path, capsys):
    assert main(["verify", str(mlp_dir), "mlp"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(": OK")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(lenet[0].directory, corrupt)
    weights = bytearray((corrupt / "weights.bin").read_bytes())
    # The largest array's data (its table row: offset, bytes): the last bytes
    # may be a packed panel's zero padding, which the result never reads.
    count = int(np.frombuffer(weights, "<u8", 1, offset=8)[0])
    offset, size = max(np.frombuffer(weights, "<u8", 2 * count, offset=16).reshape(count, 2).tolist(),
                       key=lambda row: row[1])
    weights[offset:offset + size] = bytes(size)
    (corrupt / "weights.bin").write_bytes(weights)
    assert main(["verify", str(corrupt), "lenet"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].endswith(": MISMATCH")


def test_verify_names_what_does_not_fit(lenet, mlp_dir, tmp_path, capsys):
    (tmp_path / "weights.bin").write_bytes((mlp_dir / "weights.bin").read_bytes())
    shutil.copy(lenet[0].library, tmp_path)
    shutil.copy(lenet[0].executable, tmp_path)
    cases = [
        ([str(mlp_dir), "lenet"], "error: argument 0 of @forward must be 1x784xfloat32, got shape 1x1x28x28 "
                                  f"(the model exported to {mlp_dir})"),
        ([str(tmp_path / "none"), "mlp"], f"error: no exported model in '{tmp_path / 'none'}' (no libmodel.so): "
                                          "run `wafer export` first"),
        ([str(tmp_path), "lenet"], f"error: '{tmp_path / 'weights.bin'}' holds 3 arrays, the model reads 4: it "
                                   f"belongs to another export (running {tmp_path / 'model_main'})"),
    ]
    for args, message in cases:
        assert main(["verify", *args]) == 1
        assert capsys.readouterr().err == message + "\n"


def test_a_missing_c_compiler_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    assert main(["export", "mlp", "-o", str(tmp_path)]) == 1
    assert capsys.readouterr().err == ("error: no C compiler '/nonexistent/cc' to link the exported model: "
                                       "install one (e.g. gcc) or point CC at one\n")
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(shutil.which("ld.lld") is not None, reason="needs a linker that is missing")
def test_a_missing_linker_is_one_line_and_leaves_the_folder_as_it_was(lenet, monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "cc -fuse-ld=lld")
    model, inputs = EXAMPLES["lenet"].build(1)
    shutil.copytree(lenet[0].directory, tmp_path, dirs_exist_ok=True)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(wafer.WaferError, match=r"^error: 'cc' could not build libmodel.so: collect2: fatal error: "
                       r"cannot find .ld.$"):
        wafer.export(model, inputs, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# A runtime check that fails on some inputs: the entry point must report it, not abort.
CHECKED = """
func.func @forward(%x: tensor<4xf32>, %ok: tensor<i1>) -> tensor<4xf32> {
  %c = tensor.extract %ok[] : tensor<i1>
  cf.assert %c, "ok must be set"
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.add ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
"""


def test_a_failed_runtime_check_returns_an_error(tmp_path):
    artifact = export_module(parse_module(CHECKED, make_context()), tmp_path)
    exported = ExportedExecutable(artifact.directory)
    x = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(exported.forward(x, np.array(True)), 2 * x)
    with pytest.raises(wafer.WaferError, match=r"^-:4:3: error: ok must be set \(in .*libmodel.so\)$"):
        exported.forward(x, np.array(False))
    np.testing.assert_array_equal(exported.run_main(x, np.array(True))[0], 2 * x)
    with pytest.raises(wafer.WaferError, match=r"^-:4:3: error: ok must be set \(running .*model_main\)$"):
        exported.run_main(x, np.array(False))


def test_threads_link_the_openmp_runtime_next_to_the_library(tmp_path):
    model, inputs = EXAMPLES["lenet"].build(16)  # large enough for parallel loops
    artifact = wafer.export(model, inputs, tmp_path, threads=2, wake_instructions=0)
    assert (tmp_path / "libiomp5.so").is_file()
    dynamic = subprocess.run(["readelf", "-d", artifact.library], capture_output=True, text=True).stdout
    assert "[libiomp5.so]" in dynamic and "[$ORIGIN]" in dynamic
    x = inputs[0].numpy()
    got = ExportedExecutable(tmp_path).run_main(x)[0]
    np.testing.assert_allclose(got, _reference(model, x), rtol=1e-4, atol=1e-5)
