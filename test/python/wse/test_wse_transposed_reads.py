"""Ops that read a value in a second layout, on the wafer.

A region holds each value in one layout. Segformer's attention transposes its
square key projection, and wse-distribute refused the region that had taken
the transpose as the product's epilogue.
"""

import pytest
import torch

from wse_checks import compile_and_check

MODES = ["pipelined", "whole-wafer"]


@pytest.mark.parametrize("mode", MODES)
def test_a_transposed_epilogue_of_a_square_product_matches_pytorch(mode):
    torch.manual_seed(0)
    weight, bias = torch.randn(16, 16), torch.randn(16)
    compile_and_check(lambda x: (x @ weight).t() + bias, torch.randn(16, 16), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_value_read_both_ways_by_one_op_matches_pytorch(mode):
    """`y.t() * y` also may not overwrite y in place: it reads y transposed."""
    def model(x):
        y = torch.softmax(x, -1)
        return y.t() * y

    compile_and_check(model, torch.randn(16, 16), mode=mode)
