"""Ops torch-mlir does not lower, or lowers wrongly, as ops it lowers, before import.

torch-mlir has these ops in its torch dialect but no lowering of them to
linalg (or a wrong one), so a model using one was refused, failed
mid-pipeline or stopped at run time:
- `aten.col2im` (nn.Fold) with padding: torch-mlir writes the taps of the
  padding at negative offsets, a verifier error after bufferization. A fold
  with padding is the fold without it onto the padded image, cropped.
- `aten.searchsorted` (NeRF's and samplers' inverse CDFs): over one sorted
  sequence it is `bucketize` with the arguments swapped, which torch-mlir
  lowers; over a batch of sequences, the count of each row's elements
  before the value (or not after it, `right`).
- `aten._cdist_forward` (torch.cdist): torch's own two forms, chosen as torch
  chooses them, so the results carry the same rounding: for p = 2 with more
  than 25 rows, or where asked, |x1|^2 - 2 x1.x2 + |x2|^2 as one matrix
  product; else the p-norm of the differences of every pair.
- `aten.median` (the lower median, NaN if the row holds one): the element at
  the median's place in a stable sort, or the first NaN's place, with its index.
- `aten.erfinv`: torch's CPU algorithm, a rational first guess refined by
  two Newton steps on erf.
- `aten.reciprocal`: torch-mlir asserts that no element is zero ("tensor with
  zero element" at run time), where torch gives an infinity; a division.
- `aten.isfinite`; `aten.fmod`, the remainder of the magnitudes (exact:
  torch-mlir's remainder is `arith.remf` where the signs agree) with the
  dividend's sign; `aten.hypot`, scaled by the larger magnitude so that it
  neither overflows nor underflows; an integer tensor to a constant power
  (`pow.Tensor_Scalar`), by squaring; the `abs` of a complex tensor, which
  torch-mlir made an invalid `math.absf`, the hypot of its parts.
- `aten.histc` (a mixture of experts' tokens per expert): each element's
  bin by torch's CPU formula, counted by comparison with every bin.
"""

from __future__ import annotations

import math

import torch

aten = torch.ops.aten
COL2IM, SEARCHSORTED, CDIST = aten.col2im.default, aten.searchsorted.Tensor, aten._cdist_forward.default
MEDIAN_DIM, MEDIAN, ERFINV = aten.median.dim, aten.median.default, aten.erfinv.default
RECIPROCAL, ISFINITE, HYPOT, INT_POWER = aten.reciprocal.default, aten.isfinite.default, aten.hypot.default, \
    aten.pow.Tensor_Scalar
FMOD_SCALAR, FMOD_TENSOR, ABS = aten.fmod.Scalar, aten.fmod.Tensor, aten.abs.default
HISTC = aten.histc.default
_TORCH_MM_ROWS = 25  # torch.cdist's default takes the matrix product beyond this many rows (ATen's cdist_impl)


def unlowered_ops_to_decompose(program) -> set:
    """The ops of `program` that these decompositions compute (col2im only where it pads)."""
    ops = set()
    for node in program.graph.nodes:
        if node.target in (SEARCHSORTED, CDIST, MEDIAN_DIM, MEDIAN, ERFINV, RECIPROCAL, ISFINITE, HYPOT,
                           FMOD_SCALAR, FMOD_TENSOR, HISTC):
            ops.add(node.target)
        elif node.target == INT_POWER and not node.args[0].meta["val"].dtype.is_floating_point:
            ops.add(INT_POWER)
        elif node.target == ABS and node.args[0].meta["val"].dtype.is_complex:
            ops.add(ABS)
        elif node.target == COL2IM and any(node.args[4]):
            ops.add(COL2IM)
    return ops


def col2im(x, output_size, kernel_size, dilation, padding, stride):
    """A fold with padding as one without it onto the padded image, cropped."""
    if not any(padding):
        return NotImplemented
    padded = [size + 2 * pad for size, pad in zip(output_size, padding)]
    image = aten.col2im(x, padded, kernel_size, dilation, [0, 0], stride)
    (top, left), (height, width) = padding, output_size
    return image[..., top:top + height, left:left + width]


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    if sorter is not None:
        return NotImplemented
    right = right or side == "right"
    if sorted_sequence.dim() == 1:
        return aten.bucketize(values, sorted_sequence, out_int32=out_int32, right=right)
    before = sorted_sequence.unsqueeze(-2) <= values.unsqueeze(-1) if right else \
        sorted_sequence.unsqueeze(-2) < values.unsqueeze(-1)
    return before.sum(-1, dtype=torch.int32 if out_int32 else torch.int64)


def cdist(x1, x2, p: float, compute_mode=None):
    mode = compute_mode or 0
    if p == 2 and (mode == 1 or (mode == 0 and max(x1.shape[-2], x2.shape[-2]) > _TORCH_MM_ROWS)):
        return _euclidean_by_matmul(x1, x2)
    differences = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
    if p == 0:
        return (differences != 0).sum(-1).to(x1.dtype)
    if p == math.inf:
        return differences.amax(-1)
    if p == 1:
        return differences.sum(-1)
    return differences.pow(p).sum(-1).pow(1 / p)


def _euclidean_by_matmul(x1, x2):
    """ATen's `_euclidean_dist`: the norms join the product as extra columns."""
    x1_norm, x2_norm = x1.pow(2).sum(-1, keepdim=True), x2.pow(2).sum(-1, keepdim=True)
    left = torch.cat([-2 * x1, x1_norm, torch.ones_like(x1_norm)], -1)
    right = torch.cat([x2, torch.ones_like(x2_norm), x2_norm], -1)
    return (left @ right.transpose(-1, -2)).clamp_min(0).sqrt()


