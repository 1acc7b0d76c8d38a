"""wafer-pack-matmul's bias: a contraction whose init is a broadcast bias sums
from zero and adds the bias after, as an epilogue."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .linalg_builders import affine_maps, iterator_types_attr


def add_bias_after_sums(op: ir.OpView) -> None:
    """C = broadcast(bias); C += A x B  ->  C = 0; C += A x B; C + bias.

    torch-mlir imports a convolution's bias as the broadcast its sums start
    from. Broadcast in full, that is a serial pass writing all of C before
    the parallel kernel reads it back. From zero, each cache tile fills its
    own accumulators in cache (see `fuse_accumulator_fills`), and the add
    joins the activation after it as one epilogue over each tile (see
    wafer-fuse-epilogues). Applies to a C that is the broadcast, or a reshape
    of it whose sums are reshaped back (im2col's [N, F, OH*OW]): the add is
    on the broadcast's own shape, where the activation after it is.
    """
    init = op.operands[2]
    reshape = init.owner if _named(init.owner, "tensor.collapse_shape") else None
    broadcast = reshape.operands[0].owner if reshape is not None else init.owner
    if not _named(broadcast, "linalg.broadcast") or len(list(init.uses)) != 1:
        return
    full = broadcast.results[0].type
    sums = op.results[0]
    if reshape is not None:  # add where the sums are reshaped back to the broadcast's shape
        users = [use.owner for use in sums.uses]
        if len(users) != 1 or not _named(users[0], "tensor.expand_shape") or users[0].results[0].type != full:
            return
        sums = users[0].results[0]
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
    if reshape is not None:
        reshape.erase()
    broadcast.erase()


def _named(op, name: str) -> bool:
    return isinstance(op, ir.OpView) and op.name == name
