"""Adaptive pooling whose windows differ, as reductions over slices, before import.

torch-mlir lowers adaptive pooling as one pooling window and one stride. Where
PyTorch's windows differ in size or spacing (5 columns to 3: [0, 2), [1, 4),
[3, 5)) or repeat (1 column to 2), its max pooling fails to verify and its
average pooling fails a run-time check. PyTorch's window i of m over n
elements is [floor(i * n / m), ceil((i + 1) * n / m)). Max and mean over a box
of windows are separable, so each pooled dim is reduced in turn, one slice
per output index: m1 + m2 slices for a 2-D output, not m1 * m2.

Max pooling's indices are flat positions in the input plane, the first
maximum in row-major order, as PyTorch's kernel picks it: the last dim is
reduced first, keeping each row's first maximal column, then the rows,
keeping the first maximal row. (With a NaN in a window PyTorch's kernel keeps
the last NaN, these the first: the values agree, the indices may not.)
"""

from __future__ import annotations

import torch

aten = torch.ops.aten
_MAX_POOLS = (aten.adaptive_max_pool1d.default, aten.adaptive_max_pool2d.default)
_AVG_POOLS = (aten.adaptive_avg_pool1d.default, aten.adaptive_avg_pool2d.default)
_AVG_POOL3D = aten.adaptive_avg_pool3d.default


def windows(extent: int, size: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows of `size` outputs over `extent` inputs."""
    return [(i * extent // size, -(-(i + 1) * extent // size)) for i in range(size)]


def _uneven(extent: int, size: int) -> bool:
    """Windows of more than one size, or spacing, or that repeat (a stride of 0)."""
    spans = windows(extent, size)
    steps = {b[0] - a[0] for a, b in zip(spans, spans[1:])}
    return len({end - start for start, end in spans}) > 1 or len(steps) > 1 or 0 in steps


def _pooled(shape, output_size) -> list[tuple[int, int]]:
    """(dim, output size) of each pooled dim, the last ones."""
    first = len(shape) - len(output_size)
    return [(first + i, size) for i, size in enumerate(output_size)]


def adaptive_pooling_to_decompose(program) -> set:
    """The adaptive pooling ops of `program` that pool some dim unevenly, and
    3-D average pooling, which torch-mlir lowers as a gather of every element
    through its indices, in scalar code (video models' heads)."""
    ops = {_AVG_POOL3D} if any(node.target == _AVG_POOL3D for node in program.graph.nodes) else set()
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target in _MAX_POOLS + _AVG_POOLS:
            shape = node.args[0].meta["val"].shape
            if any(_uneven(shape[dim], size) for dim, size in _pooled(shape, node.args[1])):
                ops.add(node.target)
    return ops


def adaptive_max_pool(x: torch.Tensor, output_size):
    """(values, indices) of adaptive max pooling over the last 1 or 2 dims; NotImplemented
    (the op as it is) where every window is alike."""
    pooled = _pooled(x.shape, output_size)
    if not any(_uneven(x.shape[dim], size) for dim, size in pooled):
        return NotImplemented
    (last, last_size), width = pooled[-1], x.shape[-1]
    values, columns = _max_over_windows(x, last, last_size)
    if len(pooled) == 1:
        return values, columns
    dim, size = pooled[0]
    rows_values, rows_indices = [], []
    for start, end in windows(x.shape[dim], size):
        value, row = values.narrow(dim, start, end - start).max(dim, keepdim=True)
        column = columns.narrow(dim, start, end - start).gather(dim, row)
        rows_values.append(value)
        rows_indices.append((row + start) * width + column)
    return torch.cat(rows_values, dim), torch.cat(rows_indices, dim)


def _max_over_windows(x: torch.Tensor, dim: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The maximum of each window along `dim`, and its first position in the dim."""
    values, positions = [], []
    for start, end in windows(x.shape[dim], size):
        value, position = x.narrow(dim, start, end - start).max(dim, keepdim=True)
        values.append(value)
        positions.append(position + start)
    return torch.cat(values, dim), torch.cat(positions, dim)


def adaptive_avg_pool(x: torch.Tensor, output_size):
    """Adaptive average pooling over the last 1 or 2 dims; NotImplemented where every window is alike."""
    pooled = _pooled(x.shape, output_size)
    if not any(_uneven(x.shape[dim], size) for dim, size in pooled):
        return NotImplemented
    return _mean_over_windows(x, pooled)


def adaptive_avg_pool3d(x: torch.Tensor, output_size):
    """Adaptive average pooling over the last 3 dims: where the windows tile
    each dim, one mean over the window dims of a reshape, in which adjacent
    window dims are one (a global pool reduces rows of D*H*W); otherwise a
    mean over each window's slices."""
    pooled = _pooled(x.shape, output_size)
    if any(x.shape[dim] % size for dim, size in pooled):
        return _mean_over_windows(x, pooled)
    tiled, windowed = list(x.shape[:pooled[0][0]]), []
    for dim, size in pooled:
        if size > 1:
            tiled.append(size)
        if windowed and windowed[-1] == len(tiled) - 1:
            tiled[-1] *= x.shape[dim] // size
        else:
            windowed.append(len(tiled))
            tiled.append(x.shape[dim] // size)
    shape = [*x.shape[:pooled[0][0]], *(size for _, size in pooled)]
    return x.reshape(tiled).mean(windowed).reshape(shape)


def _mean_over_windows(x: torch.Tensor, pooled) -> torch.Tensor:
    """The mean of each window of each (dim, output size) in `pooled`, one dim at a time."""
    for dim, size in reversed(pooled):
        x = torch.cat([x.narrow(dim, start, end - start).mean(dim, keepdim=True)
                       for start, end in windows(x.shape[dim], size)], dim)
    return x


DECOMPOSITIONS = {**{op: adaptive_max_pool for op in _MAX_POOLS}, **{op: adaptive_avg_pool for op in _AVG_POOLS},
                  _AVG_POOL3D: adaptive_avg_pool3d}


def unless_declined(decomposition, other):
    """`decomposition`, or where it declines (returns NotImplemented: adaptive
    pooling whose windows are alike) `other`: a table's own decomposition of
    the op, or None, the op as it is."""
    if other is None:
        return decomposition

    def either(*args, **kwargs):
        result = decomposition(*args, **kwargs)
        return other(*args, **kwargs) if result is NotImplemented else result

    return either
