"""Compile a PyTorch module with Wafer, checked against PyTorch on the same inputs."""

import torch

import wafer


def compile_checked(model: torch.nn.Module, inputs: tuple, **options):
    """`wafer.compile(model, inputs, **options)`, once its output on `inputs` matched `model`'s."""
    compiled = wafer.compile(model, inputs, **options)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)
    return compiled
