"""wafer-scalars-as-tensors: pass a public function's scalar arguments and results as rank-0 tensors."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import func, tensor

from ..symbols import public_functions
from .pass_base import WaferPass


def is_scalar(type_: ir.Type) -> bool:
    """An integer or float the runtime can hand over as a numpy scalar (not `index`,
    whose width is the target's)."""
    return isinstance(type_, (ir.IntegerType, ir.FloatType))


def as_tensor(type_: ir.Type) -> ir.Type:
    return ir.RankedTensorType.get([], type_) if is_scalar(type_) else type_


@dataclass(frozen=True)
class ScalarsAsTensors(WaferPass):
    """Rewrite each public function so that its scalars cross the boundary as
    `tensor<T>`: the C interface passes every argument and result as a memref
    descriptor, and a rank-0 memref is one element in memory, like a numpy
    scalar. The body reads an argument with `tensor.extract` and returns a
    result through `tensor.from_elements`; `Tensor.item()`, `int(x)` and
    comparisons a model returns as Python numbers come back this way.
    """

    name = "wafer-scalars-as-tensors"
    summary = "Pass scalar arguments and results of public functions as rank-0 tensors"

    def apply(self, module: ir.Operation) -> None:
        for function in public_functions(module):
            function_type = ir.FunctionType(ir.TypeAttr(function.attributes["function_type"]).value)
            if not any(map(is_scalar, [*function_type.inputs, *function_type.results])):
                continue
            entry = function.regions[0].blocks[0]
            for argument in entry.arguments:
                if is_scalar(argument.type):
                    _extract_at_entry(entry, argument)
            for block in function.regions[0].blocks:
                _wrap_returned_scalars(block.operations[len(block.operations) - 1])
            new_type = ir.FunctionType.get([as_tensor(t) for t in function_type.inputs],
                                           [as_tensor(t) for t in function_type.results])
            function.attributes["function_type"] = ir.TypeAttr.get(new_type)


def _extract_at_entry(entry: ir.Block, argument: ir.BlockArgument) -> None:
    scalar_type = argument.type
    argument.set_type(as_tensor(scalar_type))
    with ir.InsertionPoint.at_block_begin(entry), argument.owner.owner.location:
        value = tensor.ExtractOp(argument, [])
    argument.replace_all_uses_except(value.result, value.operation)


def _wrap_returned_scalars(terminator: ir.Operation) -> None:
    if terminator.name != "func.return" or not any(is_scalar(v.type) for v in terminator.operands):
        return
    with ir.InsertionPoint(terminator), terminator.location:
        results = [tensor.FromElementsOp(as_tensor(v.type), [v]).result if is_scalar(v.type) else v
                   for v in terminator.operands]
        func.ReturnOp(results)
    terminator.erase()
