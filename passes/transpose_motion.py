"""Move NCHW<->NHWC transposes through a function until pairs meet and cancel.

wafer-channels-last leaves each convolution it rewrites between a transpose
to NHWC (its input) and one back to NCHW (its result). Transposes to NCHW
sink into their consumers: an elementwise op runs in NHWC instead (its other
full-rank inputs transposed to NHWC, a bias or a scalar read through the
permuted loops), a zero padding pads NHWC, a reduction (a global average
pool) reads the NHWC tensor through its indexing map. Transposes to NHWC
rise into their producers: a fill fills NHWC, a padding pads the transposed
input. Where one of each meets, neither is needed.
"""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .fold_transpose import transposed_operand_map
from .linalg_builders import generic_like, move_body, pad_value
from .linalg_queries import PARALLEL, indexing_maps, iterator_types

TO_NHWC = [0, 2, 3, 1]
TO_NCHW = [0, 3, 1, 2]


def transpose(value: ir.Value, permutation: list[int]) -> ir.Value:
    """`linalg.transpose` of `value` into a new tensor, built at the insertion point."""
    shaped = ir.RankedTensorType(value.type)
    empty = tensor.EmptyOp([shaped.shape[p] for p in permutation], shaped.element_type).result
    return linalg.transpose(value, outs=[empty], permutation=permutation).results[0]


def transpose_source(value: ir.Value, permutation: list[int]) -> ir.Value | None:
    """The input of the `linalg.transpose` with `permutation` that produced `value`, or None."""
    owner = value.owner
    if isinstance(owner, ir.OpView) and owner.name == "linalg.transpose" and list(owner.permutation) == permutation:
        return owner.operands[0]
    return None


def sink_through_elementwise(op: ir.OpView) -> bool:
    """G(transpose(y), x, bias) -> transpose(G'(y, transpose(x), bias)), G' iterating in NHWC.

    Applies to an all-parallel 4-D generic whose result is its loops in order,
    that does not read its output, and at least one of whose full-rank inputs
    is a transpose to NCHW: the other full-rank inputs are transposed to NHWC
    (that transpose rises to cancel in turn), and the inputs that broadcast (a
    bias, a scalar) are read through the permuted loops in place."""
    if op.name != "linalg.generic" or any(kind != PARALLEL for kind in iterator_types(op)):
        return False
    n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
    maps, operands = indexing_maps(op), list(op.operands)
    identity = ir.AffineMap.get_identity(4)
    outputs = range(n_inputs, len(operands))
    args = op.regions[0].blocks[0].arguments
    if any(maps[i] != identity or any(True for _ in args[i].uses) for i in outputs):
        return False
    full_rank = [i for i in range(n_inputs) if maps[i] == identity]
    sources = {i: transpose_source(operands[i], TO_NCHW) for i in full_rank}
    if not any(sources.values()):
        return False
    loops = ir.AffineMap.get_permutation(TO_NCHW)  # old loop i is new loop TO_NCHW[i]
    new_operands, new_maps = [], []
    with ir.InsertionPoint(op), op.location:
        for i in range(n_inputs):
            if i in full_rank:
                new_operands.append(sources[i] or _risen(transpose(operands[i], TO_NHWC)))
                new_maps.append(identity)
            else:
                new_operands.append(operands[i])
                new_maps.append(ir.AffineMap.get(4, 0, [e.compose(loops) for e in maps[i].results]))
        inits = [tensor.EmptyOp([ir.ShapedType(operands[i].type).shape[p] for p in TO_NHWC],
                                ir.ShapedType(operands[i].type).element_type).result for i in outputs]
    generic, block = generic_like(op, new_operands, [ir.AffineMapAttr.get(m) for m in new_maps],
                                  list(op.regions[0].blocks[0].arguments), inits,
                                  [ir.AffineMapAttr.get(identity)] * len(inits))
    move_body(op, block)
    with ir.InsertionPoint(op), op.location:
        for old, new in zip(op.results, generic.results):
            old.replace_all_uses_with(transpose(new, TO_NCHW))
    op.operation.erase()
    return True


