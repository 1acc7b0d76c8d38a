"""wafer-slab-gathers: a gather of whole rows (or matrices) of a table copies each as one slice."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import scf, tensor

from .cpu_target import TargetedPass
from .linalg_builders import clone_into, index_constant, is_constant, is_named, parallel_insert, reassociation
from .linalg_queries import holds_assert, indexing_maps, is_projected_map, map_dims, reduction_dims
from .pass_base import find_ops
from .serial_foralls import SERIAL


@dataclass(frozen=True)
class Slab:
    """A gather `out[o..., i...] = table[f(o...)..., i...]`: `outer` leading dims
    of the result pick a slab of the table by the indices the body computes
    from them, and its `inner` trailing dims run over the whole slab."""

    generic: ir.OpView
    extract: ir.OpView
    outer: int
    inner: int


def slab_gather(op: ir.OpView) -> Slab | None:
    """`op` as a `Slab` gather, or None: a static all-parallel generic whose body
    yields a `tensor.extract` of a table from outside it, whose trailing
    indices are the result's trailing loop indices over the table's whole
    trailing dims, and whose other indices (and every other body op, the bound
    checks) read only the leading loop indices and inputs indexed by them."""
    if op.name != "linalg.generic" or len(op.results) != 1 or not op.results[0].type.has_static_shape:
        return None
    if all(_known(value) for value in op.inputs):
        return None  # indices known at compile time (position ids): a consumer's tiles read the table in place
    if reduction_dims(op):
        return None
    body = op.regions[0].blocks[0]
    *ops, terminator = body.operations
    extract = terminator.operands[0].owner
    if not (ops and extract == ops[-1] and extract.name == "tensor.extract") or list(body.arguments[-1].uses):
        return None  # a body that reads its init computes more than a gather
    table = extract.operands[0]
    if isinstance(table.owner, ir.Block) and table.owner == body or not table.type.has_static_shape:
        return None
    rank, shape = op.results[0].type.rank, op.results[0].type.shape
    indices = list(extract.operands)[1:]
    inner = 0
    while inner < min(rank, len(indices)) and _loop_index(indices[-1 - inner]) == rank - 1 - inner \
            and table.type.shape[-1 - inner] == shape[-1 - inner]:
        inner += 1
    outer = rank - inner
    maps = indexing_maps(op)
    if inner == 0 or maps[-1] != ir.AffineMap.get_identity(rank):
        return None
    if not all(is_projected_map(m) and all(d is None or d < outer for d in map_dims(m)) for m in maps[:-1]):
        return None
    trailing = {index.owner for index in _split_indices(extract, inner)[1]}
    for inner_op in ops[:-1]:
        if inner_op in trailing:
            if any(use.owner != extract for result in inner_op.results for use in result.uses):
                return None
        elif _loop_index(inner_op.result if len(inner_op.results) == 1 else None) not in (None, *range(outer)):
            return None
    return Slab(op, extract, outer, inner)


def _known(value: ir.Value) -> bool:
    """A constant, or a slice of one (the first T of 512 position ids)."""
    while is_named(value.owner, "tensor.extract_slice"):
        value = value.owner.operands[0]
    return is_constant(value)


def _split_indices(extract: ir.OpView, inner: int) -> tuple[list[ir.Value], list[ir.Value]]:
    """The indices of `extract` that pick a slab, and the `inner` that run over it."""
    indices = list(extract.operands)[1:]
    return indices[:len(indices) - inner], indices[len(indices) - inner:]


def _loop_index(value: ir.Value | None) -> int | None:
    """The dim of a `linalg.index` that defines `value`, else None."""
    if value is not None and is_named(value.owner, "linalg.index"):
        return ir.IntegerAttr(value.owner.attributes["dim"]).value
    return None


def slab_at(slab: Slab, ivs: list[ir.Value], checked: bool = True) -> ir.Value:
    """The slab at leading indices `ivs`, a slice of the table of the slab's
    shape, built at the insertion point with the body's index computation
    (and its checks, where `checked`)."""
    op, extract = slab.generic, slab.extract
    body = op.regions[0].blocks[0]
    *ops, _ = body.operations
    mapping = {}
    for argument, value, affine_map in zip(body.arguments, op.inputs, indexing_maps(op)):
        mapping[argument] = tensor.ExtractOp(value, [index_constant(0) if d is None else ivs[d]
                                                     for d in map_dims(affine_map)]).result
    leading, trailing_indices = _split_indices(extract, slab.inner)
    trailing = {index.owner for index in trailing_indices}
    for inner_op in ops[:-1]:
        if inner_op.name == "linalg.index" and inner_op not in trailing:
            mapping[inner_op.result] = ivs[ir.IntegerAttr(inner_op.attributes["dim"]).value]
    clone_into([o for o in ops[:-1] if o.name != "linalg.index" and (checked or o.name != "cf.assert")], mapping)
    table = extract.operands[0]
    leading = [mapping.get(index, index) for index in leading]
    shape = op.results[0].type.shape[slab.outer:]
    sizes = [1] * len(leading) + shape
    return tensor.ExtractSliceOp(ir.RankedTensorType.get(shape, table.type.element_type), table, leading, [], [],
                                 [ir.ShapedType.get_dynamic_stride_or_offset()] * len(leading) + [0] * slab.inner,
                                 sizes, [1] * len(sizes)).result


def copy_slabs(slab: Slab) -> None:
    """Replace the gather by an scf.forall over its leading dims that computes
    each slab's indices once, checks them, and copies the slab as a slice; a
    serial one where it checks (a failed check must not return from a thread)."""
    op = slab.generic
    result = op.results[0]
    shape = result.type.shape
    with ir.InsertionPoint(op), op.location:
        loop = scf.ForallOp([0] * slab.outer, shape[:slab.outer], [1] * slab.outer, [op.outputs[0]])
        if holds_assert(op):
            loop.attributes[SERIAL] = ir.UnitAttr.get()
    with ir.InsertionPoint(loop.body), op.location:
        ivs = list(loop.induction_variables)
        piece = slab_at(slab, ivs)
        tile = [1] * slab.outer + shape[slab.outer:]  # of the result's rank, as consumers fused into the loop expect
        groups = [list(range(slab.outer + 1))] + [[slab.outer + 1 + i] for i in range(slab.inner - 1)]
        piece = tensor.ExpandShapeOp(ir.RankedTensorType.get(tile, result.type.element_type), piece,
                                     reassociation(*groups), [], static_output_shape=tile).result
        with ir.InsertionPoint(loop.terminator().block):
            parallel_insert(piece, loop.inner_iter_args[0], [*ivs, *[0] * slab.inner], tile)
    result.replace_all_uses_with(loop.results[0])
    op.operation.erase()


@dataclass(frozen=True)
class SlabGathers(TargetedPass):
    """Copy each gather of whole slabs of a table (an embedding's rows, a mixture
    of experts' matrices) a slice at a time.

    torch-mlir lowers `x[i]` and `index_select` to a generic that computes the
    index, checks it and loads one element per output element: kept a scalar
    loop (a check has no vector form), or tiled into a consumer's packing with
    the index math repeated for every element. A slab holds at least a vector
    of elements; its copy runs at memory speed (wafer-vectorize-copies).
    """

    name = "wafer-slab-gathers"
    summary = "Copy gathers of whole table slabs a slice at a time"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.generic"):
            slab = slab_gather(op.opview)
            if slab is not None and math.prod(op.results[0].type.shape[slab.outer:]) >= self.cpu.lanes:
                copy_slabs(slab)
