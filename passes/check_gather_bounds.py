"""wafer-check-gather-bounds: a gather by data-dependent indices checks them."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, cf

from .pass_base import WaferPass, find_ops


def _data_dependent(body: ir.Block) -> set:
    """The body values computed from the generic's operands (its block
    arguments), not from loop indices and constants alone."""
    dependent = set(body.arguments)
    for op in body.operations:
        if any(value in dependent for value in op.operands):
            dependent.update(op.results)
    return dependent


def _unchecked_indices(generic: ir.OpView) -> list[tuple[ir.OpView, int, ir.Value]]:
    """(extract, dim, index) for each data-dependent index of a `tensor.extract`
    in `generic`'s body that reads a table defined outside it, unless the body
    already asserts (torch-mlir checks gather's and embedding's indices, not
    index_select's)."""
    body = generic.regions[0].blocks[0]
    if any(op.name == "cf.assert" for op in body.operations):
        return []
    dependent = _data_dependent(body)
    return [(op, dim, index) for op in body.operations
            if op.name == "tensor.extract" and op.operands[0] not in dependent and op.operands[0].type.has_static_shape
            for dim, index in enumerate(list(op.operands)[1:]) if index in dependent]


@dataclass(frozen=True)
class CheckGatherBounds(WaferPass):
    """Assert 0 <= index < extent before each data-dependent `tensor.extract`.

    torch-mlir lowers `index_select` and `x[i]` to a generic that reads the
    table at the index it is given: an index past the end read other memory
    and came back as a silent wrong value, where eager raises. With the check,
    the call raises a WaferError (wafer-lower-assert) and the next call works.
    One unsigned compare covers both bounds: a negative index is a huge one.
    """

    name = "wafer-check-gather-bounds"
    summary = "Check the data-dependent indices of tensor.extract in linalg bodies"

    def apply(self, module: ir.Operation) -> None:
        for generic in find_ops(module, lambda op: op.name == "linalg.generic"):
            for extract, dim, index in _unchecked_indices(generic):
                extent = extract.operands[0].type.shape[dim]
                with ir.InsertionPoint(extract), extract.location:
                    inside = arith.CmpIOp(arith.CmpIPredicate.ult, index, arith.ConstantOp(ir.IndexType.get(), extent))
                    cf.AssertOp(inside, f"index out of range for a dimension of size {extent}")
