"""wafer-pack-matmul's bias: a contraction whose init is a broadcast bias sums
from zero and adds the bias after, as an epilogue."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .linalg_builders import affine_maps, is_named, iterator_types_attr


def add_bias_after_sums(op: ir.OpView) -> None:
    """C = broadcast(bias); C += A x B  ->  C = 0; C += A x B; C + bias.

    torch-mlir imports a convolution's bias as the broadcast its sums start
    from. Broadcast in full, that is a serial pass writing all of C before
    the parallel kernel reads it back. From zero, each cache tile fills its
    own accumulators in cache (see `fuse_accumulator_fills`), and the add
    joins the activation after it as one epilogue over each tile (see
    wafer-fuse-epilogues). Applies to a C that is the broadcast, or views of
    it whose sums are viewed back: im2col's reshape to [N, F, OH*OW], and an
    oriented convolution's transpose to [N, OH*OW, F] (wafer-orient-
    contractions), whose broadcast was a second pass over C. The add is on
    the broadcast's own shape, where the activation after it is.
    """
    init = op.operands[2]
    views, value = [], init
    while is_named(value.owner, *_VIEWS) and len(list(value.uses)) == 1:
        views.append(value.owner)
        value = value.owner.operands[0]
    broadcast = value.owner
    if not is_named(broadcast, "linalg.broadcast") or len(list(value.uses)) != 1:
        return
    full = broadcast.results[0].type
    sums = viewed_back(op.results[0], views)
    if sums is None or sums.type != full:
        return
    element = full.element_type
    with ir.InsertionPoint(op), op.location:
        zero = arith.ConstantOp(element, 0.0).result
        op.operation.operands[2] = linalg.fill(zero, outs=[tensor.EmptyOp(init.type.shape, element).result])
    broadcast_dims = list(ir.DenseI64ArrayAttr(broadcast.attributes["dimensions"]))
    d = [ir.AffineDimExpr.get(i) for i in range(full.rank)]
    with ir.InsertionPoint.after(sums.owner), op.location:
        empty = tensor.EmptyOp(full.shape, element)
        add = linalg.GenericOp([full], [sums, broadcast.operands[0]], [empty.result],
                               affine_maps(full.rank, d, [e for i, e in enumerate(d) if i not in broadcast_dims], d),
                               iterator_types_attr(*["parallel"] * full.rank))
        block = add.regions[0].blocks.append(element, element, element)
        with ir.InsertionPoint(block):
            linalg.YieldOp([arith.AddFOp(block.arguments[0], block.arguments[1]).result])
    sums.replace_all_uses_except(add.results[0], add.operation)
    for view in views:  # the one C read first, then what it viewed
        view.erase()
    broadcast.erase()


_VIEWS = ("tensor.collapse_shape", "linalg.transpose")


def viewed_back(sums: ir.Value, views: list[ir.OpView]) -> ir.Value | None:
    """`sums` through the ops that undo `views` (C's own first): an expand_shape
    of a collapse's groups, a transpose by a transpose's inverse; None if its
    users are not those."""
    for view in views:
        users = [use.owner for use in sums.uses]
        if len(users) != 1:
            return None
        (user,) = users
        if view.name == "tensor.collapse_shape":
            undone = (is_named(user, "tensor.expand_shape")
                      and user.attributes["reassociation"] == view.attributes["reassociation"])
        else:
            permutation = list(ir.DenseI64ArrayAttr(view.attributes["permutation"]))
            inverse = [permutation.index(i) for i in range(len(permutation))]
            undone = (is_named(user, "linalg.transpose")
                      and list(ir.DenseI64ArrayAttr(user.attributes["permutation"])) == inverse)
        if not undone or user.results[0].type != view.operands[0].type:
            return None
        sums = user.results[0]
    return sums
