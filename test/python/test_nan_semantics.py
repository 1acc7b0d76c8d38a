"""NaN in, NaN out, where eager has it: the clamp family, elementwise max/min,
self-comparisons and argmax/argmin, whose torch-mlir lowerings drop a NaN
(wafer/nan_semantics.py), and sorts, which placed it among the numbers. Each program is checked against eager on inputs
with NaN in either operand, and with infinities."""

import pytest
import torch

import wafer

F = torch.nn.functional
NAN, INF = float("nan"), float("inf")

PROGRAMS = {
    "clamp": lambda x, y: torch.clamp(x, -0.5, 0.5),
    "clamp_min": lambda x, y: torch.clamp(x, min=0.1),
    "clamp_max_tensor": lambda x, y: torch.clamp(x, max=y),
    "relu6": lambda x, y: F.relu6(x),
    "hardtanh": lambda x, y: F.hardtanh(x, -2.0, 2.0),
    "threshold": lambda x, y: F.threshold(x, 0.15, 2.0),
    "maximum": lambda x, y: torch.maximum(x, y),
    "minimum": lambda x, y: torch.minimum(x, y),
    "max_of_two": lambda x, y: torch.max(x, y),
    "equal_to_itself": lambda x, y: x == x,
    "not_equal_to_itself": lambda x, y: x != x,
    "at_least_itself": lambda x, y: x >= x,
    "argmax": lambda x, y: x.argmax(-1),
    "argmin_keepdim": lambda x, y: x.argmin(0, keepdim=True),
    "argmax_flat": lambda x, y: x.argmax(),
    # sort NaN as the greatest value (passes/sort_nan_order.py)
    "sort": lambda x, y: torch.sort(x, -1),
    "sort_descending": lambda x, y: torch.sort(y, 0, descending=True),
    "argsort": lambda x, y: torch.argsort(y, -1),
    "topk": lambda x, y: torch.topk(x, 2, -1),
    "topk_smallest": lambda x, y: torch.topk(y, 3, -1, largest=False),
    # a NaN made inside the program: the variance of one element
    "relu6_of_variance_of_one": lambda x, y: F.relu6(torch.var(x[:, :1], -1)),
}


class Program(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x, y):
        return self.function(x, y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", PROGRAMS)
def test_nan_comes_back_where_eager_has_it(name, dtype):
    x = torch.tensor([[NAN, 1.0, -1.0, 0.2], [0.3, NAN, INF, -INF], [0.5, -3.0, 4.0, 0.1]], dtype=dtype)
    y = torch.tensor([[0.5, NAN, 0.0, 0.1], [NAN, 0.2, 0.1, NAN], [0.7, -5.0, NAN, 0.0]], dtype=dtype)
    program = Program(PROGRAMS[name])
    with torch.no_grad():
        expected = program(x, y)
    result = wafer.compile(program, (x, y), target="cpu")(x, y)
    torch.testing.assert_close(result, expected, rtol=0, atol=0, equal_nan=True)


def test_integer_max_is_unchanged():
    """Only float ops are rewritten: an integer maximum has no NaN to carry."""
    program = Program(lambda x, y: torch.maximum(x, y).argmax(-1))
    x, y = torch.randint(-9, 9, (3, 5)), torch.randint(-9, 9, (3, 5))
    torch.testing.assert_close(wafer.compile(program, (x, y), target="cpu")(x, y), program(x, y))
