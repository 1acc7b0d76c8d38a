"""A convolution alone, to benchmark: its algorithm, or the im2col contraction it becomes.

An im2col matmul's B is the gather's columns, copied from the image inside the
packed kernel's cache tiles: timing the matmul on ready-made columns would miss
that copy, whose cost depends on the tiles too. `Convolution` keeps what
rebuilds the convolution (its padded image, window, strides and dilations);
measure.py compiles it through wafer-im2col's own rewrite, or through each
algorithm that may compute it (wafer-winograd's, wafer-direct-conv's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir

from ..passes.linalg_builders import int_list
from ..passes.linalg_queries import dim_coefficients, indexing_maps

# The benchmark's per-channel bias: any value that does not fold away.
BIAS = 0.5

# What may compute a convolution: wafer-winograd, wafer-direct-conv, and
# wafer-im2col's contraction as C = W x columns or, swapped by
# wafer-orient-contractions, as C^T = columns^T x W^T.
ALGORITHMS = ("winograd", "direct", "im2col", "im2col-swapped")


def algorithm_of(strategies: list[str]) -> str:
    """Which algorithm a compile report's strategies say computed a lone convolution."""
    if any(s.startswith("winograd") for s in strategies):
        return "winograd"
    if any(s.startswith("direct conv") for s in strategies):
        return "direct"
    return "im2col-swapped" if any(s.startswith("oriented") for s in strategies) else "im2col"


# The gather's loops, as wafer-im2col builds it: (n, c, kh, kw, oh, ow).
_KH, _KW, _OH, _OW = 2, 3, 4, 5


@dataclass(frozen=True)
class Convolution:
    """A stride-and-dilation NCHW convolution of an already padded image."""

    image: tuple[int, int, int, int]  # N, C, H, W (padding included)
    filters: int
    window: tuple[int, int]  # KH, KW
    output: tuple[int, int]  # OH, OW
    strides: tuple[int, int]
    dilations: tuple[int, int]

    @classmethod
    def of_gather(cls, gather: ir.OpView, filters: int) -> Convolution | None:
        """Read a wafer-im2col gather: image[n, c, oh*sh + kh*dh, ow*sw + kw*dw].
        None for a grouped convolution's (its loops carry a group dim): its
        contraction is timed alone, on ready-made columns."""
        image = tuple(ir.RankedTensorType(gather.operands[0].type).shape)
        if len(image) != 4:
            return None
        _, _, kh, kw, oh, ow = ir.RankedTensorType(gather.results[0].type).shape
        rows, cols = indexing_maps(gather)[0].results[2:]
        rows, cols = dim_coefficients(rows), dim_coefficients(cols)
        return cls(image, filters, (kh, kw), (oh, ow), (rows.get(_OH, 0), cols.get(_OW, 0)),
                   (rows.get(_KH, 0), cols.get(_KW, 0)))

    @classmethod
    def of_op(cls, conv: ir.OpView) -> Convolution:
        """Read a `linalg.conv_2d_nchw_fchw` of a padded image."""
        image = tuple(ir.RankedTensorType(conv.operands[0].type).shape)
        filters, _, kh, kw = ir.RankedTensorType(conv.operands[1].type).shape
        _, _, oh, ow = ir.RankedTensorType(conv.results[0].type).shape
        strides, dilations = (tuple(int_list(conv.attributes[name])) for name in ("strides", "dilations"))
        return cls(image, filters, (kh, kw), (oh, ow), strides, dilations)

    def key(self, threads: int) -> str:
        """The tuning database's key of its algorithm at `threads`: stable text."""
        return f"conv {self.describe()} f32 threads={threads}"

    def describe(self) -> str:
        (kh, kw), (sh, sw), (dh, dw) = self.window, self.strides, self.dilations
        image = "x".join(map(str, self.image))
        return f"{image} -> {self.filters} {kh}x{kw} stride {sh},{sw} dilation {dh},{dw}"

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.filters, self.image[1], *self.window)

    def module_text(self) -> str:
        """The convolution with what a CNN's convolution is followed by: a
        per-channel bias (its init, as torch-mlir builds it) and a ReLU, which
        the algorithm's result layout lets fuse into its loops or not. The image
        is an argument, the weights a placeholder constant."""
        x, w = tensor_type(self.image), tensor_type(self.weight_shape)
        out = tensor_type((self.image[0], self.filters, *self.output))
        strides, dilations = (f"dense<[{a}, {b}]> : tensor<2xi64>" for a, b in (self.strides, self.dilations))
        identity = "affine_map<(n, f, h, w) -> (n, f, h, w)>"
        return (f"func.func @forward(%x: {x}) -> {out} {{\n"
                f"  %w = arith.constant dense<0.0> : {w}\n"
                f"  %bias = arith.constant dense<{BIAS}> : tensor<{self.filters}xf32>\n"
                f"  %zero = arith.constant 0.0 : f32\n"
                f"  %e = tensor.empty() : {out}\n"
                f"  %init = linalg.broadcast ins(%bias : tensor<{self.filters}xf32>) outs(%e : {out}) "
                f"dimensions = [0, 2, 3]\n"
                f"  %r = linalg.conv_2d_nchw_fchw {{strides = {strides}, dilations = {dilations}}} "
                f"ins(%x, %w : {x}, {w}) outs(%init : {out}) -> {out}\n"
                f"  %y = linalg.generic {{indexing_maps = [{identity}, {identity}], iterator_types = "
                f"[\"parallel\", \"parallel\", \"parallel\", \"parallel\"]}} ins(%r : {out}) outs(%e : {out}) {{\n"
                f"  ^bb0(%in: f32, %unused: f32):\n"
                f"    %relu = arith.maximumf %in, %zero : f32\n"
                f"    linalg.yield %relu : f32\n"
                f"  }} -> {out}\n"
                f"  return %y : {out}\n}}\n")

    def reference(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """What `module_text` computes, in numpy, as the gather and the matmul do."""
        (kh, kw), (oh, ow) = self.window, self.output
        (sh, sw), (dh, dw) = self.strides, self.dilations
        rows = (np.arange(kh)[:, None] * dh + np.arange(oh)[None, :] * sh)[:, None, :, None]
        cols = (np.arange(kw)[:, None] * dw + np.arange(ow)[None, :] * sw)[None, :, None, :]
        columns = x[:, :, rows, cols]  # n, c, kh, kw, oh, ow
        return np.maximum(np.einsum("fckl,ncklpq->nfpq", w, columns, optimize=True) + BIAS, 0)


def tensor_type(shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"
