"""Shared by the WSE tests: a function as a module, compiled for the small preset
and checked against PyTorch."""

import torch
from torch_mlir import ir

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


def ops_in(op: ir.Operation) -> list[ir.Operation]:
    found = []

    def collect(inner: ir.Operation) -> ir.WalkResult:
        found.append(inner)
        return ir.WalkResult.ADVANCE

    op.walk(collect)
    return found


def regions(program, kind: str) -> list[ir.Operation]:
    return [op for op in ops_in(program.executable.module.operation)
            if op.name == "wse.region" and ir.StringAttr(op.attributes["kind"]).value == kind]
