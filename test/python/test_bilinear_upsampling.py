"""Bilinear upsampling by whole factors (wafer/bilinear_upsampling.py) against PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torch_reference import compile_checked
from wafer.bilinear_upsampling import source_columns, upsample_bilinear
from wafer.frontend import import_model
from wafer.passes.pass_base import find_ops


class Upsample(torch.nn.Module):
    def __init__(self, **interpolate):
        super().__init__()
        self.interpolate = interpolate

    def forward(self, x):
        return F.interpolate(torch.relu(x) - 0.25, mode="bilinear", **self.interpolate)


def _gathers(model, x) -> int:
    module = import_model(model, (x,))
    return len(find_ops(module.operation, lambda op: op.name == "tensor.extract"))


@pytest.mark.parametrize("shape,interpolate", [
    ((1, 21, 14, 14), dict(size=(224, 224))),  # DeepLabv3's class maps
    ((2, 5, 7, 9), dict(scale_factor=2)),
    ((1, 3, 5, 6), dict(scale_factor=(4, 2))),
    ((1, 2, 1, 1), dict(scale_factor=8)),
    ((1, 2, 5, 6), dict(size=(5, 12))),  # the height as it is
    ((1, 2, 7, 5), dict(scale_factor=3)),  # on short rows 1/3's rounding does not drift
])
def test_whole_factors_blend_slices_and_match_pytorch(shape, interpolate):
    """No element is gathered, and the edges (clamped source columns) match too."""
    torch.manual_seed(0)
    model, x = Upsample(**interpolate), torch.randn(*shape)
    assert _gathers(model, x) == 0
    compile_checked(model, (x,), threads=1)


@pytest.mark.parametrize("shape,interpolate", [
    ((1, 2, 5, 6), dict(size=(7, 13))),  # no whole factor
    ((1, 2, 4, 64), dict(scale_factor=3)),  # 1/3 is inexact: the weights drift along the row
    ((1, 2, 6, 6), dict(scale_factor=2, align_corners=True)),  # weights that change column by column
])
def test_other_sizes_are_left_to_torch_mlir(shape, interpolate):
    torch.manual_seed(0)
    model, x = Upsample(**interpolate), torch.randn(*shape)
    assert _gathers(model, x) > 0
    compile_checked(model, (x,), threads=1)


def test_source_columns_are_pytorchs():
    """The tables reproduce PyTorch's weights: blending an identity image gives
    F.interpolate of it, column by column."""
    size, outputs = 7, 28
    i0, i1, l0, l1 = source_columns(size, outputs, False, None)
    weights = np.zeros((outputs, size), np.float32)
    np.add.at(weights, (np.arange(outputs), i0), l0)
    np.add.at(weights, (np.arange(outputs), i1), l1)
    eye = torch.eye(size).reshape(1, 1, size, size)
    expected = F.interpolate(eye, size=(size, outputs), mode="bilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose(weights.T, expected.numpy(), atol=1e-7)


def test_other_dtypes_are_declined():
    assert upsample_bilinear(torch.randn(1, 1, 4, 4, dtype=torch.float64), [8, 8], False) is NotImplemented
