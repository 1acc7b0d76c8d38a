"""Reductions on the wafer along any dim, after the elementwise ops that share
their region: each must be combined whole, never per PE row."""

import pytest
import torch
from torch_reference import Lambda

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


# Arg-max and arg-min: one linalg.generic with two results (the running extreme
# and its index). wse-partition gives every used result its own region and
# wse-distribute never splits such a reduction over PEs (its partial results do
# not combine), so each PE reduces its rows whole.

ARG_REDUCTIONS = {
    "argmax_dim1": (lambda x: torch.argmax(x, 1), (3, 4, 4)),
    "argmin_dim1": (lambda x: torch.argmin(x, 1), (3, 4, 4)),
    "argmax_dim0": (lambda x: torch.argmax(x, 0), (3, 4, 4)),
    "argmax_last_dim": (lambda x: torch.argmax(x, -1), (8, 64, 100)),
    "argmax_keepdim": (lambda x: torch.argmax(x, 2, keepdim=True), (3, 4, 5)),
    "argmax_flattened": (lambda x: torch.argmax(x), (3, 4, 4)),
    "max_values_and_indices": (lambda x: tuple(torch.max(x, 1)), (3, 4, 4)),
    "min_values_and_indices_last_dim": (lambda x: tuple(torch.min(x, -1)), (2, 5, 7)),
    "max_values_and_indices_used_after": (lambda x: (lambda v, i: v * 2 + i)(*torch.max(x, 2)), (3, 4, 6)),
    "argmax_of_softmax": (lambda x: torch.argmax(torch.softmax(x, -1), -1), (4, 16, 33)),
}


@pytest.mark.parametrize("mode", ["pipelined", "whole-wafer"])
@pytest.mark.parametrize("name", ARG_REDUCTIONS)
def test_arg_reductions_match_pytorch(name, mode):
    fn, shape = ARG_REDUCTIONS[name]
    torch.manual_seed(0)
    x = torch.randn(shape)
    got = wafer.compile(Lambda(fn), (x,), target="wse", machine="small", mode=mode)(x)
    expected = fn(x)
    got, expected = (got, expected) if isinstance(expected, tuple) else ((got,), (expected,))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        torch.testing.assert_close(g, e)
