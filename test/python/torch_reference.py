"""Compile a PyTorch module with Wafer, checked against PyTorch on the same inputs; a function as a module."""

import torch

import wafer


def compile_checked(model: torch.nn.Module, inputs: tuple, **options):
    """`wafer.compile(model, inputs, **options)`, once its output on `inputs` matched `model`'s."""
    compiled = wafer.compile(model, inputs, **options)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)
    return compiled


class Lambda(torch.nn.Module):
    """A function as a module, for wafer.compile."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *inputs):
        return self.fn(*inputs)
