"""`precision=`: a model computed in 16 bits behind an edge that keeps its dtypes,
on the cpu target and from `wafer run`."""

import copy

import numpy as np
import pytest
import torch

import wafer
from wafer.precision import TOLERANCE
from wafer.tools.wafer_cli import main


class Block(torch.nn.Module):
    """A linear layer, GELU and a layer norm: a product, a transcendental, a reduction."""

    def __init__(self):
        super().__init__()
        self.linear, self.norm = torch.nn.Linear(24, 16), torch.nn.LayerNorm(16)

    def forward(self, x):
        return self.norm(torch.nn.functional.gelu(self.linear(x)))


@pytest.fixture(scope="module")
def block():
    torch.manual_seed(0)
    return Block().eval(), torch.randn(4, 24)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_the_cpu_target_matches_pytorch_at_the_precision(block, precision):
    model, x = block
    narrow = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    with torch.no_grad():
        expected = copy.deepcopy(model).to(narrow)(x.to(narrow)).float()
    got = wafer.compile(model, (x,), precision=precision)(x)
    assert got.dtype == torch.float32
    scale = TOLERANCE[precision]
    torch.testing.assert_close(got, expected, rtol=scale, atol=scale * float(expected.abs().max()))
    # It is not the f32 model's answer: the 16 bits show.
    assert not torch.equal(got, model(x).detach())


def test_the_edge_takes_numpy_and_16_bit_inputs_as_they_are(block):
    model, x = block
    compiled = wafer.compile(model, (x,), precision="fp16")
    from_numpy = compiled(x.numpy())
    assert from_numpy.dtype == np.float32
    np.testing.assert_array_equal(from_numpy, compiled(x).numpy())
    np.testing.assert_array_equal(compiled(x.half()).numpy(), from_numpy)


def test_wafer_run_checks_a_16_bit_model_at_its_precision(capsys):
    assert main(["run", "mlp", "--target", "wse", "--precision", "fp16"]) == 0
    out = capsys.readouterr().out
    assert ": OK" in out and "of fp16 peak" in out


def test_wafer_run_refuses_an_unknown_precision(capsys):
    assert main(["run", "mlp", "--precision", "fp12"]) != 0
    assert "error: unknown precision 'fp12' (known: fp32, fp16, bf16)" in capsys.readouterr().err
