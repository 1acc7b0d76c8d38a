"""Gathers of whole rows or matrices of a table copied a slice at a time (wafer-slab-gathers), against PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import wafer
from torch_reference import Lambda, compile_checked

TABLE, MATRICES = torch.randn(50, 32), torch.randn(6, 8, 16)
GATHERS = {
    "embedding": (lambda t, i: F.embedding(i, t) * 2, TABLE, torch.tensor([[0, 49, 7], [7, 3, 3]])),
    "index_select": (lambda t, i: torch.index_select(t, 0, i) + 1, MATRICES, torch.tensor([5, 0, 2, 2])),
    "negative": (lambda t, i: t[i], MATRICES, torch.tensor([-1, 3, -6])),
    # the product reads each gathered matrix from the table (wafer-gathered-batch-matmul)
    "batched_product": (lambda t, i: torch.bmm(torch.linspace(-1, 1, 96).reshape(4, 3, 8), t[i]), MATRICES,
                        torch.tensor([5, 0, 2, 2])),
    "batched_product_transposed": (lambda t, i: torch.bmm(torch.linspace(-1, 1, 192).reshape(4, 3, 16),
                                                          t[i].transpose(1, 2)), MATRICES, torch.tensor([1, 4, 4, 0])),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(GATHERS))
def test_each_slab_is_its_rows_of_the_table(name, threads):
    function, table, index = GATHERS[name]
    compiled = compile_checked(Lambda(function), (table, index), threads=threads)
    other = torch.flip(index, [-1])
    torch.testing.assert_close(compiled(table, other), function(table, other))


@pytest.mark.parametrize("name", list(GATHERS))
def test_an_index_past_the_table_raises_and_the_next_call_works(name):
    """The check runs once a slab, in a serial loop: a failed one raises."""
    function, table, index = GATHERS[name]
    compiled = wafer.compile(Lambda(function), (table, index), threads=2)
    with pytest.raises(wafer.WaferError, match="index"):
        compiled(table, torch.full_like(index, table.shape[0]))
    torch.testing.assert_close(torch.as_tensor(np.asarray(compiled(table, index))), function(table, index))


def test_the_gather_is_a_loop_of_slices(tmp_path):
    function, table, index = GATHERS["index_select"]
    compile_checked(Lambda(function), (table, index), threads=1, dump_ir=str(tmp_path))
    simplified = (tmp_path / "02-simplify.mlir").read_text()
    assert "tensor.extract_slice %arg0[%" in simplified and "[1, 8, 16] [1, 1, 1]" in simplified


def test_a_batched_product_of_gathered_matrices_reads_them_from_the_table(tmp_path):
    function, table, index = GATHERS["batched_product_transposed"]
    compile_checked(Lambda(function), (table, index), threads=1, dump_ir=str(tmp_path))
    simplified = (tmp_path / "02-simplify.mlir").read_text()
    assert "linalg.batch_matmul" not in simplified and "linalg.matmul" in simplified
    assert "tensor.extract_slice %arg0[%" in simplified and "[1, 8, 16] [1, 1, 1]" in simplified
