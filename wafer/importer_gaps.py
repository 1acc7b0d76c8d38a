"""Programs torch-mlir's importer crashes on or lowers wrong, refused by name before the import.

Each check names the op, the user's file:line and layer; a refusal is better
than a segfault in a native pass or a silent wrong answer.
"""

from __future__ import annotations

import torch
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

from .node_location import node_error
from .unsigned_ops import refuse_unchecked_uint8_ops


def refuse_importer_gaps(program) -> None:
    refuse_unchecked_uint8_ops(program)
    _refuse_data_dependent_shapes(program)
    _refuse_bitcasts(program)
    _refuse_fourier_transforms(program)


def _refuse_data_dependent_shapes(program) -> None:
    """A shape that depends on the data (`x[x > 0]`, `nonzero`) sends torch-mlir's
    lowering into a loop that never ends: refused at the op that makes it."""
    for node in program.graph.nodes:
        value = node.meta.get("val")
        if node.op == "call_function" and isinstance(value, torch.Tensor) and free_unbacked_symbols(value):
            raise node_error(node, f"torch.{node.target} gives a tensor whose shape depends on the data; "
                             "Wafer compiles shapes known before the call")


# Ops torch-mlir computes by reinterpreting a tensor's bits as another dtype (aten.view.dtype), which it does not lower.
_BITCASTS = {torch.ops.aten.view.dtype, torch.ops.aten.signbit.default, torch.ops.aten.copysign.Tensor,
             torch.ops.aten.copysign.Scalar}


def _refuse_bitcasts(program) -> None:
    """torch-mlir's lowering failed on these with "failed to legalize operation
    'torch.constant.int'", which names no op of the model: refused by name."""
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target in _BITCASTS:
            raise node_error(node, f"torch.{node.target} reinterprets a tensor's bits as another dtype "
                             "(aten.view.dtype), which Wafer cannot lower")


def _refuse_fourier_transforms(program) -> None:
    """A transform other than `rfft` (which torch-mlir lowers to products with
    cosines and sines) and the real parts real_fourier.py rewrites works on
    complex tensors, on which torch-mlir's lowering failed with "failed to
    legalize operation 'torch.constant.int'" (`fft(x).abs()`): refused by name."""
    for node in program.graph.nodes:
        name = getattr(node.target, "__name__", "").split(".")[0]
        if node.op == "call_function" and name.lstrip("_").startswith("fft_") and name != "fft_rfft":
            raise node_error(node, f"torch.{node.target} works on complex tensors, which Wafer does not compute; "
                             "it computes `rfft` and the real part (`.real`) of fft, fft2 or fftn of a real "
                             "tensor over its whole dims")
