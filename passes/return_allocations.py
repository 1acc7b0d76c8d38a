"""wafer-return-allocations: return a buffer, not a reshaped view of one."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import memref

from .pass_base import WaferPass, find_ops

_RESHAPES = ("memref.collapse_shape", "memref.expand_shape")


@dataclass(frozen=True)
class ReturnAllocations(WaferPass):
    """Where a function returns a `memref.collapse_shape` or `expand_shape` of
    a static buffer it allocates, allocate the returned shape instead, and
    let the old buffer's users see it through the inverse reshape; where it
    returns one buffer twice, return a copy of it the second time.

    buffer-results-to-out-params with `hoist-static-allocs` writes into the
    caller's result buffer only a result that is a `memref.alloc`; any other
    result it copies there. A packed matmul's C is reshaped by its unpack:
    without this, a 1024x1024 result would be held twice and copied once.
    And it hoists one allocation into two results' buffers, which crashes it.
    """

    name = "wafer-return-allocations"
    summary = "Return each result in an allocated buffer of its own, not a reshaped view"

    def apply(self, module: ir.Operation) -> None:
        for ret in find_ops(module, lambda op: op.name == "func.return"):
            returned = []
            for index, value in enumerate(ret.operands):
                view = value.owner
                if isinstance(view, ir.OpView) and view.name in _RESHAPES and _is_static_alloc(view.operands[0]):
                    value = ret.operands[index] = _allocate_as(view)
                    if not list(view.result.uses):
                        view.erase()
                if value in returned and _is_static_alloc(value):
                    value = ret.operands[index] = _copy_before(ret, value)
                returned.append(value)


def _is_static_alloc(buffer: ir.Value) -> bool:
    """An identity-layout buffer of a `memref.alloc` without dynamic sizes."""
    alloc = buffer.owner
    return (isinstance(alloc, ir.OpView) and alloc.name == "memref.alloc" and not alloc.operands
            and _has_identity_layout(buffer.type))


def _has_identity_layout(type_: ir.Type) -> bool:
    shaped = ir.MemRefType(type_)
    return shaped.layout == ir.AffineMapAttr.get(ir.AffineMap.get_identity(shaped.rank))


def _allocate_as(view: ir.OpView) -> ir.Value:
    """A new buffer of `view`'s type, where `view`'s source buffer was
    allocated; the source's users get the new buffer reshaped back."""
    old = view.operands[0].owner
    with ir.InsertionPoint(old), old.location:
        new = memref.AllocOp(view.result.type, [], [], alignment=old.attributes.get("alignment")).result
        reassociation = view.attributes["reassociation"]
        old_type = old.result.type
        if view.name == "memref.collapse_shape":
            back = memref.ExpandShapeOp(old_type, new, reassociation, [], ir.MemRefType(old_type).shape)
        else:
            back = memref.CollapseShapeOp(old_type, new, reassociation)
    old.result.replace_all_uses_with(back.result)
    old.erase()
    return new


def _copy_before(op: ir.Operation, buffer: ir.Value) -> ir.Value:
    """A new buffer like `buffer` that holds a copy of it, made just before `op`."""
    with ir.InsertionPoint(op), op.location:
        copy = memref.AllocOp(buffer.type, [], [], alignment=buffer.owner.attributes.get("alignment")).result
        memref.CopyOp(buffer, copy)
    return copy
