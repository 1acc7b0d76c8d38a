"""wafer-concat-chains: concatenations that extend one another share one buffer."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import tensor

from .pass_base import WaferPass, find_ops


def _concat_dim(op: ir.OpView) -> int:
    return ir.IntegerAttr(op.attributes["dim"]).value


def _static(op: ir.OpView) -> bool:
    return all(isinstance(v.type, ir.RankedTensorType) and v.type.has_static_shape
               for v in [*op.operands, op.result])


def chains(block: ir.Block) -> list[list[ir.OpView]]:
    """Each set of two or more static `tensor.concat`s of `block` along one dim
    whose operand lists are prefixes of the longest one's, shortest first."""
    concats = [op for op in block.operations if op.operation.name == "tensor.concat" and _static(op)]
    longest_first = sorted(concats, key=lambda op: -len(op.operands))
    found, taken = [], set()
    for i, top in enumerate(longest_first):
        if i in taken:
            continue
        operands = list(top.operands)
        members = [top]
        for j in range(i + 1, len(longest_first)):
            other = longest_first[j]
            if (j not in taken and _concat_dim(other) == _concat_dim(top)
                    and list(other.operands) == operands[:len(other.operands)]):
                members.append(other)
                taken.add(j)
        if len(members) > 1:
            found.append(members[::-1])
    return found


def _defined_at(value: ir.Value, block: ir.Block) -> ir.Operation | None:
    """The op of `block` that defines `value`, or None for a block argument or a value from outside."""
    owner = value.owner
    if isinstance(owner, ir.Block):
        return None
    return owner.operation if owner.operation.block == block else None


@dataclass(frozen=True)
class ConcatChains(WaferPass):
    """Build each chain of concatenations that extend one another (DenseNet's
    dense blocks: layer k concatenates the block's input and the features of
    layers 1..k-1) as inserts into one buffer, each concatenation a prefix of it.

    Bufferization writes an operand of a lone concatenation in place, into its
    slice of the result; an operand of several (each of DenseNet's features,
    concatenated by every later layer of its block) was written once and copied
    into each later one: DenseNet-121 had 535 such copies, 455 of its 940 loop
    nests. Here the features are inserted, in order, into one tensor of the
    longest concatenation's shape as they are computed, and each concatenation
    is the slice of it filled so far: each feature is written once, where the
    layers after it read it.
    """

    name = "wafer-concat-chains"
    summary = "Build concatenations that extend one another as slices of one buffer"

    def apply(self, module: ir.Operation) -> None:
        blocks = []
        for concat in find_ops(module, lambda op: op.name == "tensor.concat"):
            if all(b != concat.block for b in blocks):
                blocks.append(concat.block)
        for block in blocks:
            for chain in chains(block):
                _share_buffer(chain, block)


def _share_buffer(chain: list[ir.OpView], block: ir.Block) -> None:
    """Rewrite `chain` (shortest first) as insert_slices into one empty tensor."""
    longest = chain[-1]
    dim = _concat_dim(longest)
    result_type = ir.RankedTensorType(longest.result.type)
    rank = result_type.rank
    with ir.InsertionPoint.at_block_begin(block), longest.location:
        filled = tensor.EmptyOp(result_type.shape, result_type.element_type).result
    prefixes = {len(op.operands): op for op in chain}
    offset, after = 0, filled.owner.operation
    for count, operand in enumerate(longest.operands, start=1):
        defining = _defined_at(operand, block)
        if defining is not None and after.is_before_in_block(defining):
            after = defining
        size = list(operand.type.shape)
        offsets = [offset if d == dim else 0 for d in range(rank)]
        with ir.InsertionPoint.after(after), longest.location:
            filled = tensor.InsertSliceOp(operand, filled, [], [], [], offsets, size, [1] * rank).result
        after = filled.owner.operation
        offset += size[dim]
        concat = prefixes.get(count)
        if concat is None:
            continue
        shape = list(result_type.shape)
        shape[dim] = offset
        with ir.InsertionPoint(concat), concat.location:
            prefix = tensor.ExtractSliceOp(concat.result.type, filled, [], [], [], [0] * rank, shape, [1] * rank).result
        concat.result.replace_all_uses_with(prefix)
        concat.operation.erase()

