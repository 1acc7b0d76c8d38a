"""The convolution behind an im2col contraction, so that its benchmark includes the gather.

An im2col matmul's B is the gather's columns, copied from the image inside the
packed kernel's cache tiles: timing the matmul on ready-made columns would miss
that copy, whose cost depends on the tiles too. `Im2colConv` keeps what
rebuilds the convolution (its padded image, window, strides and dilations);
measure.py compiles it through wafer-im2col's own rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir

from ..passes.linalg_queries import dim_coefficients, indexing_maps

# The gather's loops, as wafer-im2col builds it: (n, c, kh, kw, oh, ow).
_KH, _KW, _OH, _OW = 2, 3, 4, 5


@dataclass(frozen=True)
class Im2colConv:
    """A stride-and-dilation NCHW convolution of an already padded image."""

    image: tuple[int, int, int, int]  # N, C, H, W (padding included)
    filters: int
    window: tuple[int, int]  # KH, KW
    output: tuple[int, int]  # OH, OW
    strides: tuple[int, int]
    dilations: tuple[int, int]

    @classmethod
    def of_gather(cls, gather: ir.OpView, filters: int) -> Im2colConv:
        """Read a wafer-im2col gather: image[n, c, oh*sh + kh*dh, ow*sw + kw*dw]."""
        image = tuple(ir.RankedTensorType(gather.operands[0].type).shape)
        _, _, kh, kw, oh, ow = ir.RankedTensorType(gather.results[0].type).shape
        rows, cols = indexing_maps(gather)[0].results[2:]
        rows, cols = dim_coefficients(rows), dim_coefficients(cols)
        return cls(image, filters, (kh, kw), (oh, ow), (rows.get(_OH, 0), cols.get(_OW, 0)),
                   (rows.get(_KH, 0), cols.get(_KW, 0)))

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.filters, self.image[1], *self.window)

    def module_text(self) -> str:
        """The convolution alone: the image an argument, the weights a placeholder constant."""
        x, w = tensor_type(self.image), tensor_type(self.weight_shape)
        out = tensor_type((self.image[0], self.filters, *self.output))
        strides, dilations = (f"dense<[{a}, {b}]> : tensor<2xi64>" for a, b in (self.strides, self.dilations))
        return (f"func.func @forward(%x: {x}) -> {out} {{\n"
                f"  %w = arith.constant dense<0.0> : {w}\n"
                f"  %zero = arith.constant 0.0 : f32\n"
                f"  %e = tensor.empty() : {out}\n"
                f"  %f = linalg.fill ins(%zero : f32) outs(%e : {out}) -> {out}\n"
                f"  %r = linalg.conv_2d_nchw_fchw {{strides = {strides}, dilations = {dilations}}} "
                f"ins(%x, %w : {x}, {w}) outs(%f : {out}) -> {out}\n"
                f"  return %r : {out}\n}}\n")

    def reference(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The convolution in numpy, as the gather and the matmul compute it."""
        (kh, kw), (oh, ow) = self.window, self.output
        (sh, sw), (dh, dw) = self.strides, self.dilations
        rows = (np.arange(kh)[:, None] * dh + np.arange(oh)[None, :] * sh)[:, None, :, None]
        cols = (np.arange(kw)[:, None] * dw + np.arange(ow)[None, :] * sw)[None, :, None, :]
        columns = x[:, :, rows, cols]  # n, c, kh, kw, oh, ow
        return np.einsum("fckl,ncklpq->nfpq", w, columns, optimize=True)


def tensor_type(shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"
