"""Which of torch's decompositions a program that needs some gets before import,
and what a failed lowering leaves behind.

A program with an op torch-mlir has no op for (GPT-2's aten.diff) is decomposed
with the entries of torch-mlir's table for just the ops that need one: that op,
the composite ops (CompositeImplicitAutograd) of the graph, among them `&`,
which torch-mlir registers but does not lower, and the ops Wafer's own
decompositions handle. The other ops import as a direct import has them. Only
if torch-mlir cannot lower that program is it decomposed with the whole table.

A lowering that fails saves its input for torch-mlir-opt, without the weights,
which the import no longer prints (in hex) before each lowering.
"""

import re
from pathlib import Path

import pytest
import torch
from torch_mlir.compiler_utils import TorchMlirCompilerError
from torch_reference import compile_checked

import wafer.frontend
from wafer.context import make_context
from wafer.frontend import _decompositions, _import_program, _partial_decompositions

aten = torch.ops.aten


class MaskedDifferences(torch.nn.Module):
    """GPT-2's ops around its attention mask: positions' differences (aten.diff),
    a 0-d `new_ones` mask and-ed with a comparison, then a layer norm and an addmm."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(6)
        self.weight = torch.nn.Parameter(torch.randn(6, 6))
        self.bias = torch.nn.Parameter(torch.randn(6))

    def forward(self, x, positions):
        starts = torch.diff(positions, prepend=positions[:, :1] - 1) != 1
        mask = positions.new_ones((), dtype=torch.bool) & (starts.cumsum(-1) > 0)
        y = torch.addmm(self.bias, self.norm(x).view(-1, 6), self.weight).view(x.shape)
        return torch.where(mask[..., None], y, 0.0)


def inputs():
    return torch.randn(2, 5, 6), torch.tensor([[0, 1, 2, 3, 4], [0, 1, 5, 6, 7]])


@pytest.fixture
def imported_ops(monkeypatch):
    """The call_function targets of each program the front end hands torch-mlir, by import."""
    imports = []
    import_program = wafer.frontend._import_program

    def recording(program, *args):
        imports.append({str(node.target) for node in program.graph.nodes if node.op == "call_function"})
        return import_program(program, *args)

    monkeypatch.setattr(wafer.frontend, "_import_program", recording)
    return imports


def test_the_partial_table_holds_the_ops_that_need_a_decomposition():
    torch.manual_seed(0)
    program = torch.export.export(MaskedDifferences().eval(), inputs())
    table = _partial_decompositions(program, _decompositions(), make_context())
    # diff: no torch-mlir op; __and__, layer_norm and where: composite; addmm and new_ones: neither.
    assert set(table) == {aten.diff.default, aten.__and__.Tensor, aten.layer_norm.default, aten.where.ScalarOther}


def test_an_op_torch_mlir_lacks_imports_through_the_partial_table(imported_ops):
    torch.manual_seed(0)
    compile_checked(MaskedDifferences().eval(), inputs())
    [ops] = imported_ops  # one import: the partial table's program lowered
    assert "aten.diff.default" not in ops and "aten.bitwise_and.Tensor" in ops
    assert {"aten.addmm.default", "aten.native_layer_norm.default"} <= ops  # as torch-mlir imports them
    assert "aten.var_mean.correction" not in ops and "aten.mm.default" not in ops  # the whole table's


def test_the_whole_table_follows_when_torch_mlir_cannot_lower_the_partial_one(imported_ops, monkeypatch):
    import_program = wafer.frontend._import_program

    def failing_once(program, *args):
        result = import_program(program, *args)
        if len(imported_ops) == 1:
            raise TorchMlirCompilerError("a lowering failed")
        return result

    monkeypatch.setattr(wafer.frontend, "_import_program", failing_once)
    torch.manual_seed(0)
    compile_checked(MaskedDifferences().eval(), inputs())
    partial, whole = imported_ops
    assert "aten.native_layer_norm.default" in partial and "aten.var_mean.correction" in whole


class LinearThenDiff(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(40, 40)

    def forward(self, x):
        return torch.diff(self.linear(x))


def test_a_failed_lowering_saves_its_input_without_the_weights():
    program = torch.export.export(LinearThenDiff(), (torch.randn(3, 40),))
    with pytest.raises(TorchMlirCompilerError) as info:  # aten.diff imports as a torch.operator, never lowered
        _import_program(program, "forward", make_context())
    assert str(info.value).startswith("Lowering TorchFX IR -> Torch Backend IR failed")
    text = Path(re.search(r"torch-mlir-opt -pass-pipeline='.*' (\S+)$", str(info.value)).group(1)).read_text()
    assert '"torch.aten.diff"' in text and "dense_resource<torch_tensor_40_40_torch.float32>" in text
    assert "dialect_resources" not in text and '"0x' not in text  # no blob in hex
