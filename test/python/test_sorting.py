"""Sorts and top-k on the CPU target (wafer-sorted-prefix, wafer-sort-rows) against PyTorch.

Wafer sorts stably: where a row holds ties, its values and indices are
those of PyTorch's stable sort (PyTorch's own topk and default sort may
order ties otherwise).
"""

import pytest
import torch

import wafer
from torch_reference import Lambda


def _stable(x, dim, descending, k=None):
    values, indices = torch.sort(x, dim=dim, descending=descending, stable=True)
    return (values, indices) if k is None else (values.narrow(dim, 0, k), indices.narrow(dim, 0, k))


def _rows(kind: str, shape) -> torch.Tensor:
    torch.manual_seed(0)
    if kind == "random":
        return torch.randn(*shape)
    x = torch.randint(0, 4, shape).float()  # ties
    if kind == "special":
        flat = x.view(-1)
        flat[::7], flat[::5], flat[::11] = float("nan"), float("-inf"), float("inf")
    return x


# (sort, shape, its stable reference): top-k with a short prefix (insertion), a
# long one and whole rows (merge sort), along the last dim and others.
CASES = {
    "top-5": (lambda x: x.topk(5, -1), (6, 50), lambda x: _stable(x, -1, True, 5)),
    "smallest 3": (lambda x: x.topk(3, -1, largest=False), (6, 50), lambda x: _stable(x, -1, False, 3)),
    "top-4 along dim 0": (lambda x: x.topk(4, 0), (30, 7), lambda x: _stable(x, 0, True, 4)),
    "top-4 along dim 1 of 3": (lambda x: x.topk(4, 1), (2, 30, 7), lambda x: _stable(x, 1, True, 4)),
    "top-130 of 150": (lambda x: x.topk(130, -1), (3, 150), lambda x: _stable(x, -1, True, 130)),
    "top-10 of 1000, 16 compared at once": (lambda x: x.topk(10, -1), (4, 1000), lambda x: _stable(x, -1, True, 10)),
    "sort": (lambda x: x.sort(-1), (3, 37), lambda x: _stable(x, -1, False)),
    "sort descending": (lambda x: x.sort(-1, descending=True), (5, 40), lambda x: _stable(x, -1, True)),
    "sort along dim 0": (lambda x: x.sort(0), (300, 3), lambda x: _stable(x, 0, False)),
    "slice of a sort": (lambda x: x.sort(-1)[0][:, 3:9], (5, 40), lambda x: _stable(x, -1, False)[0][:, 3:9]),
    "stable argsort": (lambda x: torch.argsort(x, stable=True), (5, 40), lambda x: _stable(x, -1, False)[1]),
}


@pytest.mark.parametrize("kind", ["random", "ties", "special"])
@pytest.mark.parametrize("name", CASES)
def test_sorts_match_pytorchs_stable_sort(name, kind):
    """NaN sorts as the greatest value, -inf and inf in place, ties in row order."""
    sort, shape, reference = CASES[name]
    x = _rows(kind, shape)
    compiled = wafer.compile(Lambda(sort), (x,), threads=1)
    got, want = compiled(x), reference(x)
    got, want = (r if isinstance(r, (tuple, list)) else (r,) for r in (got, want))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(torch.as_tensor(g), w, equal_nan=True)


def test_an_unsorted_topk_has_the_top_values():
    """torch-mlir lowers only a sorted topk: the unsorted one failed to import."""
    x = _rows("random", (4, 30))
    compiled = wafer.compile(Lambda(lambda x: x.topk(6, -1, sorted=False)), (x,), threads=1)
    values, indices = (torch.as_tensor(r) for r in compiled(x))
    torch.testing.assert_close(values.sort(-1)[0], x.topk(6, -1)[0].sort(-1)[0])
    torch.testing.assert_close(x.gather(-1, indices), values)
