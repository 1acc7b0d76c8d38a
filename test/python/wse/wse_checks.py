"""Shared by the WSE tests: a function as a module, compiled for the small preset
and checked against PyTorch."""

import torch

import wafer


class Lambda(torch.nn.Module):
    """A function as a module, for wafer.compile."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *inputs):
        return self.fn(*inputs)


def compile_and_check(fn, *inputs, mode="pipelined"):
    """Compile `fn` for the small WSE preset; assert it matches PyTorch; the program."""
    model = Lambda(fn)
    program = wafer.compile(model, inputs, target="wse", machine="small", mode=mode)
    with torch.no_grad():
        expected = model(*inputs)
    torch.testing.assert_close(torch.as_tensor(program(*inputs)), expected)
    return program
