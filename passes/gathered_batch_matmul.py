"""wafer-gathered-batch-matmul: a batched product of gathered matrices reads each from its table in place."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, scf, tensor

from .linalg_builders import extract_slice, index_constant, is_named, parallel_insert, reassociation
from .linalg_queries import holds_assert
from .pass_base import WaferPass, find_ops
from .slab_gathers import Slab, slab_at, slab_gather


@dataclass(frozen=True)
class Gathered:
    """A batch_matmul operand that is a gather of whole matrices, maybe through a transpose of each."""

    slab: Slab
    transpose: ir.OpView | None


def _gathered(value: ir.Value) -> Gathered | None:
    transpose = value.owner if is_named(value.owner, "linalg.transpose") else None
    if transpose is not None:
        if list(ir.DenseI64ArrayAttr(transpose.attributes["permutation"])) != [0, 2, 1] or len(list(value.uses)) != 1:
            return None
        value = transpose.operands[0]
    owner = value.owner
    if not (isinstance(owner, ir.OpView) and len(list(value.uses)) == 1):
        return None
    slab = slab_gather(owner)
    return Gathered(slab, transpose) if slab is not None and (slab.outer, slab.inner) == (1, 2) else None


@dataclass(frozen=True)
class GatheredBatchMatmul(WaferPass):
    """Compute a batch_matmul whose operand gathers whole matrices of a table
    (a mixture of experts' weights, wafer/grouped_matmuls.py) as a loop of
    matmuls, each reading its matrix from the table in place.

    Copied first (wafer-slab-gathers), the gathered matrices went through
    memory twice, the copy and the product's packing, for every item: a
    Mixtral layer of 8 experts copied 15 of them on every call. The loop is
    an scf.forall over the batch; the gathers' index checks run first, in a
    serial loop of their own (a failed check must not return from a thread).
    """

    name = "wafer-gathered-batch-matmul"
    summary = "Read a batch_matmul's gathered matrices from their table in place"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.batch_matmul"):
            matmul = op.opview
            if not all(v.type.has_static_shape for v in matmul.operands):
                continue
            operands = [_gathered(value) for value in matmul.inputs]
            if any(operands):
                _loop_of_matmuls(matmul, operands)


def _loop_of_matmuls(matmul: ir.OpView, operands: list[Gathered | None]) -> None:
    init = matmul.outputs[0]
    batch, rows, cols = init.type.shape
    with ir.InsertionPoint(matmul), matmul.location:
        checked = [g.slab for g in operands if g is not None and holds_assert(g.slab.generic)]
        if checked:
            checks = scf.ForOp(index_constant(0), index_constant(batch), index_constant(1))
            with ir.InsertionPoint(checks.body):
                for slab in checked:
                    slab_at(slab, [checks.induction_variable])
                scf.YieldOp([])
        loop = scf.ForallOp([0], [batch], [1], [init])
    with ir.InsertionPoint(loop.body), matmul.location:
        index = loop.induction_variables[0]
        matrices = [_matrix(value, gathered, index) for value, gathered in zip(matmul.inputs, operands)]
        tile = extract_slice(loop.inner_iter_args[0], [index, 0, 0], [1, rows, cols])
        m, n, k = (ir.AffineDimExpr.get(i) for i in range(3))
        maps = [ir.AffineMap.get(3, 0, dims) for dims in ([m, k], [k, n], [m, n])]
        product = linalg.matmul(*matrices, outs=[_squeezed(tile)], indexing_maps=maps)
        product = tensor.ExpandShapeOp(tile.type, product, reassociation([0, 1], [2]), [],
                                       static_output_shape=[1, rows, cols]).result
        with ir.InsertionPoint(loop.terminator().block):
            parallel_insert(product, loop.inner_iter_args[0], [index, 0, 0], [1, rows, cols])
    matmul.results[0].replace_all_uses_with(loop.results[0])
    matmul.operation.erase()
    for gathered in operands:
        if gathered is not None:
            if gathered.transpose is not None:
                gathered.transpose.operation.erase()
            gathered.slab.generic.operation.erase()


def _matrix(value: ir.Value, gathered: Gathered | None, index: ir.Value) -> ir.Value:
    """Batch `index` of the operand `value`: its table's matrix, unchecked (the checks ran before), or its slice."""
    if gathered is None:
        _, rows, cols = value.type.shape
        return _squeezed(extract_slice(value, [index, 0, 0], [1, rows, cols]))
    matrix = slab_at(gathered.slab, [index], checked=False)
    if gathered.transpose is None:
        return matrix
    rows, cols = matrix.type.shape
    empty = tensor.EmptyOp([cols, rows], matrix.type.element_type).result
    return linalg.transpose(matrix, outs=[empty], permutation=[1, 0])


def _squeezed(tile: ir.Value) -> ir.Value:
    """A [1, M, N] tile as [M, N]."""
    _, rows, cols = tile.type.shape
    return tensor.CollapseShapeOp(ir.RankedTensorType.get([rows, cols], tile.type.element_type), tile,
                                  reassociation([0, 1], [2])).result
