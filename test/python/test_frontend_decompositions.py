"""Which of torch's decompositions a program that needs some gets before import,
and what a failed lowering leaves behind.

A program with an op torch-mlir has no op for (GPT-2's aten.diff) is decomposed
with the entries of torch-mlir's table for just the ops that need one: that op,
the composite ops (CompositeImplicitAutograd) of the graph, among them `&`,
which torch-mlir registers but does not lower, and the ops Wafer's own
decompositions handle. The other ops import as a direct import has them. A
program that writes no state is decomposed in place, node by node, rather than
traced again. Only if torch-mlir cannot lower that program is it decomposed with
the whole table.

A lowering that fails saves its input for torch-mlir-opt, without the weights,
which the import no longer prints (in hex) before each lowering.
"""

import re
from pathlib import Path

import pytest
import torch
from torch_mlir.compiler_utils import TorchMlirCompilerError
from torch_reference import Lambda, compile_checked

import wafer.frontend
from wafer.context import make_context
from wafer.frontend import (
    _IMPORTED_NOT_LOWERED, _decompositions, _import_program, _partial_decompositions)
from wafer.local_decompositions import decompose_in_place

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


def recorded_retraces(monkeypatch) -> list[tuple]:
    """The arguments of each run_decompositions call (a re-trace of the whole program)."""
    retraces = []
    run_decompositions = torch.export.ExportedProgram.run_decompositions
    monkeypatch.setattr(torch.export.ExportedProgram, "run_decompositions",
                        lambda program, *args: retraces.append(args) or run_decompositions(program, *args))
    return retraces


def test_the_partial_table_holds_the_ops_that_need_a_decomposition():
    torch.manual_seed(0)
    program = torch.export.export(MaskedDifferences().eval(), inputs())
    table = _partial_decompositions(program, _decompositions(), make_context())
    graph_ops = {node.target for node in program.graph.nodes}
    # diff: no torch-mlir op; __and__, layer_norm and where: composite; addmm and new_ones: neither.
    assert set(table) & graph_ops == {aten.diff.default, aten.__and__.Tensor, aten.layer_norm.default,
                                      aten.where.ScalarOther}
    # Not in the graph, but a decomposition may call them: ops torch-mlir has no op for, or does not lower.
    assert {aten.squeeze.dims, aten._prelu_kernel.default, *_IMPORTED_NOT_LOWERED} <= set(table)
    assert aten.linear.default not in table  # a composite op of another program


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


def test_a_program_that_writes_no_state_is_not_traced_again(imported_ops, monkeypatch):
    """run_decompositions re-traces the whole program (about as long as the export);
    the partial table's few nodes are decomposed where they are."""
    retraces = recorded_retraces(monkeypatch)
    torch.manual_seed(0)
    compile_checked(MaskedDifferences().eval(), inputs())
    assert retraces == []
    [ops] = imported_ops
    assert "aten.diff.default" not in ops and "aten.bitwise_and.Tensor" in ops


# Programs of one op torch-mlir imports but does not lower.
_UNLOWERED_USES = {
    "unbind": lambda x: sum(row * (i + 1) for i, row in enumerate(x.unbind(1))),
    "logsumexp": lambda x: torch.logsumexp(x, -1),
    "prelu": lambda x: torch.nn.functional.prelu(x, torch.tensor([0.25])),
    "xlogy": lambda x: torch.xlogy(x.abs(), x.abs() + 1),
    "bilinear to a size": lambda x: torch.nn.functional.interpolate(x, size=(5, 7), mode="bilinear"),
    "circular padding": lambda x: torch.nn.functional.pad(x, (1, 2, 2, 1), mode="circular"),
}


@pytest.mark.parametrize("use", _UNLOWERED_USES)
def test_an_op_torch_mlir_does_not_lower_goes_the_partial_way_at_once(use, imported_ops, monkeypatch):
    """A direct import would fail only after lowering everything else, then the
    program was exported again and traced with the whole table. (An op whose
    decomposition writes in place is traced again with the partial one.)"""
    model, x = Lambda(_UNLOWERED_USES[use]), (torch.randn(2, 3, 4, 6),)
    with pytest.raises(TorchMlirCompilerError):  # still true, or `_IMPORTED_NOT_LOWERED` has a stale entry
        _import_program(torch.export.export(model, x), "forward", make_context())
    imported_ops.clear()
    retraces = recorded_retraces(monkeypatch)
    compile_checked(model, x)
    assert len(imported_ops) == 1 and all(aten.linear.default not in table for table, in retraces)


