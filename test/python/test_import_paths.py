"""Which way the front end imports a program: straight to torch-mlir, or
through torch's decompositions first.

In-place ops on temporaries, and on slices of them, become functional before
import (wafer/inplace.py); in-place ops on other views, and on state, are
left to torch's functionalization. A
program with an op torch-mlir has no op for goes to torch's decompositions
without a direct import that could only fail.
"""

import pytest
import torch
from torch_reference import compile_checked

from wafer.context import make_context
from wafer.frontend import _has_unregistered_ops, _mutates
from wafer.inplace import functionalize_temporaries


class ResidualBlock(torch.nn.Module):
    """ResNet's: in-place ReLUs after batch norm, and `out += identity`."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.relu = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn(self.conv(x)))
        out += x
        return self.relu(out)


class ReadsBeforeAndAfter(torch.nn.Module):
    """A reader before the in-place op sees the old value, one after it the new."""

    def forward(self, a):
        t = a * 2
        before = t * 3
        t.add_(1)
        after = t * 5
        return before + after, t


class WritesThroughASlice(torch.nn.Module):
    """mul_ on a slice writes into `y` itself: a slice_scatter of the product."""

    def forward(self, a, b):
        y = a + b
        y[:, 0:2].mul_(2)
        return y


class WindowMask(torch.nn.Module):
    """Swin's shifted-window mask: a temporary filled region by region, rows by select."""

    def forward(self, x):
        mask = x.new_zeros((6, 6))
        count = 0
        for rows in (slice(0, -4), slice(-4, -2), slice(-2, None)):
            for cols in (slice(0, -3), slice(-3, None)):
                mask[rows, cols] = count
                count += 1
        mask[1] = -1.0
        return x + mask


class ReadsASliceTakenBefore(torch.nn.Module):
    """`top` views `t` before the write into another slice of it, and sees the write."""

    def forward(self, a):
        t = a * 2
        top = t[0:2]
        t[1:3] = 0.0
        return top + 1


class DropoutAfterFlatten(torch.nn.Module):
    """EfficientNet's head: an in-place dropout on flatten's view of a temporary."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Sequential(torch.nn.Dropout(0.2, inplace=True), torch.nn.Linear(8, 3))

    def forward(self, x):
        return self.head(torch.flatten(torch.relu(x), 1))


class WritesThroughASharedView(torch.nn.Module):
    """relu_ on a view of `y`, which is read again: the write must reach `y`."""

    def forward(self, a):
        y = a * 2
        y.view(-1).relu_()
        return y + 1


def exported(model, inputs):
    return torch.export.export(model.eval(), inputs)


@pytest.mark.parametrize("model, inputs", [
    (ResidualBlock(), (torch.randn(2, 8, 6, 6),)),
    (ReadsBeforeAndAfter(), (torch.randn(3, 4),)),
    (torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Hardtanh(0, 6, inplace=True)), (torch.randn(3, 4),)),
    (DropoutAfterFlatten(), (torch.randn(2, 2, 2, 2),)),
    (WritesThroughASlice(), (torch.randn(3, 4), torch.randn(3, 4))),
    (WindowMask(), (torch.randn(2, 6, 6),)),
], ids=["resnet-block", "readers-before-and-after", "relu6", "dropout-after-flatten", "slice", "window-mask"])
def test_in_place_ops_on_temporaries_become_functional(model, inputs):
    torch.manual_seed(0)
    program = exported(model, inputs)
    assert _mutates(program)
    functionalize_temporaries(program)
    assert not _mutates(program)
    with torch.no_grad():
        expected = model(*[x.clone() for x in inputs])
        torch.testing.assert_close(program.module()(*inputs), expected)
    compile_checked(model.eval(), inputs)


@pytest.mark.parametrize("model, inputs", [
    (WritesThroughASharedView(), (torch.randn(3, 4),)),
    (ReadsASliceTakenBefore(), (torch.randn(4, 3),)),
], ids=["shared-view", "slice-taken-before"])
def test_in_place_op_through_a_view_is_left_for_torch_to_functionalize(model, inputs):
    program = exported(model, inputs)
    functionalize_temporaries(program)
    assert _mutates(program)
    compile_checked(model, inputs)


class Differences(torch.nn.Module):
    def forward(self, x):
        return torch.diff(x, dim=1) * 2


@pytest.mark.parametrize("model, inputs, unregistered", [
    (Differences(), (torch.randn(3, 7),), True),
    (ResidualBlock(), (torch.randn(2, 8, 6, 6),), False),
], ids=["diff", "resnet-block"])
def test_ops_torch_mlir_has_no_op_for_are_found_before_import(model, inputs, unregistered):
    program = exported(model, inputs)
    assert _has_unregistered_ops(program, make_context()) == unregistered
    compile_checked(model.eval(), inputs)


class HeadsThenRows(torch.nn.Module):
    """GPT-2's attention output path (heads back to rows, then a `view` as its
    Conv1D does), with a torch.diff that sends the program through torch's
    decompositions: decomposing the attention too re-traced it with strides
    that the `view` rejects at batch > 1."""

    def forward(self, x, positions):
        b, t, c = x.shape
        q = x.view(b, t, 4, c // 4).transpose(1, 2)
        y = torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
        y = y.transpose(1, 2).reshape(b, t, c)
        return y.view(-1, c) * 2, torch.diff(positions)


def test_attention_survives_the_decomposition_path():
    torch.manual_seed(0)
    compile_checked(HeadsThenRows(), (torch.randn(2, 16, 32), torch.arange(16.0)))
