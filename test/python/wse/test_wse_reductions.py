"""Reductions on the wafer along any dim, after the elementwise ops that share
their region: each must be combined whole, never per PE row."""

import pytest
import torch

import wafer

F = torch.nn.functional


class ScaledLogSoftmax(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.log_softmax(x * 2, self.dim)


@pytest.mark.parametrize("mode", ["pipelined", "whole-wafer"])
@pytest.mark.parametrize("shape, dim", [((13, 5), 0), ((13, 5), 1), ((13, 5, 24), 0), ((13, 5, 24), 1), ((13, 5, 24), 2)])
def test_softmax_after_an_elementwise_op_matches_along_any_dim(shape, dim, mode):
    torch.manual_seed(0)
    x = torch.rand(shape)
    model = ScaledLogSoftmax(dim)
    result = wafer.compile(model, (x,), target="wse", mode=mode)(x)
    torch.testing.assert_close(result, model(x), rtol=1e-5, atol=1e-5)
