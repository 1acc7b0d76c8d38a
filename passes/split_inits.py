"""wafer-pack-matmul's split contractions: each part starts from a fill of its
own, not from a slice of one over the whole result."""

from __future__ import annotations

import math

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .linalg_builders import is_named
from .pass_base import find_ops

_SLICES = ("tensor.extract_slice", "tensor.insert_slice")


def give_parts_their_own_fills(module: ir.Operation) -> None:
    """Make each static slice of a fill (a split's parts' inits) a fill of the slice's shape.

    `transform.structured.split` reads each part's init as a slice of the
    whole init, the remainder's after the first part's sums are inserted.
    Where that init is a fill (wafer-pack-matmul adds a bias after the sums,
    see `add_bias_after_sums`), C is then zeroed whole before the kernels
    read it back (8.6 MB for MobileNet-v2's first expansion at 299x299). Of
    its own, each part's fill moves into its cache tiles instead
    (`fuse_accumulator_fills`). Once the parts' inserts cover all of C the
    whole fill is left unread: they insert into its empty tensor, and
    wafer-eliminate-reshaped-empties has the first part compute in place
    there.
    """
    for collapse in find_ops(module, lambda op: op.name == "tensor.collapse_shape" and _is_fill(op.operands[0].owner)
                             and all(use.owner.name in _SLICES for use in op.results[0].uses)):
        _fill_instead(collapse, collapse.operands[0].owner)
    # Last first: a slice of a later insert of a chain may read what an earlier one left alone.
    for insert in reversed(find_ops(module, lambda op: op.name == "tensor.insert_slice" and _inserts_into_fill(op))):
        for use in list(insert.results[0].uses):
            if use.owner.name == "tensor.extract_slice" and _disjoint(_region(use.owner), _region(insert)):
                use.owner.operands[0] = insert.operands[1]
    for fill in find_ops(module, _is_fill):
        for use in list(fill.results[0].uses):
            if use.owner.name == "tensor.extract_slice" and _region(use.owner) is not None:
                _fill_instead(use.owner, fill)
        empty = fill.operands[1].owner
        if is_named(empty, "tensor.empty") and _covered_by_inserts(fill.results[0]):
            fill.results[0].replace_all_uses_with(fill.operands[1])
            fill.erase()


def _is_fill(op: ir.Operation | ir.Block) -> bool:
    """Whether `op` is a linalg.fill of a static tensor."""
    return (is_named(op, "linalg.fill") and len(op.results) == 1
            and isinstance(op.results[0].type, ir.RankedTensorType) and op.results[0].type.has_static_shape)


def _fill_instead(view: ir.Operation, fill: ir.Operation) -> None:
    """Replace `view` (a static slice or a collapse of `fill`) by a fill of a tensor of its own."""
    result = view.results[0]
    with ir.InsertionPoint(view), view.location:
        own = linalg.fill(fill.operands[0], outs=[tensor.EmptyOp(result.type.shape, result.type.element_type).result])
    result.replace_all_uses_with(own)
    view.erase()


def _inserts_into_fill(insert: ir.Operation) -> bool:
    """Whether `insert` is in a chain of inserts into a fill. Elsewhere, a
    slice redirected to the chain's dest would be one more read of it, and
    bufferization, which cannot tell the regions apart, would copy it whole."""
    dest = insert.operands[1].owner
    while is_named(dest, "tensor.insert_slice"):
        dest = dest.operands[1].owner
    return _is_fill(dest)


def _region(op: ir.Operation) -> list[tuple[int, int]] | None:
    """The [start, end) in each dim of a static unit-stride slice or insert."""
    op = op.opview
    if list(op.offsets) or list(op.sizes) or list(op.strides) or any(s != 1 for s in op.static_strides):
        return None
    return [(o, o + n) for o, n in zip(op.static_offsets, op.static_sizes)]


def _disjoint(a: list[tuple[int, int]] | None, b: list[tuple[int, int]] | None) -> bool:
    return a is not None and b is not None and any(end <= start2 or end2 <= start
                                                   for (start, end), (start2, end2) in zip(a, b))


def _covered_by_inserts(value: ir.Value) -> bool:
    """Whether `value` is read only as the dest of a chain of inserts that overwrite all of it."""
    regions = []
    while len(list(value.uses)) == 1:
        use = next(iter(value.uses))
        if use.owner.name != "tensor.insert_slice" or use.operand_number != 1:
            break
        region = _region(use.owner)
        if region is None or any(not _disjoint(region, other) for other in regions):
            return False
        regions.append(region)
        value = use.owner.results[0]
    return bool(regions) and sum(math.prod(e - s for s, e in r) for r in regions) == math.prod(value.type.shape)
