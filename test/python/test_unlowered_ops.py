"""Ops torch-mlir does not lower, or lowers wrongly (wafer/unlowered_ops.py and
the frontend's own list), decomposed before import, against PyTorch: each
failed to compile, stopped at run time or gave other values before."""

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


EDGES = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 2.5, -2.5, 7.0, -100.0, math.inf, -math.inf, math.nan])


def _same(compiled, reference, *inputs):
    """Equal values (NaN where PyTorch has NaN), in PyTorch's dtype."""
    got, want = compiled(*inputs), reference(*inputs)
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0, equal_nan=True)


@pytest.mark.parametrize("function", [
    torch.reciprocal,  # torch-mlir asserted that no element is zero
    lambda x: x.pow(-2), lambda x: x.pow(-3),  # upstream's fpowi expansion made every zero power -inf
    torch.nn.functional.logsigmoid,  # -inf below -88
    torch.nn.Softshrink(0.3),  # x - 0.3 below -0.3 too
    torch.isfinite,
    lambda x: torch.hypot(x, x.flip(0)),
    lambda x: torch.fmod(x, -2.0), lambda x: torch.fmod(x, x.flip(0)),
], ids=["reciprocal", "pow-2", "pow-3", "logsigmoid", "softshrink", "isfinite", "hypot", "fmod_scalar", "fmod_tensor"])
def test_float_ops_at_zeros_extremes_and_non_finites(function):
    model = Lambda(function)
    _same(wafer.compile(model, (EDGES,), threads=1), model, EDGES)


@pytest.mark.parametrize("function", [lambda x: x ** 3, lambda x: x ** 0, lambda x: torch.fmod(x, -3), torch.isfinite,
                                      torch.reciprocal], ids=["cube", "zeroth", "fmod", "isfinite", "reciprocal"])
def test_integer_ops(function):
    x = torch.arange(-7, 8)
    model = Lambda(function)
    _same(wafer.compile(model, (x,), threads=1), model, x)


def test_the_magnitude_of_complex_values():
    """A complex tensor's abs: torch-mlir made a math.absf of complex values, which the verifier refused."""
    x = torch.cat([torch.randn(6, 8, 2), torch.tensor([[[1e30, 1e30], [0.0, -0.0], [3.0, -4.0]]]).expand(6, 3, 2)], 1)
    model = Lambda(lambda parts: torch.view_as_complex(parts).abs())
    _same(wafer.compile(model, (x,), threads=1), model, x)


def test_histc_bins_as_torch_does_with_its_edges_given_or_taken_from_the_data():
    """The top edge counts in the last bin, values outside the edges in none;
    min equal to max takes the data's extrema, widened where they are equal."""
    torch.manual_seed(0)
    x = torch.cat([torch.tensor([-2.0, -1.0, -0.6, 0.0, 0.2, 0.3999, 0.4, 1.0, 1.5]), torch.randn(40)])
    compile_checked(Lambda(lambda t: (torch.histc(t, 5, -1, 1), torch.histc(t, 7), torch.histc(t, 3, 2, 2),
                                      torch.histc(t[:4] * 0 + 3, 4))), (x,), threads=1)
