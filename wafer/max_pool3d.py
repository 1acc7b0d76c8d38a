"""3-D max pooling as two 2-D max pools, before import.

torch-mlir lowers aten.max_pool3d to a linalg.generic over eight loops that no
pooling strategy reads (linalg has no NCDHW pooling op), so it runs as scalar
code. A maximum over a box is separable, and -inf padding is the maximum's
identity: pooling the rows and columns of every depth slice, then the depth
of every pooled position, gives the same values, and both steps are NCHW max
pools, which the pooling strategies vectorize. The output size of each dim,
ceil mode included, depends on that dim's own window, stride and padding, so
the split changes no shape.
"""

from __future__ import annotations

import torch

aten = torch.ops.aten
MAX_POOL3D = aten.max_pool3d.default


def max_pool3d_to_decompose(program) -> set:
    """{MAX_POOL3D} if `program` max-pools volumes."""
    return {MAX_POOL3D} if any(node.target == MAX_POOL3D for node in program.graph.nodes) else set()


def max_pool3d(x: torch.Tensor, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """aten.max_pool3d as a max pool over each depth slice's rows and columns,
    then one over the depth (an unbatched volume as a batch of one: torch-mlir
    lowers no unbatched max_pool3d)."""
    if x.dim() == 4:
        return max_pool3d(x.unsqueeze(0), kernel_size, stride, padding, dilation, ceil_mode).squeeze(0)
    kernel, steps = _triple(kernel_size), _triple(stride or kernel_size)
    pads, dilations = _triple(padding), _triple(dilation)
    n, c, d, h, w = x.shape
    planes = aten.max_pool2d(x.reshape(n, c * d, h, w), kernel[1:], steps[1:], pads[1:], dilations[1:], ceil_mode)
    rows, columns = planes.shape[-2:]
    depth = planes.reshape(n, c, d, rows * columns)
    if (kernel[0], steps[0], pads[0]) != (1, 1, 0):  # (1, 3, 3) pools each slice on its own (S3D)
        depth = aten.max_pool2d(depth, [kernel[0], 1], [steps[0], 1], [pads[0], 0], [dilations[0], 1], ceil_mode)
    return depth.reshape(n, c, depth.shape[2], rows, columns)


def _triple(value) -> list[int]:
    values = [value] if isinstance(value, int) else list(value)
    return values * 3 if len(values) == 1 else values