def median_dim(x, dim: int = -1, keepdim: bool = False):
    """The lower median along `dim` and its index; a row holding a NaN gives its first NaN."""
    if x.dim() == 0:
        return x.clone(), torch.zeros_like(x, dtype=torch.int64)
    values, indices = aten.sort.default(x, dim)  # NaNs last, ties in their order (Wafer sorts stably)
    count = x.shape[dim]
    numbers = (~x.isnan()).sum(dim, keepdim=True)
    place = torch.where(numbers < count, numbers, (count - 1) // 2)
    median, index = values.gather(dim, place), indices.gather(dim, place)
    return (median, index) if keepdim else (median.squeeze(dim), index.squeeze(dim))


def median(x):
    return median_dim(x.reshape(-1), 0)[0]


# torch's calc_erfinv (ATen/native/Math.h): a rational approximation inside and
# outside |y| = 0.7, then two Newton steps.
_CENTRAL = 0.7
_A = (0.886226899, -1.645349621, 0.914624893, -0.140543331)
_B = (-2.118377725, 1.442710462, -0.329097515, 0.012229801)
_C = (-1.970840454, -1.624906493, 3.429567803, 1.641345311)
_D = (3.543889200, 1.637067800)


def erfinv(x):
    """In double precision, which torch's float result is within an ulp of: near
    +-1 a float erf's rounding moves the Newton steps' result by a percent. Signs
    by `where`: torch-mlir lowers no copysign (nor the signbit it decomposes into)."""
    return _erfinv(x.double()).to(x.dtype) if x.dtype != torch.float64 else _erfinv(x)


def _erfinv(y):
    magnitude, negative = y.abs(), y < 0
    z = y * y
    central = y * _horner(_A, z) / (_horner(_B, z) * z + 1)
    w = torch.sqrt(-torch.log((1 - magnitude) / 2))
    tail = _horner(_C, w) / (_horner(_D, w) * w + 1)
    x = torch.where(magnitude <= _CENTRAL, central, torch.where(negative, -tail, tail))
    for _ in range(2):
        x = x - (torch.erf(x) - y) / (2 / math.sqrt(math.pi) * torch.exp(-x * x))
    x = torch.where(magnitude == 1, torch.where(negative, -math.inf, math.inf), x)
    return torch.where(magnitude > 1, math.nan, x)


def reciprocal(x):
    return torch.ones_like(x) / x  # 1 / x traces back to aten.reciprocal


def isfinite(x):
    if not x.dtype.is_floating_point:
        return torch.ones_like(x, dtype=torch.bool)
    return (x == x) & (x.abs() != math.inf)


def fmod(x, y):
    """x - trunc(x / y) y, exactly: the remainder of |x| by |y|, with x's sign."""
    remainder = torch.remainder(x.abs(), y.abs() if isinstance(y, torch.Tensor) else abs(y))
    return torch.where(x < 0, -remainder, remainder)


def hypot(x, y):
    x, y = x.abs(), y.abs()
    larger, smaller = torch.maximum(x, y), torch.minimum(x, y)
    ratio = torch.where(larger == 0, 0.0, smaller / larger)
    result = larger * torch.sqrt(1 + ratio * ratio)
    return torch.where(x.isinf() | y.isinf(), math.inf, result)  # hypot(inf, nan) is inf


def complex_abs(x):
    """|x| of a complex tensor as the hypot of its parts: torch-mlir made a math.absf of complex values."""
    if not x.dtype.is_complex:
        return NotImplemented
    parts = torch.view_as_real(x)
    return hypot(parts[..., 0], parts[..., 1])


def int_power(x, exponent):
    """An integer tensor to a constant power >= 0, by squaring; a float one as it is."""
    if x.dtype.is_floating_point or not isinstance(exponent, int) or exponent < 0:
        return NotImplemented
    result, square = torch.ones_like(x), x
    while exponent:
        if exponent & 1:
            result = result * square
        exponent >>= 1
        if exponent:
            square = square * square
    return result


def histc(x, bins: int = 100, min=0, max=0):  # noqa: A002  (the schema's names)
    """torch's CPU histc: bin (x - lo) * bins / (hi - lo) in x's dtype, the top
    edge in the last bin, elements outside [lo, hi] (and NaNs) in none; where
    min equals max, the data's extrema are the edges, widened by one each way
    where those are equal too."""
    if not x.dtype.is_floating_point:
        return NotImplemented  # torch refuses integer input on the CPU
    values = x.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi:
        lo, hi = values.min(), values.max()
        same = lo == hi
        lo, hi = torch.where(same, lo - 1, lo), torch.where(same, hi + 1, hi)
    position = ((values - lo) * bins / (hi - lo)).to(torch.int64).clamp(max=bins - 1)
    counted = (values >= lo) & (values <= hi)
    hits = (position[:, None] == torch.arange(bins, device=x.device)[None, :]) & counted[:, None]
    return hits.to(x.dtype).sum(0)  # counted in x's dtype, as torch's bins are


def _horner(coefficients, z):
    """c0 + c1 z + c2 z^2 + ..."""
    result = torch.full_like(z, coefficients[-1])
    for coefficient in reversed(coefficients[:-1]):
        result = result * z + coefficient
    return result


DECOMPOSITIONS = {COL2IM: col2im, SEARCHSORTED: searchsorted, CDIST: cdist, MEDIAN_DIM: median_dim, MEDIAN: median,
                  ERFINV: erfinv, RECIPROCAL: reciprocal, ISFINITE: isfinite, FMOD_SCALAR: fmod, FMOD_TENSOR: fmod,
                  HYPOT: hypot, INT_POWER: int_power, ABS: complex_abs, HISTC: histc}
