"""wafer-matvec against PyTorch: batch-1 linear layers as dot products along the
weights' rows, at one and two threads, row counts that 8 does and does not
divide, and the products it leaves to wafer-pack-matmul.
Strategies are checked for a named machine, so they hold on any host."""

import pytest
import torch
from torch_reference import compile_checked


def strategies(compiled) -> list[str]:
    return compiled.compile_report.strategies


@pytest.mark.parametrize("machine,lanes", [("avx512", 16), ("avx2", 8)])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("features,outputs,rows", [
    (2048, 1000, 8),   # a classifier: its 1000 rows in blocks of 8, in parallel
    (64, 10, 5),       # 10 rows: blocks of 5
    (48, 7, 7),        # 7 rows: one block of 7
])
def test_a_batch_one_linear_layer_reads_weight_rows(machine, lanes, threads, features, outputs, rows):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(features, outputs), torch.nn.GELU())
    compiled = compile_checked(model, (torch.randn(1, features),), threads=threads, machine=machine)
    chosen = [s for s in strategies(compiled) if s.startswith("matrix-vector")]
    assert chosen and chosen[0].startswith(f"matrix-vector 1x{outputs}x{features}: {rows} weight rows at a time")
    assert ("serial" in chosen[0]) == (2 * features * outputs < 4_000_000)  # too small to share


@pytest.mark.parametrize("batch,features,options", [
    (2, 64, {}),                 # two rows of A: the packed kernel reuses each weight
    (1, 20, {}),                 # K in no whole vectors
    (1, 64, {"matvec": False}),  # the option turns it off
])
def test_other_products_stay_packed(batch, features, options):
    torch.manual_seed(0)
    model = torch.nn.Linear(features, 32)
    compiled = compile_checked(model, (torch.randn(batch, features),), threads=1, machine="avx512", **options)
    assert not any(s.startswith("matrix-vector") for s in strategies(compiled))
    assert any(s.startswith("packed matmul") for s in strategies(compiled))


def test_an_mlp_at_batch_one_matches_pytorch():
    """Every layer of a batch-1 MLP a matrix-vector product, each reading the one before."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                torch.nn.ReLU(), torch.nn.Linear(128, 16))
    compiled = compile_checked(model, (torch.randn(1, 784),), threads=2, machine="avx512")
    assert sum(s.startswith("matrix-vector") for s in strategies(compiled)) == 3