def sink_through_pad(op: ir.OpView) -> bool:
    """pad(transpose(y), v) -> transpose(pad'(y, v)), the border permuted with the dims."""
    padding = _constant_padding(op)
    source = transpose_source(op.operands[0], TO_NCHW) if padding is not None else None
    if source is None:
        return False
    low, high = (list(ir.DenseI64ArrayAttr(op.attributes[k])) for k in ("static_low", "static_high"))
    with ir.InsertionPoint(op), op.location:
        pad = pad_value(source, [low[p] for p in TO_NHWC], [high[p] for p in TO_NHWC], padding)
        op.result.replace_all_uses_with(transpose(pad, TO_NCHW))
    op.operation.erase()
    return True


def rise_through_producer(op: ir.OpView) -> bool:
    """transpose(transpose(y)) -> y, transpose(fill(v)) -> fill'(v) and
    transpose(pad(x)) -> pad'(transpose(x)), for transposes to NHWC."""
    replacement = _without_transpose(op)
    if replacement is None:
        return False
    op.results[0].replace_all_uses_with(replacement)
    op.operation.erase()
    return True


def _risen(value: ir.Value) -> ir.Value:
    """`value`, a new transpose to NHWC with no uses yet, risen as far as it goes."""
    replacement = _without_transpose(value.owner)
    if replacement is None:
        return value
    value.owner.erase()
    return replacement


def _without_transpose(op: ir.OpView) -> ir.Value | None:
    """What transpose-to-NHWC `op` is, computed without it, or None."""
    if op.name != "linalg.transpose" or list(op.permutation) != TO_NHWC:
        return None
    source = op.operands[0]
    cancelled = transpose_source(source, TO_NCHW)
    if cancelled is not None:
        return cancelled
    producer = source.owner if isinstance(source.owner, ir.OpView) else None
    if producer is None:
        return None
    with ir.InsertionPoint(op), op.location:
        if producer.name == "linalg.fill":
            return linalg.fill(producer.operands[0], outs=[op.operands[1]])
        padding = _constant_padding(producer)
        if padding is None:
            return None
        low, high = (list(ir.DenseI64ArrayAttr(producer.attributes[k])) for k in ("static_low", "static_high"))
        return pad_value(_risen(transpose(producer.operands[0], TO_NHWC)), [low[p] for p in TO_NHWC],
                         [high[p] for p in TO_NHWC], padding)


def _constant_padding(pad: ir.OpView) -> ir.Value | None:
    """The value a static `tensor.pad` pads with, if it is computed outside the pad."""
    if pad.name != "tensor.pad" or len(list(pad.operands)) != 1:  # dynamic low/high pads are operands
        return None
    body = list(pad.regions[0].blocks[0].operations)
    return body[0].operands[0] if len(body) == 1 else None


def fold_into_reduction(op: ir.OpView) -> bool:
    """A reduction (a global average pool) reads a transpose's input through its map."""
    if op.name != "linalg.generic" or all(kind == PARALLEL for kind in iterator_types(op)):
        return False
    n_inputs = ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[0]
    maps, folded = indexing_maps(op), False
    for i in range(n_inputs):
        source = transpose_source(op.operands[i], TO_NCHW)
        if source is not None:
            op.operation.operands[i] = source
            maps[i] = transposed_operand_map(maps[i], TO_NCHW)
            folded = True
    if folded:
        op.attributes["indexing_maps"] = ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps])
    return folded


def move_transposes(ops: list[ir.Operation]) -> None:
    """Sink and rise the transposes among `ops`, in program order: each op's
    producers have moved theirs by the time it is visited."""
    for op in ops:
        for rewrite in (sink_through_elementwise, sink_through_pad, rise_through_producer, fold_into_reduction):
            if rewrite(op.opview):
                break
