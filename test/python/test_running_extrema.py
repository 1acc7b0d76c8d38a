"""cummax and cummin (wafer/running_extrema.py), which torch-mlir does not lower:
values and indices equal to torch's, ties and NaNs included."""

import math

import pytest
import torch
from torch_reference import Lambda

import wafer


_SEEDED = torch.Generator().manual_seed(0)


def _same(got, want) -> bool:
    return torch.equal(torch.as_tensor(got).nan_to_num(123.0), want.nan_to_num(123.0))


@pytest.mark.parametrize("fn", [torch.cummax, torch.cummin], ids=["cummax", "cummin"])
@pytest.mark.parametrize("x, dim", [
    (torch.tensor([[1.0, 1.0, 0.0, 1.0, 3.0, 3.0, math.nan, 5.0, math.nan, 2.0]]), 1),  # ties, NaNs
    (torch.randn(3, 37, 5, generator=_SEEDED), 1),
    (torch.randn(3, 37, 5, generator=_SEEDED), -1),
    (torch.randn(3, 37, 5, generator=_SEEDED), 0),
    (torch.randint(0, 4, (4, 33), generator=_SEEDED), 1),  # integers: many ties
    (torch.randn(2, 1000, generator=_SEEDED), 1),
], ids=["ties_and_nans", "middle_dim", "last_dim", "first_dim", "integers", "long_rows"])
def test_values_and_indices_as_torch(fn, x, dim):
    values, indices = wafer.compile(Lambda(lambda a: fn(a, dim)), (x,))(x)
    expected = fn(x, dim)
    assert _same(values, expected.values) and torch.equal(torch.as_tensor(indices), expected.indices)
