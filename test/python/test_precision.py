"""`precision=`: a model computed in 16 bits behind an edge that keeps its dtypes,
on the cpu target and from `wafer run`."""

import copy
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import torch

import wafer
from wafer.passes.fold_narrowed_constants import round_to_nearest
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


def _nearest_exactly(value: float, narrow) -> float:
    """The `narrow` value nearest `value`, ties to the even one: the f32-rounded
    value's 16-bit neighbours compared in exact arithmetic."""
    start = int(np.array([value], np.float32).astype(narrow).view(np.uint16)[0])
    bits = np.array([(start + step) % 2**16 for step in (-1, 0, 1)], np.uint16)
    candidates = [(float(v), int(b)) for v, b in zip(bits.view(narrow).astype(np.float64), bits) if np.isfinite(v)]
    return min(candidates, key=lambda c: (abs(Fraction(c[0]) - Fraction(value)), c[1] % 2))[0]


@pytest.mark.parametrize("narrow", [ml_dtypes.bfloat16, np.float16])
def test_a_wide_constant_rounds_once_to_16_bits(narrow):
    """f64 -> 16 bits, not f64 -> f32 -> 16 bits: 1 + 2^-8 + 2^-40 lies above
    bf16's tie between 1 and 1 + 2^-7, which rounding it to f32 first would
    make a tie, and round down to even."""
    mantissa = {ml_dtypes.bfloat16: 7, np.float16: 10}[narrow]
    above_tie = 1 + 2.0 ** -(mantissa + 1) + 2.0 ** -40
    assert round_to_nearest(above_tie, narrow) == 1 + 2.0 ** -mantissa
    assert round_to_nearest(-above_tie, narrow) == -(1 + 2.0 ** -mantissa)
    values = np.random.default_rng(0).standard_normal(2000) * 10.0 ** np.random.default_rng(1).integers(-6, 4, 2000)
    for value in [1e-5, 0.1, 1 / 3, *values]:
        assert round_to_nearest(float(value), narrow) == _nearest_exactly(float(value), narrow), value
