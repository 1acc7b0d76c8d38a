"""Unbatched 2-D and 3-D convolutions as batches of one, before import.

torch-mlir's lowering of aten.conv2d and aten.conv3d reads its input as
batched: given one image ([C, H, W], or [C, D, H, W]), as PyTorch allows,
the import crashed the process (a segmentation fault in the lowering). The
convolution of a batch of one, its batch dim dropped after, is the same.
"""

from __future__ import annotations

import torch

aten = torch.ops.aten
_CONVOLUTIONS = (aten.conv2d.default, aten.conv2d.padding, aten.conv3d.default, aten.conv3d.padding)


def unbatched_convolutions(program) -> set:
    """The 2-D and 3-D convolutions of `program` that take an unbatched input."""
    return {node.target for node in program.graph.nodes
            if node.op == "call_function" and node.target in _CONVOLUTIONS
            and node.args[0].meta["val"].dim() < node.args[1].meta["val"].dim()}


def _decomposition(op):
    def as_batch_of_one(x: torch.Tensor, weight: torch.Tensor, *args):
        """The op on [1, *x.shape], the batch dim dropped after; NotImplemented
        (the op as it is) for a batched input."""
        if x.dim() == weight.dim():
            return NotImplemented
        return op(x.unsqueeze(0), weight, *args).squeeze(0)
    return as_batch_of_one


DECOMPOSITIONS = {op: _decomposition(op) for op in _CONVOLUTIONS}
