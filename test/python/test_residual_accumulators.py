"""A contraction whose sums are added to a dying temporary accumulates onto it
(wafer-pack-matmul's `accumulate_onto_residual`), its products summed from zero
and added after each K loop (wafer-zero-accumulators)."""

import pytest
import torch
from torch_reference import compile_checked


class Bottleneck(torch.nn.Module):
    """relu(conv(x) + relu(downsample(x))): the residual is a temporary the
    second convolution's epilogue added."""

    def __init__(self, channels: int, filters: int, bias: bool, stride: int = 1):
        super().__init__()
        self.downsample = torch.nn.Conv2d(channels, filters, 1, stride=stride, bias=bias)
        self.conv = torch.nn.Conv2d(channels, filters, 1, stride=stride, bias=bias)

    def forward(self, x):
        residual = torch.relu(self.downsample(x))
        return torch.relu(self.conv(x) + residual)


class PreNormBlock(torch.nn.Module):
    """A transformer's projection back onto its residual stream, through a reshape."""

    def __init__(self, width: int):
        super().__init__()
        self.up = torch.nn.Linear(width, 2 * width)
        self.down = torch.nn.Linear(2 * width, width)

    def forward(self, x):
        stream = x * 2.0
        return stream + self.down(torch.tanh(self.up(stream)))


def fused_ops(compiled) -> list[str]:
    """The ops of each epilogue the strategies name ("epilogue addf, cmpf per 1x64x4x28 tile")."""
    return [s.removeprefix("epilogue ").split(" per ")[0] for s in compiled.compile_report.strategies
            if s.startswith("epilogue ")]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bias,stride,size", [(False, 1, 28), (True, 1, 28), (False, 2, 56), (False, 1, 55)])
def test_convolution_accumulates_onto_the_residual(threads, bias, stride, size):
    torch.manual_seed(0)
    model = Bottleneck(32, 64, bias, stride).eval()
    compiled = compile_checked(model, (torch.randn(2, 32, size, size),), target="cpu", threads=threads)
    # Each convolution's epilogue is its bias and ReLU: the residual's add is gone.
    expected = ["addf, cmpf, select" if bias else "cmpf, select"] * 2
    assert fused_ops(compiled) == expected


@pytest.mark.parametrize("threads", [1, 2])
def test_linear_accumulates_onto_the_residual_stream(threads):
    torch.manual_seed(0)
    model = PreNormBlock(256).eval()
    compiled = compile_checked(model, (torch.randn(4, 64, 256),), target="cpu", threads=threads)
    # Each projection's epilogue adds its bias; the second's adds no residual stream.
    assert fused_ops(compiled) == ["addf, math.tanh", "addf"]


def test_products_are_summed_before_the_residual():
    """Added one by one onto a residual near 1000, 1024 products of about 0.01
    would each round to its ulp (6e-5): an error near 1e-3. Summed first,
    the sum rounds once."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(1024, 256, bias=False)
    torch.nn.init.normal_(linear.weight, std=0.01)

    class OntoLargeResidual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = linear

        def forward(self, x, y):
            residual = torch.relu(y) + 1000.0
            return self.linear(x) + residual

    model = OntoLargeResidual().eval()
    inputs = (torch.randn(64, 1024), torch.randn(64, 256))
    compiled = compile_checked(model, inputs, target="cpu", threads=1)
    with torch.no_grad():
        exact = model.double()(*(i.double() for i in inputs))
    ulp = torch.finfo(torch.float32).eps * 1024
    assert (compiled(*inputs).double() - exact).abs().max() <= 4 * ulp
