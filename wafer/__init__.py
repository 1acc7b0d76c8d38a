"""Wafer: an MLIR-native ML compiler for CPUs and wafer-scale accelerators.

    compiled = wafer.compile(model, example_inputs, target="cpu")
    exe = wafer.compile_mlir(linalg_text, target="cpu")
    model = wafer.compile_onnx("model.onnx", target="cpu")
    wafer.export(model, example_inputs, "out")   # out/libmodel.so, model.h, weights.bin, model_main
    wafer.register_pass(MyPass)   # a WaferPass subclass, then usable by name (wafer/plugins.py)
    wafer.tune(model, example_inputs, budget_s=60)   # measure kernels into wafer-tuning.json (wafer/tuning)
    compiled = wafer.compile(model, example_inputs, tuning="wafer-tuning.json")
"""

from .compiler import compile_mlir
from .diagnostics import WaferError
from .plugins import register_pass

__all__ = ["compile", "compile_mlir", "compile_onnx", "export", "register_pass", "tune", "CompiledModel", "WaferError"]


def __getattr__(name: str):
    # The torch front end is imported on first use: `wafer-opt` never pays for torch.
    if name in ("compile", "CompiledModel"):
        from . import frontend

        return getattr(frontend, name)
    if name == "compile_onnx":  # onnx, too, loads only when asked for
        from .onnx_frontend import compile_onnx

        return compile_onnx
    if name == "export":  # the exporter, too
        from .aot import export

        return export
    if name == "tune":  # the tuner compiles and times kernels: loaded only when asked for
        from .tuning.tuner import tune

        return tune
    raise AttributeError(name)
