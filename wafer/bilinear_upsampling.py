"""Bilinear upsampling by a whole factor, as blends of shifted slices, before import.

torch-mlir lowers aten.upsample_bilinear2d as four gathers of the input, each
element's source row and column computed and bounds-checked as it is read,
in scalar code (DeepLabv3 upsamples its class maps 16x that way). PyTorch's
kernel interpolates along the width, then along the height: output column o
reads input columns i0(o) and i1(o), weighted l0(o) and l1(o). Where the
output is a whole number s of times the input, column s * w + r reads
columns w + a_r and w + a_r + 1 (a_r is 0 or -1), clamped to the row: the
same two slices of the input, padded with its edge columns, for every w. So
phase r is a blend of two slices, and the s phases interleave into the
output: elementwise ops and a concatenation, no gather. The weights are
PyTorch's (`source_columns`, in float32 as its kernel computes them), one
pair per run of columns that share it: the interior's, and the clamped
edge's. Where the tables are no such slices, or a phase's weights change
along the row (align_corners; a factor of 3 over a long row, whose 1/3 is
inexact), the op is left as it is.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

aten = torch.ops.aten
UPSAMPLE = aten.upsample_bilinear2d.vec


def source_columns(size: int, outputs: int, align_corners: bool, scale: float | None):
    """PyTorch's (i0, i1, l0, l1) for `outputs` columns over `size`: the two input
    columns each output column blends, and their weights (float32)."""
    if align_corners:
        ratio = np.float32((size - 1) / (outputs - 1)) if outputs > 1 else np.float32(0)
        real = ratio * np.arange(outputs, dtype=np.float32)
    else:
        ratio = np.float32(1.0 / scale) if scale else np.float32(size / outputs)
        real = np.maximum(ratio * (np.arange(outputs, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5),
                          np.float32(0))
    i0 = np.minimum(np.floor(real).astype(np.int64), size - 1)
    i1 = i0 + (i0 < size - 1)
    l1 = np.clip(real - i0.astype(np.float32), np.float32(0), np.float32(1)).astype(np.float32)
    return i0, i1, np.float32(1) - l1, l1


# Runs of columns with one pair of weights, per phase: the interior and the two edges.
_MAX_RUNS = 3


def _phases(size: int, outputs: int, align_corners: bool, scale: float | None):
    """Per phase r of a whole factor s = outputs / size: (a_r, runs), where
    column s * w + r blends the edge-padded input's columns w + a_r + 1 and
    w + a_r + 2, weighted (l0, l1) over each run (start, stop, l0, l1) of w;
    None where the tables are no such slices or have too many runs."""
    if outputs % size:
        return None
    factor = outputs // size
    i0, i1, l0, l1 = source_columns(size, outputs, align_corners, scale)
    w = np.arange(size)
    phases = []
    for r in range(factor):
        columns, weights = (i0[r::factor], i1[r::factor]), (l0[r::factor], l1[r::factor])
        shift = int(columns[0][min(1, size - 1)]) - min(1, size - 1)  # column 0 may be clamped
        # A column weighted 0 may differ: PyTorch reads column 1 there, the slice column 0.
        if shift not in (-1, 0) or not all(
                np.array_equal(c[l != 0], np.clip(w + shift + k, 0, size - 1)[l != 0])
                for k, (c, l) in enumerate(zip(columns, weights))):
            return None
        runs = _runs(*weights)
        if len(runs) > _MAX_RUNS:
            return None
        phases.append((shift, runs))
    return phases


def _runs(l0: np.ndarray, l1: np.ndarray) -> list[tuple[int, int, float, float]]:
    """The maximal runs [start, stop) of equal weight pairs, with the pair."""
    runs, start = [], 0
    for pair, group in itertools.groupby(zip(l0.tolist(), l1.tolist())):
        stop = start + len(list(group))
        runs.append((start, stop, *pair))
        start = stop
    return runs


def _plans(shape, output_size, align_corners: bool, scale_factors) -> list | None:
    """The phases of the height and the width, or None where either is no slices."""
    sizes = output_size or [int(shape[d] * s) for d, s in zip((2, 3), scale_factors)]
    scales = scale_factors or [None, None]
    plans = [_phases(shape[d], n, align_corners, s) for d, n, s in zip((2, 3), sizes, scales)]
    return None if any(plan is None for plan in plans) else plans


def whole_factor_upsampling(program) -> set:
    """{UPSAMPLE} if `program` upsamples a static f32 image bilinearly by whole factors."""
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target == UPSAMPLE:
            image = node.args[0].meta["val"]
            if (image.dtype == torch.float32 and all(isinstance(d, int) for d in image.shape)
                    and _plans(image.shape, *node.args[1:4]) is not None):
                return {UPSAMPLE}
    return set()


def upsample_bilinear(x: torch.Tensor, output_size, align_corners: bool, scale_factors=None):
    """aten.upsample_bilinear2d.vec as blends of slices along the width, then the
    height; NotImplemented (the op as it is) where the tables are no slices."""
    plans = _plans(x.shape, output_size, align_corners, scale_factors) if x.dtype == torch.float32 else None
    if plans is None:
        return NotImplemented
    return _along(_along(x, 3, plans[1]), 2, plans[0])


def _along(x: torch.Tensor, dim: int, phases) -> torch.Tensor:
    """Interpolate `x` along `dim` (2 or 3) by its phases: each phase blends two
    slices of `x` padded with its edge rows (or columns), run by run of
    weights, and the phases interleave."""
    size = x.shape[dim]
    if len(phases) == 1 and phases[0][1] == [(0, size, 1.0, 0.0)]:
        return x  # a factor of 1: every output reads its own input column, weight 1
    padded = torch.cat([x.narrow(dim, 0, 1), x, x.narrow(dim, size - 1, 1)], dim)
    blended = []
    for shift, runs in phases:
        pieces = [padded.narrow(dim, shift + 1 + start, stop - start) * l0
                  + padded.narrow(dim, shift + 2 + start, stop - start) * l1 for start, stop, l0, l1 in runs]
        blended.append(pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim))
    stacked = torch.stack(blended, dim + 1)
    shape = list(x.shape)
    shape[dim] = size * len(phases)
    return stacked.reshape(shape)
