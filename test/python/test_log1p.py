"""wafer-log1p's log1p, and the softplus and log-sigmoid tails built on it, against PyTorch."""

import pytest
import torch

import wafer
from torch_reference import Lambda

SMALL = [1e-30, -1e-20, 1e-9, 1e-6, -1e-6, 9.1e-4, 0.1, -0.5, 3.0, 1e30, -0.0, -1.0, -2.0, float("inf"), float("nan")]


@pytest.mark.parametrize("shape", [(16,), (32, 16)])  # scalar code, and whole vectors
@pytest.mark.parametrize("function", [torch.log1p, torch.nn.functional.softplus,
                                      lambda x: torch.nn.functional.logsigmoid(-x)], ids=["log1p", "softplus", "logsigmoid"])
def test_small_arguments_keep_their_digits(function, shape):
    """log1p(1e-6) was 4.6% low (log(1 + x)), softplus(-20) and logsigmoid(20) were 0."""
    x = torch.tensor(SMALL + [-20.0]).expand(*shape[:-1], len(SMALL) + 1).contiguous()
    model = Lambda(function)
    torch.testing.assert_close(wafer.compile(model, (x,), threads=1)(x), model(x), rtol=2e-7, atol=0, equal_nan=True)
