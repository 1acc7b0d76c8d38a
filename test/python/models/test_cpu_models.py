"""The bundled models, compiled for the CPU, against PyTorch at batch 1 and 3."""

import collections

import pytest
import torch

import wafer
from wafer.examples.models import EXAMPLES


def max_relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", ["mlp", "lenet", "resnet-block", "transformer"])
def test_model_matches_pytorch(name, batch):
    model, inputs = EXAMPLES[name].build(batch)
    compiled = wafer.compile(model, inputs, target="cpu")
    with torch.no_grad():
        expected = model(*inputs)
    got = compiled(*inputs)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert max_relative_error(got, expected) <= 1e-4


def test_numpy_in_numpy_out():
    model, (x,) = EXAMPLES["mlp"].build(2)
    compiled = wafer.compile(model, (x,))
    got = compiled(x.numpy())
    assert type(got).__name__ == "ndarray" and got.dtype.name == "float32"
    with torch.no_grad():
        assert max_relative_error(torch.from_numpy(got), model(x)) <= 1e-4


class TwoHeads(torch.nn.Module):
    def forward(self, x):
        return x.sum(dim=1), (x * 2).to(torch.int64)


def test_tuple_outputs_and_dtypes():
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    compiled = wafer.compile(TwoHeads(), (x,))
    total, doubled = compiled(x)
    assert isinstance(compiled(x), tuple)
    torch.testing.assert_close(total, x.sum(dim=1))
    assert doubled.dtype == torch.int64 and torch.equal(doubled, (x * 2).to(torch.int64))


class ListOfBoolAndInput(torch.nn.Module):
    def forward(self, x):
        return [x > 0, x]


def test_list_outputs_keep_their_type_and_dtypes():
    x = torch.randn(3, 4)
    got = wafer.compile(ListOfBoolAndInput(), (x,))(x)
    assert isinstance(got, list) and got[0].dtype == torch.bool
    assert torch.equal(got[0], x > 0) and torch.equal(got[1], x)


class SameTensorTwice(torch.nn.Module):
    def forward(self, x):
        y = torch.relu(x) * 2
        return y, y, x


@pytest.mark.parametrize("out_params", [True, False])
def test_a_tensor_returned_twice_gives_two_arrays(out_params):
    """Two results of one buffer: each gets its own array (no double free, no shared memory)."""
    x = torch.randn(3, 5)
    first, second, same = wafer.compile(SameTensorTwice(), (x,), out_params=out_params)(x)
    assert torch.equal(first, torch.relu(x) * 2) and torch.equal(second, first) and torch.equal(same, x)
    first[0, 0] = 100.0
    assert second[0, 0] != 100.0


class ReturnsDict(torch.nn.Module):
    def forward(self, x):
        return {"y": x + 1}


class ReturnsNested(torch.nn.Module):
    def forward(self, x):
        return x + 1, (x, x * 2)


class ReturnsString(torch.nn.Module):
    def forward(self, x):
        return x + 1, "done"


@pytest.mark.parametrize("model, returned", [(ReturnsDict(), "a dict"), (ReturnsNested(), "a nested tuple"),
                                             (ReturnsString(), "a value that is neither a tensor nor a number")])
def test_outputs_other_than_tensors_are_named(model, returned):
    with pytest.raises(wafer.WaferError, match=f"^error: the model returns {returned}; Wafer supports tensors"):
        wafer.compile(model, (torch.randn(3, 4),))


Extremes = collections.namedtuple("Extremes", "low high")


class ReturnsNamedTuples(torch.nn.Module):
    def forward(self, x):
        return Extremes(x.min(-1).values, x.max(-1).values)


class ReturnsTopk(torch.nn.Module):
    def forward(self, x):
        return torch.topk(x, 2)


@pytest.mark.parametrize("model, returned", [(ReturnsNamedTuples(), Extremes), (ReturnsTopk(), torch.return_types.topk)])
def test_named_tuples_come_back_as_their_type(model, returned):
    x = torch.randn(3, 5)
    result = wafer.compile(model, (x,))(x)
    assert type(result) is returned
    for got, want in zip(result, model(x)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


class WritesInPlace(torch.nn.Module):
    """Slice assignment: the exported graph mutates, so torch decomposes and functionalizes it."""

    def forward(self, x, y):
        z = x * 2
        z[:, 1:3] = y
        return z.relu()


class NeedsTorchDecompositions(torch.nn.Module):
    """aten.diff and aten.xlogy have no torch-mlir lowering; torch's decompositions reach them."""

    def forward(self, x):
        return torch.diff(x, dim=-1) + torch.xlogy(x.abs(), x.abs())[:, 1:]


@pytest.mark.parametrize("model, inputs", [
    (WritesInPlace(), (torch.randn(3, 5), torch.randn(3, 2))),
    (NeedsTorchDecompositions(), (torch.randn(4, 9),)),
], ids=["mutation", "torch-decompositions"])
def test_programs_the_direct_import_cannot_take_still_compile(model, inputs):
    compiled = wafer.compile(model, inputs, target="cpu")
    torch.testing.assert_close(compiled(*inputs), model(*inputs))


class UsesEigh(torch.nn.Module):
    def forward(self, x):
        return torch.linalg.eigvalsh(x)


def test_unsupported_model_fails_at_compile_time_with_op_name():
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(UsesEigh(), (torch.randn(4, 4),))
    message = str(info.value)
    assert message.startswith("error: the model uses torch.aten._linalg_eigh")
    assert "Traceback" not in message
