"""Nearest upsampling by whole factors (wafer/nearest_upsampling.py) against PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torch_reference import compile_checked
from wafer.frontend import import_model
from wafer.nearest_upsampling import source_indices
from wafer.passes.pass_base import find_ops


class Upsample(torch.nn.Module):
    def __init__(self, **interpolate):
        super().__init__()
        self.interpolate = interpolate

    def forward(self, x):
        return F.interpolate(torch.relu(x) - 0.25, **self.interpolate)


def _gathers(model, x) -> int:
    module = import_model(model, (x,))
    return len(find_ops(module.operation, lambda op: op.name == "tensor.extract"))


@pytest.mark.parametrize("shape,interpolate", [
    ((2, 5, 7, 9), dict(scale_factor=2)),  # FPN's and YOLO's top-down path
    ((1, 3, 5, 6), dict(scale_factor=(4, 2))),
    ((1, 2, 7, 5), dict(scale_factor=3)),
    ((1, 2, 5, 6), dict(size=(10, 6))),  # the width as it is
    ((1, 2, 4, 6), dict(size=(12, 18), mode="nearest-exact")),
    ((2, 3, 9), dict(scale_factor=5)),  # audio
    ((1, 2, 3, 4, 5), dict(scale_factor=(1, 2, 3))),  # video
])
def test_whole_factors_broadcast_and_match_pytorch(shape, interpolate):
    torch.manual_seed(0)
    model, x = Upsample(**{"mode": "nearest", **interpolate}), torch.randn(*shape)
    assert _gathers(model, x) == 0
    compile_checked(model, (x,), threads=1)


@pytest.mark.parametrize("shape,interpolate", [
    ((1, 2, 5, 6), dict(size=(7, 13))),  # no whole factor
    ((1, 2, 4, 6), dict(scale_factor=1.5)),
])
def test_other_sizes_are_left_to_torch_mlir(shape, interpolate):
    torch.manual_seed(0)
    model, x = Upsample(mode="nearest", **interpolate), torch.randn(*shape)
    assert _gathers(model, x) > 0
    compile_checked(model, (x,), threads=1)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("size,outputs,scale", [(7, 21, 3.0), (13, 91, None), (6, 9, 1.5), (300, 3300, 11.0)])
def test_source_indices_are_pytorchs(size, outputs, scale, exact):
    """Upsampling the column numbers gives the table."""
    columns = torch.arange(size, dtype=torch.float32).reshape(1, 1, size)
    expected = F.interpolate(columns, size=None if scale else outputs, scale_factor=scale,
                             mode="nearest-exact" if exact else "nearest")[0, 0]
    np.testing.assert_array_equal(source_indices(size, outputs, scale, exact), expected.numpy().astype(np.int64))
