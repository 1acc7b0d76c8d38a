"""cummax and cummin, which torch-mlir does not lower, as log-step scans.

Each of ceil(log2 n) steps takes the maximum (minimum) of the running values
and themselves shifted 2^s along the dim, the identity shifted in (the
Hillis-Steele prefix scan): elementwise ops over the whole tensor, which
vectorize, where the scan's definition is a loop along the dim.

The index of each running maximum is the latest position j <= i whose element
equals its own running maximum: a later position that equals it is a later
attainment of the same maximum. A second scan takes the running maximum of j
where x[j] is its running maximum (or NaN), else -1. As torch, ties take the
latest index, and a NaN, once met, stays the value, with the latest NaN's index.
"""

from __future__ import annotations

import torch

aten = torch.ops.aten
CUMMAX, CUMMIN = aten.cummax.default, aten.cummin.default


def _scan(x: torch.Tensor, dim: int, combine, identity) -> torch.Tensor:
    length, step = x.shape[dim], 1
    while step < length:
        filler = torch.full_like(x.narrow(dim, 0, step), identity)
        x = combine(x, torch.cat([filler, x.narrow(dim, 0, length - step)], dim))
        step *= 2
    return x


def _running(x: torch.Tensor, dim: int, combine, lowest) -> tuple[torch.Tensor, torch.Tensor]:
    if x.dtype == torch.bool or x.dim() == 0:
        return NotImplemented
    dim = dim % x.dim()
    values = _scan(x, dim, combine, lowest)
    shape = [1] * x.dim()
    shape[dim] = x.shape[dim]
    positions = torch.arange(x.shape[dim]).view(shape).expand(x.shape)
    attained = (x == values) | (x != x)  # x != x: NaN
    indices = _scan(torch.where(attained, positions, -1), dim, torch.maximum, -1)
    return values, indices


def cummax(x, dim: int):
    lowest = -float("inf") if x.dtype.is_floating_point else torch.iinfo(x.dtype).min
    return _running(x, dim, torch.maximum, lowest)


def cummin(x, dim: int):
    highest = float("inf") if x.dtype.is_floating_point else torch.iinfo(x.dtype).max
    return _running(x, dim, torch.minimum, highest)


DECOMPOSITIONS = {CUMMAX: cummax, CUMMIN: cummin}