@pytest.mark.parametrize("cell", [torch.nn.LSTM(4, 6, batch_first=True), torch.nn.GRUCell(4, 6)], ids=type)
def test_a_recurrent_network_is_traced_once_with_the_partial_table(cell, imported_ops, monkeypatch):
    """The LSTM's decomposition calls `unbind`, the GRU cell's adds in place
    (which only a re-trace functionalizes): neither reaches the whole table."""
    retraces = recorded_retraces(monkeypatch)
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4) if isinstance(cell, torch.nn.LSTM) else torch.randn(3, 4)
    compile_checked(Lambda(lambda x: cell(x)[0]), (x,))
    [(table,)] = retraces
    assert len(imported_ops) == 1 and aten.linear.default not in table


class SplitHeads(torch.nn.Module):
    """A fused projection split into query, key and value by `unbind` (ViT's,
    MViT's attention) and `tensor_split`, one item of each a result."""

    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x):
        q, k, v = self.qkv(x).reshape(*x.shape[:-1], 3, 8).permute(2, 0, 1, 3).unbind(0)
        first, rest = torch.tensor_split(v, [3], dim=-1)
        return torch.softmax(q @ k.transpose(-1, -2), -1) @ v, first, rest * 2


def test_ops_returning_lists_are_decomposed_in_place(imported_ops, monkeypatch):
    """`unbind` and `tensor_split` return lists, read item by item: each item's
    reader now reads the op the decomposition made for it, where the program
    was traced again whole (MViT-v2-S: 21 s of a 47 s compile, with the next test's case)."""
    torch.manual_seed(0)
    model, x = SplitHeads().eval(), torch.randn(2, 5, 8)
    program = torch.export.export(model, (x,))
    assert decompose_in_place(program, _partial_decompositions(program, _decompositions(), make_context()))
    ops = {node.target for node in program.graph.nodes}
    assert not ops & {aten.unbind.int, aten.tensor_split.indices}
    names = {node.name for node in program.graph.nodes}
    assert all(spec.arg.name in names for spec in program.graph_signature.output_specs)
    retraces = recorded_retraces(monkeypatch)
    compile_checked(model, (x,))
    assert retraces == [] and len(imported_ops) == 1


def test_a_depthwise_conv3d_takes_the_partial_table_at_once(imported_ops, monkeypatch):
    """Exported, a Conv3d is `conv3d`, which decomposes into the `convolution`
    that Wafer decomposes when depthwise (MViT's pooled attention); torch-mlir
    cannot lower it, and the program went through the whole table too."""
    retraces = recorded_retraces(monkeypatch)
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(4, 4, 3, padding=1, groups=4)
    compile_checked(Lambda(lambda x: conv(x).relu()), (torch.randn(1, 4, 3, 5, 5),))
    assert retraces == [] and len(imported_ops) == 1


class SwappedAxes(torch.nn.Module):
    """MaxViT's partition swap: `swapaxes`, a composite op that torch-mlir has no
    op for and its decomposition table no entry."""

    def forward(self, x):
        return torch.relu(x.swapaxes(1, 2)) * 2


def test_a_composite_op_without_a_table_entry_decomposes_by_its_own_kernel(imported_ops, monkeypatch):
    """It becomes the transpose its kernel calls, in place: no second export and
    re-trace with the whole table."""
    retraces = recorded_retraces(monkeypatch)
    compile_checked(SwappedAxes(), (torch.randn(2, 3, 4),))
    assert retraces == []
    [ops] = imported_ops
    assert "aten.swapaxes.default" not in ops and "aten.transpose.int" in ops


def test_the_ops_a_node_decomposes_into_keep_its_source_line_and_layer():
    torch.manual_seed(0)
    program = torch.export.export(MaskedDifferences().eval(), inputs())
    table = _partial_decompositions(program, _decompositions(), make_context())
    exported = {node.name for node in program.graph.nodes}
    origins = {node.meta["stack_trace"] for node in program.graph.nodes if node.target in table}
    assert decompose_in_place(program, table)
    added = [node for node in program.graph.nodes if node.name not in exported]
    assert added and not any(node.target in table for node in program.graph.nodes)
    assert all(node.meta["stack_trace"] in origins and "nn_module_stack" in node.meta for node in added)


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


def test_a_result_of_the_program_is_decomposed_in_place_and_the_signature_follows(imported_ops):
    """The signature names the program's results: the op that replaces one takes its place there."""
    torch.manual_seed(0)
    model, x = LinearThenDiff().eval(), torch.randn(3, 40)
    program = torch.export.export(model, (x,))
    assert decompose_in_place(program, _partial_decompositions(program, _decompositions(), make_context()))
    [result] = program.graph_signature.output_specs
    assert result.arg.name == program.graph.output_node().args[0][0].name != "diff"
    compile_checked(model, (x,))
    assert "aten.diff.default" not in imported_ops[0]
