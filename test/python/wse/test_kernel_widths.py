"""A PE's kernel runs each instruction at its own SIMD width: worked out on
paper for single kernels on one PE (WSE-2's costs, rows of 16 elements)."""

import dataclasses

import pytest
from torch_mlir import ir

from wafer.context import make_context
from wafer.wse_target.kernel import kernel_cycles, kernel_of
from wafer.wse_target.machine import SMALL, WSE2, WSE3

KERNEL = """
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @f(%x: memref<2x16x{t}>, %y: memref<2x16x{t}>) {{
  %zero = arith.constant 0.0 : {t}
  linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%x : memref<2x16x{t}>) outs(%y : memref<2x16x{t}>) {{
  ^bb0(%in: {t}, %out: {t}):
{body}
  }}
  return
}}
"""
RELU = "    %r = arith.maximumf %in, %zero : {t}\n    linalg.yield %r : {t}"
DOUBLE = "    %r = arith.addf %in, %in : {t}\n    linalg.yield %r : {t}"
DOUBLE_RELU = ("    %d = arith.addf %in, %in : {t}\n    %r = arith.maximumf %d, %zero : {t}\n"
               "    linalg.yield %r : {t}")
SQUARE = "    %r = arith.mulf %in, %in : {t}\n    linalg.yield %r : {t}"


def cycles(body: str, element: str, machine=WSE2) -> float:
    with make_context():
        module = ir.Module.parse(KERNEL.format(t=element, body=body.format(t=element)))
        func = module.body.operations[0]
        (op,) = [o for o in func.regions[0].blocks[0].operations if o.operation.name == "linalg.generic"]
        return kernel_cycles(kernel_of(op.operation, machine, {}), machine)


# Each case: 120 set-up + instructions x (23 loop + 1 issue + a row of 16 at the width).
CASES = {
    # @fmaxh is one element a cycle on WSE-2, where @fmach is four: 16 cycles a row.
    "fp16 relu": (RELU, "f16", 120 + 2 * (24 + 16)),
    # @faddh: four a cycle.
    "fp16 add": (DOUBLE, "f16", 120 + 2 * (24 + 4)),
    # An add then a max per row: 4 instructions, rows at the mean of 1/4 and 1/1 a cycle:
    # ceil(16 x 0.625) = 10.
    "fp16 add and relu": (DOUBLE_RELU, "f16", 120 + 4 * (24 + 10)),
    # @fadds: two a cycle, where the fp32 FMA is one.
    "fp32 add": (DOUBLE, "f32", 120 + 2 * (24 + 8)),
    # @fmaxs and the fp32 multiply (not in the SDK's table): one a cycle.
    "fp32 relu": (RELU, "f32", 120 + 2 * (24 + 16)),
    "fp32 square": (SQUARE, "f32", 120 + 2 * (24 + 16)),
}


@pytest.mark.parametrize("case", CASES)
def test_a_kernel_runs_each_instruction_at_its_width(case):
    body, element, expected = CASES[case]
    assert cycles(body, element) == expected


def test_wse3_widens_the_16_bit_max_to_what_its_ports_feed():
    """@fmaxh is SIMD-8 on WSE-3 (1 on WSE-2), but the preset keeps WSE-2's
    64-bit SRAM ports, which feed four 16-bit elements a cycle: a row of 16 in 4."""
    assert cycles(RELU, "f16", WSE3) == 120 + 2 * (24 + 4)


def test_narrow_ports_bind_a_wide_add():
    """Two 4 B reads through one port take 2 cycles an element, whatever the width."""
    one_port = dataclasses.replace(SMALL, sram_port_bytes=4, sram_reads_per_cycle=1)
    assert cycles(DOUBLE, "f32", one_port) == 120 + 2 * (24 + 32)
