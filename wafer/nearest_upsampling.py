"""Nearest upsampling by whole factors, as a broadcast, before import.

torch's decomposition of aten.upsample_nearest{1,2,3}d gathers every output
element through an index tensor (aten._unsafe_index), which torch-mlir lowers
to a generic that computes and reads one source index per element: scalar
code. Where each spatial size grows by a whole factor s and PyTorch's index
table is o // s (its float arithmetic rounds no index across a boundary),
the output is the input with a unit dimension after each spatial one,
broadcast to s and collapsed: a broadcast that vectorizes along the rows.
Where the table is anything else (fractional factors), the op is left as it is.
"""

from __future__ import annotations

import numpy as np
import torch

aten = torch.ops.aten
_EXACT = {aten._upsample_nearest_exact1d.vec, aten._upsample_nearest_exact2d.vec, aten._upsample_nearest_exact3d.vec}
UPSAMPLE_NEAREST = {aten.upsample_nearest1d.vec, aten.upsample_nearest2d.vec, aten.upsample_nearest3d.vec} | _EXACT


def source_indices(size: int, outputs: int, scale: float | None, exact: bool) -> np.ndarray:
    """PyTorch's source index of each of `outputs` positions over `size`
    (aten/src/ATen/native/UpSample.h: nearest_idx, nearest_exact_idx), in
    float32 as its kernels compute it."""
    positions = np.arange(outputs)
    if not exact and outputs == size:
        return positions
    if not exact and outputs == 2 * size:
        return positions >> 1
    ratio = np.float32(1.0 / scale) if scale else np.float32(size) / np.float32(outputs)
    offset = np.float32(0.5) if exact else np.float32(0)
    real = (positions.astype(np.float32) + offset) * ratio
    return np.minimum(np.floor(real).astype(np.int64), size - 1)


def whole_factors(shape, output_size, scale_factors, exact: bool) -> list[int] | None:
    """The factor of each spatial dimension of an image of `shape`, or None
    where PyTorch's indices along one are not o // factor."""
    spatial = shape[2:]
    scales = scale_factors or [None] * len(spatial)
    sizes = output_size or [int(n * s) for n, s in zip(spatial, scales)]
    factors = []
    for size, outputs, scale in zip(spatial, sizes, scales):
        if outputs % size or not np.array_equal(source_indices(size, outputs, scale, exact),
                                                np.arange(outputs) // (outputs // size)):
            return None
        factors.append(outputs // size)
    return factors


def whole_factor_nearest_upsampling(program) -> set:
    """The nearest-upsampling ops of `program` that upsample a static image by whole factors."""
    ops = set()
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target in UPSAMPLE_NEAREST:
            image = node.args[0].meta["val"]
            if (all(isinstance(d, int) for d in image.shape)
                    and whole_factors(image.shape, *node.args[1:3], node.target in _EXACT) is not None):
                ops.add(node.target)
    return ops


def _decomposition(exact: bool):
    def upsample_nearest(x: torch.Tensor, output_size, scale_factors):
        """The op as a broadcast over a unit dimension after each spatial one;
        NotImplemented (the op as it is) where a factor is not whole."""
        factors = whole_factors(x.shape, output_size, scale_factors, exact)
        if factors is None:
            return NotImplemented
        spatial = x.shape[2:]
        unit_after_each = [*x.shape[:2], *(d for n in spatial for d in (n, 1))]
        broadcast = [*x.shape[:2], *(d for n, s in zip(spatial, factors) for d in (n, s))]
        return x.reshape(unit_after_each).expand(broadcast).reshape(
            *x.shape[:2], *(n * s for n, s in zip(spatial, factors)))
    return upsample_nearest


DECOMPOSITIONS = {op: _decomposition(op in _EXACT) for op in UPSAMPLE_NEAREST}
