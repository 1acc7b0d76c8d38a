"""wafer-eliminate-reshaped-empties: compute into the slice a result is inserted
into, through the reshapes between them."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import tensor

from .linalg_builders import is_named, reshaped_back
from .pass_base import WaferPass, find_ops

_RESHAPES = ("tensor.collapse_shape", "tensor.expand_shape")
# linalg ops whose destination is not their last operand.
_NOT_DESTINATION_LAST = ("linalg.pack", "linalg.unpack")


@dataclass(frozen=True)
class EliminateReshapedEmpties(WaferPass):
    """Replace a `tensor.empty` that a value is computed into and then,
    reshaped, inserted into a larger tensor by the slice it lands in,
    reshaped back.

    eliminate-empty-tensors does this only where the empty and the slice have
    one type. A packed contraction computes into its C reshaped to whole
    register blocks and collapses the sums back: the first part of a split
    one (wafer-pack-matmul's ragged edges), then inserted into the whole
    result, got a buffer of its own and a copy of all of it into the
    result. With the empty replaced, the part's kernel writes the result in
    place, and the copy folds away.

    Inserts are resolved last first: a split result inserted into a larger
    tensor (a convolution's into a concatenation) first becomes a slice of
    that tensor, and then its first part's empty a slice of the slice.
    First part first, the split result's tensor gained a second reader and
    was copied into the concatenation.
    """

    name = "wafer-eliminate-reshaped-empties"
    summary = "Replace tensor.empty ops whose reshaped contents are inserted by the slice they land in"

    def apply(self, module: ir.Operation) -> None:
        for insert in reversed(find_ops(module, lambda op: op.name == "tensor.insert_slice")):
            insert = insert.opview
            reshapes, value = [], insert.source
            while is_named(value.owner, *_RESHAPES):
                reshapes.append(value.owner)
                value = value.owner.operands[0]
            empty = _computed_into(value)
            # A static slice: its offsets are defined wherever the empty is.
            static = len(insert.operands) == 2
            if not reshapes or not static or empty is None or not _define_before(insert.dest, empty):
                continue
            with ir.InsertionPoint(empty), empty.location:
                replacement = tensor.ExtractSliceOp(insert.source.type, insert.dest, [], [], [], insert.static_offsets,
                                                    insert.static_sizes, insert.static_strides).result
                for reshape in reshapes:  # the one next to the insert first
                    replacement = reshaped_back(reshape, replacement)
            empty.results[0].replace_all_uses_with(replacement)
            empty.erase()


def _computed_into(value: ir.Value) -> ir.OpView | None:
    """The `tensor.empty` that `value` is computed into, through the
    destinations of the ops that write it (linalg ops' inits, loops'
    shared outputs and iteration arguments, inserts' dests), if that empty
    has no other use."""
    while not is_named(value.owner, "tensor.empty"):
        op = value.owner
        if not isinstance(op, ir.OpView):
            return None
        index = ir.OpResult(value).result_number
        if op.name == "tensor.insert_slice":
            value = op.operands[1]
        elif op.name == "scf.for":
            value = op.operands[3 + index]
        elif op.name == "scf.forall" or (op.name.startswith("linalg.") and op.name not in _NOT_DESTINATION_LAST):
            value = op.operands[len(op.operands) - len(op.results) + index]
        else:
            return None
    empty = value.owner
    return empty if len(list(value.uses)) == 1 and len(empty.operands) == 0 else None


def _define_before(dest: ir.Value, empty: ir.OpView) -> bool:
    """Whether `dest` is defined before `empty`, so that a slice of it can
    replace the empty; a static empty defined after it in its block, or a
    static view of one, is moved up to be."""
    owner = dest.owner
    if isinstance(owner, ir.Block):
        block = empty.operation.block
        while block is not None and block != owner:
            parent = block.owner
            block = parent.block if parent is not None else None
        return block == owner
    if owner.operation.block != empty.operation.block:
        return False
    if owner.operation.is_before_in_block(empty.operation):
        return True
    movable = owner.name in ("tensor.empty", "tensor.extract_slice", *_RESHAPES) and len(owner.operands) <= 1
    if movable and all(_define_before(operand, empty) for operand in owner.operands):
        owner.operation.move_before(empty.operation)
        return True
    return False
