"""Ops torch-mlir does not lower (wafer/unlowered_ops.py), decomposed before
import, against PyTorch: each failed to compile before."""

import math

import pytest
import torch

import wafer
from torch_reference import Lambda, compile_checked


@pytest.mark.parametrize("size,kernel,padding,stride", [((12, 12), 3, 1, 1), ((13, 11), (3, 2), (2, 1), 2)])
def test_a_fold_with_padding_folds_onto_the_padded_image_and_crops(size, kernel, padding, stride):
    """Overlapping windows sum where they meet, taps on the padding drop."""
    torch.manual_seed(0)
    fold = torch.nn.Fold(size, kernel, padding=padding, stride=stride)
    unfold = torch.nn.Unfold(kernel, padding=padding, stride=stride)
    columns = unfold(torch.randn(2, 3, *size))
    compile_checked(fold, (columns,), threads=1)


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_over_one_sequence_and_a_batch_of_them(right):
    """Values equal to an element of the sequence tell left from right."""
    torch.manual_seed(0)
    edges = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    values = torch.cat([torch.randn(2, 7), edges.repeat(2, 1)], 1)
    one = Lambda(lambda v: torch.searchsorted(edges, v, right=right))
    compiled = compile_checked(one, (values,), threads=1)
    assert compiled(values).dtype == torch.int64
    batch = torch.randn(2, 6).sort(-1).values
    rows = Lambda(lambda s, v: torch.searchsorted(s, v, side="right" if right else "left", out_int32=True))
    compiled = compile_checked(rows, (batch, torch.cat([values, batch], 1)), threads=1)
    assert compiled(batch, torch.randn(2, 18)).dtype == torch.int32


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, math.inf])
@pytest.mark.parametrize("rows", [5, 30])  # torch takes a matrix product for p = 2 beyond 25 rows
def test_cdist_as_torch_computes_it(p, rows):
    torch.manual_seed(0)
    a, b = torch.randn(2, rows, 8), torch.randn(2, 7, 8)
    b[:, 0] = a[:, 0]  # a zero distance, which the matrix product's rounding keeps at or above zero
    a[0, 1, :4] = b[0, 2, :4]  # equal coordinates, which p = 0 does not count
    compile_checked(Lambda(lambda x, y: torch.cdist(x, y, p=p)), (a, b), threads=1)


def test_median_is_the_lower_one_and_a_row_with_a_nan_gives_the_nan():
    torch.manual_seed(0)
    x = torch.randperm(24).float().reshape(4, 6)  # no ties: which of equal elements is the median is torch's own
    x[2, 3] = float("nan")
    model = Lambda(lambda t: torch.median(t, dim=1, keepdim=True))
    values, indices = wafer.compile(model, (x,), threads=1)(x)
    expected = torch.median(x, dim=1, keepdim=True)
    torch.testing.assert_close(values, expected.values, equal_nan=True)
    assert torch.equal(indices, expected.indices)
    compile_checked(Lambda(lambda t: torch.median(t[:2])), (x,), threads=1)  # of 12: the lower of the middle two


def test_erfinv_within_an_ulp_up_to_the_ends():
    """Near +-1 a float erf's rounding moved the Newton steps by a percent."""
    torch.manual_seed(0)
    y = torch.cat([torch.rand(4000) * 2 - 1, torch.tensor([1.0, -1.0, 1.5, -0.0, 0.99999994, -0.9999999, 1e-8])])
    compiled = wafer.compile(Lambda(torch.erfinv), (y,), threads=1)
    torch.testing.assert_close(compiled(y), torch.erfinv(y), rtol=2 * torch.finfo(torch.float32).eps, atol=0,
                               equal_nan=True)
