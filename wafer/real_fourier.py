"""The real part of a real tensor's discrete Fourier transform, as matrix products, before import.

torch-mlir lowers no FFT, and Wafer computes no complex tensors. A model that
keeps only the real part of the transform of a real input (FNet mixes its
tokens with `torch.fft.fftn(x, dim=(1, 2)).real`) needs neither: along one
dim of length N the transform multiplies by F = C - iS, with C[k, n] =
cos(2 pi k n / N) and S[k, n] = sin(2 pi k n / N), both symmetric. So a
value R + iI becomes R C + I S + i (I C - R S) along each transformed dim in
turn, starting from I = 0, and the real part is what is left of R. The
angles come from k n mod N, an exact integer, so a long dim loses no
precision in them. `fft`, `fft2` and `fftn` over their whole dims, with any
`norm`, are rewritten where `real` is their only reader; other uses keep the
op, which importer_gaps.py refuses by name.
"""

from __future__ import annotations

import math

import torch

from .graph_edits import schema_arguments
from .local_decompositions import splice, trace_alone

aten = torch.ops.aten
# Each transform's argument that pads or crops its input (left alone when given).
_SIZES = {aten.fft_fft.default: "n", aten.fft_fft2.default: "s", aten.fft_fftn.default: "s"}


def decompose_real_fourier(program: torch.export.ExportedProgram) -> None:
    """Replace each `real(fft*(x))` of a real x in `program` by products with cosine and sine matrices."""
    graph = program.graph_module.graph
    for node in [node for node in graph.nodes if node.op == "call_function" and node.target in _SIZES]:
        users = list(node.users)
        if len(users) != 1 or users[0].target != aten.real.default:
            continue
        arguments = schema_arguments(node)
        x = arguments["self"]
        value = x.meta.get("val") if isinstance(x, torch.fx.Node) else None
        if not isinstance(value, torch.Tensor) or value.is_complex() or arguments[_SIZES[node.target]] is not None:
            continue
        dims = arguments["dim"]  # fftn's None: every dim
        dims = list(range(value.dim())) if dims is None else [dims] if isinstance(dims, int) else list(dims)
        graph_module = trace_alone(_real_part(dims, arguments["norm"]), [x], users[0])
        if graph_module is None:
            continue
        splice(program, users[0], graph_module, [x])
        graph.erase_node(node)
    program.graph_module.recompile()


def _real_part(dims: list[int], norm: str | None):
    """The real part of the transform of a real tensor along `dims`, scaled as `norm` says.

    The transform of a real tensor is conjugate-symmetric: Y[k] = conj(Y[-k mod N])
    over all its dims at once. So the longest dim, transformed first (its input is
    real), is computed for its first N // 2 + 1 frequencies only, half the products,
    and the real part of the others is the computed one at the mirrored indices."""
    def real_part(x):
        if not x.is_floating_point():  # torch.fft promotes integers to the default float type
            x = x.to(torch.get_default_dtype())
        order = sorted({d % x.dim() for d in dims}, key=lambda d: -x.shape[d])
        first, n = order[0], x.shape[order[0]]
        half = n // 2 + 1
        cosines, sines = _cosines_and_sines(n, half, x.dtype)
        real, imaginary = _along(x, cosines, first), -_along(x, sines, first)
        for dim in order[1:]:
            cosines, sines = _cosines_and_sines(x.shape[dim], x.shape[dim], x.dtype)
            real, imaginary = (_along(real, cosines, dim) + _along(imaginary, sines, dim),
                               _along(imaginary, cosines, dim) - _along(real, sines, dim))
        if half < n:  # frequency k of the first dim is N - k's, at -k mod N along the others
            mirrored = real.index_select(first, torch.arange(n - half, 0, -1))
            for dim in order[1:]:
                mirrored = torch.roll(torch.flip(mirrored, [dim]), 1, dim)
            real = torch.cat([real, mirrored], first)
        return real * _scale([x.shape[d] for d in order], norm)
    return real_part


def _along(value: torch.Tensor, matrix: torch.Tensor, dim: int) -> torch.Tensor:
    """`value` times `matrix` (input frequencies by output ones) along `dim`."""
    return torch.movedim(torch.movedim(value, dim, -1) @ matrix, -1, dim)


def _cosines_and_sines(n: int, outputs: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `outputs` columns of C and S of a length-n transform, computed in
    the graph (a tensor constant cannot be spliced in): the n values of each at the
    angle steps m = 0..n-1, gathered at m = k n mod N, an exact integer."""
    steps = torch.arange(n)
    angles = steps.to(dtype) * (2 * math.pi / n)
    where = torch.remainder(steps[:, None] * steps[None, :outputs], n)
    return torch.cos(angles)[where], torch.sin(angles)[where]


def _scale(lengths: list[int], norm: str | None) -> float:
    """torch.fft's normalization: none ("backward"), 1/sqrt(N) ("ortho") or 1/N ("forward")."""
    size = math.prod(lengths)
    return {None: 1.0, "backward": 1.0, "ortho": 1 / math.sqrt(size), "forward": 1 / size}[norm]
