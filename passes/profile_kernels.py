"""wafer-profile-kernels: call the runtime around each kernel, so a call's time splits by kernel."""

from __future__ import annotations

import keyword
import linecache
import os
import re
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, func

from ..diagnostics import LAYER_PREFIX, location_frames, location_names, user_frame
from ..symbols import KERNEL_BEGIN, KERNEL_END, KERNELS_ATTR, declare_runtime, public_functions
from .pass_base import WaferPass

# Top-level ops that compute: besides loop nests, these loop over buffers once lowered.
_WORK_DIALECTS = ("linalg.", "tm_tensor.", "vector.")
_WORK_OPS = ("memref.copy", "func.call")


@dataclass(frozen=True)
class ProfileKernels(WaferPass):
    """Wrap each kernel of the public functions in `@wafer_kernel_begin(id)` and
    `@wafer_kernel_end(id)`, which the JIT runtime times (CpuExecutable.profile).

    A kernel is a run of top-level ops that compute (loop nests, linalg ops,
    copies) from one place in the model; ops that compute nothing between them
    (allocations, views, constants) do not end the run. The module's
    `wafer.kernels` attribute names each id after its place: the ONNX node's
    name, or the function called on the line of PyTorch code the op came from
    and that line's place in the user's file (`conv2d at model.py:31`). Runs
    on bufferized loops before they become OpenMP regions, so only the calling
    thread calls the hooks.
    """

    name = "wafer-profile-kernels"
    summary = "Time each kernel through calls to the runtime"

    def apply(self, module: ir.Operation) -> None:
        names: list[str] = []
        i64 = ir.IntegerType.get_signless(64)
        for function in public_functions(module):
            for block in function.regions[0].blocks:
                ops = list(block.operations)
                for first, last, name in _kernels(ops):
                    with ir.InsertionPoint(ops[first]), ops[first].location:
                        kernel = arith.ConstantOp(i64, len(names)).result
                        func.CallOp([], KERNEL_BEGIN, [kernel])
                    # The block's terminator computes nothing, so an op follows every kernel.
                    with ir.InsertionPoint(ops[last + 1]), ops[last].location:
                        func.CallOp([], KERNEL_END, [kernel])
                    names.append(name)
        if not names:
            return
        with ir.InsertionPoint(module.regions[0].blocks[0]), ir.Location.unknown():
            declare_runtime(KERNEL_BEGIN, [i64], [])
            declare_runtime(KERNEL_END, [i64], [])
        module.attributes[KERNELS_ATTR] = ir.ArrayAttr.get([ir.StringAttr.get(name) for name in names])


def _kernels(ops: list[ir.OpView]) -> list[tuple[int, int, str]]:
    """(index of the first op, of the last, name) of each run of ops that compute
    and are named alike, in a block's `ops`."""
    runs: list[list] = []
    for index, op in enumerate(ops):
        if not _computes(op.operation):
            continue
        name = _kernel_name(op.location) or op.operation.name
        if runs and runs[-1][2] == name:
            runs[-1][1] = index
        else:
            runs.append([index, index, name])
    return [(first, last, name) for first, last, name in runs]


def _computes(op: ir.Operation) -> bool:
    return bool(op.regions) or op.name.startswith(_WORK_DIALECTS) or op.name in _WORK_OPS


def _kernel_name(loc: ir.Location) -> str:
    """`conv2d at model.py:31 in layer 'conv1'`: the function called on the source
    line of the innermost frame, at the frame in the user's file, in the layers
    the kernel computes; an ONNX node's name; or ''."""
    names = list(dict.fromkeys(location_names(loc)))
    layers = [name for name in names if name.startswith(LAYER_PREFIX)]
    if len(layers) < len(names):
        return ", ".join(name for name in names if name not in layers)
    frames = location_frames(loc)
    if not frames:
        return ", ".join(layers)
    file, line, _ = user_frame(loc)
    where = f"{os.path.basename(file)}:{line}"
    inner_file, inner_line, _ = frames[0]
    called = _called_function(inner_file, inner_line) if inner_file.endswith(".py") else ""
    name = f"{called} at {where}" if called else where
    return f"{name} in {', '.join(layers)}" if layers else name


def _called_function(file: str, line: int) -> str:
    """The first function a line of Python calls, or '': `conv2d` for
    `return F.conv2d(`, `conv` for `return self._conv_forward(` (nn.Conv2d's)."""
    for match in re.finditer(r"([A-Za-z_][\w.]*)\s*\(", linecache.getline(file, line)):
        name = match.group(1).rsplit(".", 1)[-1]
        if not keyword.iskeyword(name):
            return name.strip("_").removesuffix("_forward")
    return ""
