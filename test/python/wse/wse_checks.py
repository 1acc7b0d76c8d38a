"""Shared by the WSE tests: a function as a module, compiled for the small preset
and checked against PyTorch; constants written into hand-written programs."""

import dataclasses

import numpy as np
import torch
from torch_mlir import ir

import wafer
from wafer.wse_target.machine import SMALL
from wafer.wse_target.simulator import estimate
from torch_reference import Lambda


def compile_and_check(fn, *inputs, mode="pipelined"):
    """Compile `fn` for the small WSE preset; assert it matches PyTorch; the program."""
    model = Lambda(fn)
    program = wafer.compile(model, inputs, target="wse", machine="small", mode=mode)
    with torch.no_grad():
        expected = model(*inputs)
    torch.testing.assert_close(torch.as_tensor(program(*inputs)), expected)
    return program


def dense_literal(array: np.ndarray) -> str:
    """`array` as the nested list of a `dense<...>` attribute, each value exactly."""
    if array.ndim == 0:
        return repr(float(array))
    return "[" + ", ".join(dense_literal(row) for row in array) + "]"


def ops_in(op: ir.Operation) -> list[ir.Operation]:
    found = []

    def collect(inner: ir.Operation) -> ir.WalkResult:
        found.append(inner)
        return ir.WalkResult.ADVANCE

    op.walk(collect)
    return found


def regions(program, *kinds: str) -> list[ir.Operation]:
    """The program's regions of any of `kinds`."""
    return [op for op in ops_in(program.executable.module.operation)
            if op.name == "wse.region" and ir.StringAttr(op.attributes["kind"]).value in kinds]


def products(program) -> list[ir.Operation]:
    """The regions of a contraction, whichever way wse-place runs it (stepped
    across the fabric by SUMMA or Cannon, or rowwise: each PE its outputs):
    wse-partition names them summa0, summa1, ..."""
    return [region for region in regions(program, "summa", "cannon", "rowwise")
            if ir.StringAttr(region.attributes["sym_name"]).value.startswith("summa")]


def one_region_report(ctx: ir.Context, module: ir.Module, looked_up: dict | None = None, **change):
    """The estimate of @f, a hand-written program of one region, on the small
    preset with `change`d costs (and a run's `looked_up` rows); the report and the region's row."""
    with ctx:
        report = estimate(module, dataclasses.replace(SMALL, **change), "f", looked_up)
    (row,) = report.ops
    return report, row
