"""wafer-return-allocations: return a buffer, not a reshaped view of one."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import memref

from .pass_base import WaferPass, find_ops

_RESHAPES = ("memref.collapse_shape", "memref.expand_shape")


@dataclass(frozen=True)
class ReturnAllocations(WaferPass):
    """Where a function returns a `memref.collapse_shape` or `expand_shape`
    (or a chain of them) of a static buffer it allocates, allocate the
    returned shape instead, and let the old buffer's users see it through the
    inverse reshapes; where it returns one buffer twice, return a copy of it
    the second time.

    buffer-results-to-out-params with `hoist-static-allocs` writes into the
    caller's result buffer only a result that is a `memref.alloc`; any other
    result it copies there. A packed matmul's C is reshaped by its unpack,
    and a packed convolution's collapsed to [N, F, H*W] and expanded to NCHW:
    without this, a 1024x1024 result would be held twice and copied once.
    And it hoists one allocation into two results' buffers, which crashes it.
    """

    name = "wafer-return-allocations"
    summary = "Return each result in an allocated buffer of its own, not a reshaped view"

    def apply(self, module: ir.Operation) -> None:
        for ret in find_ops(module, lambda op: op.name == "func.return"):
            returned = []
            for index, value in enumerate(ret.operands):
                views = _reshapes_of_alloc(value)
                if views and views[0].operands[0] not in returned:  # else a view of another result
                    value = ret.operands[index] = _allocate_as(views)
                    for view in reversed(views):
                        if not list(view.result.uses):
                            view.erase()
                if value in returned and _is_static_alloc(value):
                    value = ret.operands[index] = _copy_before(ret, value)
                returned.append(value)


def _reshapes_of_alloc(value: ir.Value) -> list[ir.OpView]:
    """The reshapes, first to last, through which `value` views a static
    buffer allocated here (a packed C collapsed to [N, F, H*W] and expanded
    to NCHW); empty if it is not such a view."""
    views = []
    while isinstance(value.owner, ir.OpView) and value.owner.name in _RESHAPES:
        views.insert(0, value.owner)
        value = value.owner.operands[0]
    return views if views and _is_static_alloc(value) else []


def _is_static_alloc(buffer: ir.Value) -> bool:
    """An identity-layout buffer of a `memref.alloc` without dynamic sizes."""
    alloc = buffer.owner
    return (isinstance(alloc, ir.OpView) and alloc.name == "memref.alloc" and not alloc.operands
            and _has_identity_layout(buffer.type))


def _has_identity_layout(type_: ir.Type) -> bool:
    shaped = ir.MemRefType(type_)
    return shaped.layout == ir.AffineMapAttr.get(ir.AffineMap.get_identity(shaped.rank))


def _allocate_as(views: list[ir.OpView]) -> ir.Value:
    """A new buffer of the last view's type, where the first view's source
    buffer was allocated; the source's users get the new buffer reshaped
    back, through the inverse reshapes in reverse order."""
    old = views[0].operands[0].owner
    with ir.InsertionPoint(old), old.location:
        new = back = memref.AllocOp(views[-1].result.type, [], [], alignment=old.attributes.get("alignment")).result
        for view in reversed(views):
            reassociation = view.attributes["reassociation"]
            source_type = view.operands[0].type
            if view.name == "memref.collapse_shape":
                back = memref.ExpandShapeOp(source_type, back, reassociation, [], ir.MemRefType(source_type).shape)
            else:
                back = memref.CollapseShapeOp(source_type, back, reassociation)
            back = back.result
    old.result.replace_all_uses_with(back)
    old.erase()
    return new


def _copy_before(op: ir.Operation, buffer: ir.Value) -> ir.Value:
    """A new buffer like `buffer` that holds a copy of it, made just before `op`."""
    with ir.InsertionPoint(op), op.location:
        copy = memref.AllocOp(buffer.type, [], [], alignment=buffer.owner.attributes.get("alignment")).result
        memref.CopyOp(buffer, copy)
    return copy
