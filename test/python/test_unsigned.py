"""uint8 tensors: the ops Wafer runs on them match eager on values above 127,
and every other op on them is refused by name and place, never run signed."""

import pytest
import torch

import wafer
from wafer.unsigned_ops import CHECKED_ON_UINT8

CHECKED = {
    "add.Tensor": lambda x, y: x + y,  # wraps modulo 256
    "sub.Tensor": lambda x, y: x - y,
    "mul.Tensor": lambda x, y: x * y,
    "neg.default": lambda x, y: -x,
    "__and__.Tensor": lambda x, y: x & y,
    "bitwise_and.Tensor": lambda x, y: torch.bitwise_and(x, y),
    "bitwise_or.Tensor": lambda x, y: torch.bitwise_or(x, y),
    "__or__.Tensor": lambda x, y: x | y,
    "__xor__.Tensor": lambda x, y: x ^ y,
    "bitwise_xor.Tensor": lambda x, y: torch.bitwise_xor(x, y),
    "__rshift__.Scalar": lambda x, y: x >> 2,
    "__lshift__.Scalar": lambda x, y: x << 1,
    "maximum.default": lambda x, y: torch.maximum(x, y),
    "amax.default": lambda x, y: x.amax(),
    "argmax.default": lambda x, y: x.argmax(),
    "clamp.default": lambda x, y: x.clamp(130, 200),
    "gt.Tensor": lambda x, y: x > y,
    "lt.Tensor": lambda x, y: x < y,
    "le.Tensor": lambda x, y: x <= y,
    "ge.Tensor": lambda x, y: x >= y,
    "eq.Tensor": lambda x, y: x == y.roll(1, 0),
    "ne.Tensor": lambda x, y: x != y,
    "where.self": lambda x, y: torch.where(x > y, x, y),
    "to.dtype": lambda x, y: x.float() / 255,
    "cumsum.default": lambda x, y: x.cumsum(0),
}
REFUSED = {
    "floor_divide": lambda x, y: x // 3,
    "remainder": lambda x, y: x % 7,
    "min": lambda x, y: x.min(),
    "div": lambda x, y: x / 3,
    "sum": lambda x, y: x.sum(),
    "abs": lambda x, y: x.abs(),
    "sort": lambda x, y: torch.sort(x)[0],
    "eq": lambda x, y: x == 255,
    "rsub": lambda x, y: 3 - x,
}


class Layer(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x, y):
        return self.function(x, y)


class Model(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.head = Layer(function)

    def forward(self, x, y):
        return self.head(x, y)


def inputs():
    # Both halves of the range: an op lowered as signed gets the upper half wrong.
    return torch.tensor([0, 1, 127, 128, 200, 255], dtype=torch.uint8), torch.tensor(
        [255, 3, 128, 1, 100, 254], dtype=torch.uint8)


def test_the_checked_list_is_what_is_checked_here():
    assert set(CHECKED) == CHECKED_ON_UINT8 - {"_to_copy.default"}  # `to` exports as _to_copy when decomposed


@pytest.mark.parametrize("name", CHECKED)
def test_a_checked_op_matches_eager(name):
    x, y = inputs()
    expected = CHECKED[name](x, y)
    result = wafer.compile(Model(CHECKED[name]), (x, y))(x, y)
    assert result.dtype == expected.dtype
    torch.testing.assert_close(result, expected)


@pytest.mark.parametrize("name", REFUSED)
def test_another_op_is_refused_with_its_layer(name):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(Model(REFUSED[name]), inputs())
    message = str(info.value)
    assert message.startswith(f"{__file__}:")
    assert f": error: in layer 'head': Wafer does not run torch.aten.{name}." in message
    assert message.endswith("on uint8 tensors (torch-mlir lowers it as signed); convert to a wider integer type first")
