"""Embedding bags (wafer/embedding_bags.py) computed by gathers and reductions
before import, in every mode, against PyTorch."""

import pytest
import torch

from torch_reference import compile_checked
from wafer.frontend import import_model
from wafer.passes.pass_base import find_ops


def _matmuls(model, inputs) -> int:
    module = import_model(model, inputs)
    return len(find_ops(module.operation, lambda op: op.name in ("linalg.matmul", "linalg.batch_matmul")))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_bags_of_one_length_reduce_their_rows_without_a_matmul(mode, padding_idx):
    """A 2-D batch: the second bag is all padding (zeros, and no division by zero
    in a mean), the third holds it once (left out of the count)."""
    torch.manual_seed(0)
    model = torch.nn.EmbeddingBag(50, 24, mode=mode, padding_idx=padding_idx).eval()
    ids = torch.randint(4, 50, (5, 3))
    ids[1] = 3
    ids[2, 0] = 3
    assert _matmuls(model, (ids,)) == 0
    compile_checked(model, (ids,), threads=1)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_bags_at_offsets_follow_the_offsets_given_at_run_time(mode, include_last_offset):
    """Compiled for one set of offsets, run with others: an empty bag is zeros."""
    torch.manual_seed(0)
    model = torch.nn.EmbeddingBag(40, 16, mode=mode, include_last_offset=include_last_offset).eval()
    ids = torch.randint(0, 40, (10,))
    end = [10] if include_last_offset else []  # the last bag's end, given as an offset
    compiled = compile_checked(model, (ids, torch.tensor([0, 2, 5, 7] + end)), threads=1)
    for starts in ([0, 0, 9, 10], [0, 4, 4, 4], [0, 1, 2, 3]):
        offsets = torch.tensor(starts + end)
        torch.testing.assert_close(compiled(ids, offsets), model(ids, offsets))


def test_per_sample_weights_scale_the_rows_of_a_sum():
    torch.manual_seed(0)
    model = torch.nn.EmbeddingBag(30, 8, mode="sum").eval()
    ids, weights = torch.randint(0, 30, (9,)), torch.rand(9)
    compiled = compile_checked(model, (ids, torch.tensor([0, 4, 6]), weights), threads=1)
    offsets = torch.tensor([0, 1, 8])
    torch.testing.assert_close(compiled(ids, offsets, weights), model(ids, offsets, weights))


def test_an_embedding_bag_in_a_model_matches_at_two_threads():
    """A text classifier's bag of words then a linear head (the mean bag failed to import)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.EmbeddingBag(1000, 64), torch.nn.Linear(64, 4)).eval()
    compiled = compile_checked(model, (torch.randint(0, 1000, (32, 20)),), threads=2)
    other = torch.randint(0, 1000, (32, 20))
    torch.testing.assert_close(compiled(other), model(other), rtol=1e-4, atol=1e-4)


def test_max_bags_at_offsets_run_on_the_wse_target():
    torch.manual_seed(0)
    model = torch.nn.EmbeddingBag(100, 32, mode="max").eval()
    compiled = compile_checked(model, (torch.randint(0, 100, (30,)), torch.tensor([0, 5, 5, 17])), target="wse")
    ids, offsets = torch.randint(0, 100, (30,)), torch.tensor([0, 12, 29, 30])
    torch.testing.assert_close(torch.as_tensor(compiled(ids, offsets)), model(ids, offsets))
