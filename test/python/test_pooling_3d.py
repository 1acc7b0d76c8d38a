"""3-D max pooling (wafer/max_pool3d.py) and 3-D adaptive average pooling
(wafer/adaptive_pooling.py), decomposed before import, against PyTorch."""

import pytest
import torch

import wafer
from torch_reference import compile_checked
from wafer.frontend import import_model
from wafer.passes.pass_base import find_ops


def _ops(model, x, name: str) -> int:
    module = import_model(model, (x,))
    return len(find_ops(module.operation, lambda op: op.name == name))


@pytest.mark.parametrize("pool,shape,strategies", [
    # C3D's and I3D's: padding on every side of the box.
    (dict(kernel_size=3, stride=2, padding=1), (2, 3, 7, 12, 10), ["max pool 3x3/2", "max pool 3x1/1"]),
    # S3D's: each depth slice pooled on its own, one 2-D pool.
    (dict(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)), (1, 4, 3, 9, 9), ["max pool 3x3/2"]),
    (dict(kernel_size=2), (1, 2, 5, 8, 9), ["max pool 2x2/2", "max pool 2x1/1"]),
    (dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), dilation=(2, 1, 1), ceil_mode=True), (1, 3, 6, 11, 13), []),
])
def test_max_pool3d_is_two_max_pools_and_matches_pytorch(pool, shape, strategies):
    """NaNs and -inf padding: the maximum keeps a NaN as PyTorch's pool does."""
    torch.manual_seed(0)
    model = torch.nn.MaxPool3d(**pool).eval()
    x = torch.randn(*shape)
    x[0, 0, 1, 2, 3] = float("nan")
    assert _ops(model, x, "linalg.pooling_nchw_max") == len(strategies) or not strategies
    compiled = wafer.compile(model, (x,), threads=1)
    reported = compiled.compile_report.strategies
    assert all(any(s.startswith(want) for s in reported) for want in strategies), reported
    torch.testing.assert_close(compiled(x), model(x), equal_nan=True)


def test_an_unbatched_max_pool3d_is_a_batch_of_one():
    """torch-mlir lowers no 4-D max_pool3d: it failed to import."""
    torch.manual_seed(0)
    model, x = torch.nn.MaxPool3d(2), torch.randn(3, 4, 6, 6)
    assert _ops(model, x, "linalg.pooling_nchw_max") == 2
    compile_checked(model, (x,), threads=1)


@pytest.mark.parametrize("shape,output_size", [
    ((2, 8, 4, 7, 7), 1),  # a video classifier's head: one reduction over D*H*W
    ((1, 3, 4, 6, 6), (2, 3, 1)),
    ((1, 3, 5, 7, 6), (2, 3, 4)),  # windows of more than one size
])
def test_adaptive_avg_pool3d_gathers_nothing_and_matches_pytorch(shape, output_size):
    torch.manual_seed(0)
    model, x = torch.nn.AdaptiveAvgPool3d(output_size), torch.randn(*shape)
    assert _ops(model, x, "tensor.extract") == 0
    compile_checked(model, (x,), threads=1)
