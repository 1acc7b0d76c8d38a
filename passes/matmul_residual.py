"""wafer-pack-matmul's residual: a contraction whose sums are added to a tensor
that dies there accumulates onto that tensor instead."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .linalg_builders import is_named, is_zero_fill, reshaped_back
from .linalg_queries import indexing_maps, iterator_types
from .matmul_bias import viewed_back

_RESHAPES = ("tensor.expand_shape", "tensor.collapse_shape")
_VIEWS = (*_RESHAPES, "tensor.extract_slice")


def accumulate_onto_residual(op: ir.OpView) -> None:
    """C = 0; C += A x B; S = C + bias; D = S + R  ->  C = R; C += A x B; D = C + bias.

    A residual block's last convolution (ResNet's, RegNet's) adds its sums,
    after its bias, to the block's input or to its downsampled copy. As an
    epilogue, that add reads R and writes D, a new image: every tile of D is
    read from memory before the kernel writes it, and R is read once more.
    Started from R, the kernel reads R's tile where it would start from zeros
    and writes its sums over R, in place: ResNet-50's 56x56 ones wrote and
    read 26 MB less at batch 8 (`bench/residual.py` times both ways).

    Applies where C is a zero fill, seen through collapse_shapes, whose sums
    reach the add in the contraction's block through the expand_shapes that
    undo them, through reshapes and through adds of one other operand each
    (a bias), each read only by the next (a transformer's projection back to
    its [batch, tokens, width] residual stream); and where R, of D's type, is
    a temporary that nothing reads after the contraction, so bufferization
    writes the sums into its memory instead of copying it.
    """
    views, init = [], op.operands[2]
    while is_named(init.owner, "tensor.collapse_shape"):
        views.append(init.owner)
        init = init.owner.operands[0]
    if not is_zero_fill(init):
        return
    sums = viewed_back(op.results[0], views)
    if sums is None:
        return
    found = _residual_add(sums, op)
    if found is None:
        return
    add, chained, residual, reshapes = found
    with ir.InsertionPoint(op), op.location:
        for reshape in reversed(reshapes):
            residual = reshaped_back(reshape, residual)
        for view in reversed(views):
            residual = tensor.CollapseShapeOp(view.results[0].type, residual,
                                              view.attributes["reassociation"]).result
    op.operation.operands[2] = residual
    add.results[0].replace_all_uses_with(chained)
    add.erase()


def _residual_add(sums: ir.Value, contraction: ir.OpView):
    """The add of R at the end of `sums`' chain of adds and reshapes, the
    chain's value it adds R to, R, and the chain's reshapes; None if the
    chain ends otherwise."""
    value, reshapes = sums, []
    while len(list(value.uses)) == 1:
        user = next(iter(value.uses)).owner
        if user.operation.block != contraction.operation.block:
            return None
        if is_named(user, *_RESHAPES):
            reshapes.append(user)
            value = user.results[0]
            continue
        other = _other_addend(user, value)
        if other is None:
            return None
        maps = indexing_maps(user)
        if other.type == value.type and all(m == maps[0] for m in maps):
            return (user, value, other, reshapes) if _dies_at(other, contraction, user) else None
        value = user.results[0]
    return None


def _other_addend(op: ir.Operation, value: ir.Value) -> ir.Value | None:
    """The other input of `op` if `op` is an elementwise generic yielding
    `value`, read where it writes, plus that input; else None."""
    if not is_named(op, "linalg.generic") or len(op.operands) != 3 or op.results[0].type != value.type:
        return None
    if any(kind != linalg.IteratorType.parallel for kind in iterator_types(op)):
        return None
    block = op.regions[0].blocks[0]
    body = list(block.operations)
    if not (len(body) == 2 and body[0].name == "arith.addf" and body[1].name == "linalg.yield"
            and set(body[0].operands) == set(list(block.arguments)[:2]) and body[1].operands[0] == body[0].results[0]):
        return None
    maps = indexing_maps(op)
    identity = ir.AffineMap.get_identity(ir.RankedTensorType(value.type).rank)
    position = [v == value for v in op.operands[:2]]
    if position.count(True) != 1 or maps[position.index(True)] != identity or maps[2] != identity:
        return None
    return op.operands[1 - position.index(True)]


def _dies_at(residual: ir.Value, contraction: ir.OpView, add: ir.Operation) -> bool:
    """Whether `residual` is a temporary, a linalg or scf op's result seen
    through reshapes, defined before `contraction`, whose memory nothing but
    `add` reads after it."""
    block = contraction.operation.block
    owner = residual.owner
    if not (isinstance(owner, ir.OpView) and owner.operation.block == block
            and owner.operation.is_before_in_block(contraction.operation)):
        return False
    root = residual
    while is_named(root.owner, *_RESHAPES):
        root = root.owner.operands[0]
    if not (isinstance(root.owner, ir.OpView) and root.owner.name.startswith(("linalg.", "scf."))):
        return False
    return _read_before(root, contraction.operation, add.operation)


def _read_before(value: ir.Value, contraction: ir.Operation, add: ir.Operation) -> bool:
    """Whether every reader of `value`, and of the views of it, is before
    `contraction` in its block, but `add`."""
    for use in value.uses:
        reader = use.owner.operation
        if reader == add:
            continue
        if is_named(reader, *_VIEWS):
            if not _read_before(reader.results[0], contraction, add):
                return False
            continue
        while reader.block != contraction.block:
            reader = reader.parent
        if not reader.is_before_in_block(contraction):
            return False
    return True
