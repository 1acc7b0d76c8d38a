"""wafer-im2col's widened rows: an im2col gather of odd rows writes whole groups of pixels."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from .depthwise_conv import unpadded
from .linalg_builders import (extract_slice, generic_like, index_constant, int_list, iterator_kinds, move_body, pad_high,
                              pad_value)
from .linalg_queries import indexing_maps, reads_loop_indices

# Rows are widened to whole groups of this many pixels (see `widened_row`)...
_ROW_GROUP = 8
# ... where that computes at most 1/16 more of them.
_MAX_WIDENING = 16


def gathered_row(conv: ir.OpView) -> int:
    """The row length of `conv`'s im2col columns: its output rows, widened
    where a gather copies them (`widened_row`); a 1x1, stride-1 convolution's
    columns are its input, and one output pixel has no rows."""
    kh, kw = conv.operands[1].type.shape[-2:]
    oh, ow = conv.operands[2].type.shape[-2:]
    pointwise = (kh, kw, *int_list(conv.attributes["strides"])) == (1, 1, 1, 1)
    return ow if pointwise or oh * ow == 1 else widened_row(ow)


def widened_row(ow: int) -> int:
    """The row length an im2col gather of rows of `ow` pixels writes: `ow`, or
    the next multiple of `_ROW_GROUP` where that adds at most 1/`_MAX_WIDENING`.

    wafer-pack-matmul copies a row's columns into the packed panels in vector
    runs that divide both the row and the panel width; an odd row (SqueezeNet's
    stem, 111 pixels) has none, and its whole im2col buffer went to memory and
    was packed from there (a 3->64 stride-2 stem ran 1.3x ONNX Runtime, 0.9x at
    a 112-pixel row). A widened row's extra pixels read the input's zero
    padding; their outputs are computed and sliced off. Rows of fewer pixels
    (13 or 27) stay: widening would add a sixth or more of the work, and an
    oriented convolution takes a 13x13 image's rows as whole register blocks.
    """
    widened = -(-ow // _ROW_GROUP) * _ROW_GROUP
    return widened if (widened - ow) * _MAX_WIDENING <= ow else ow


def _zero(element: ir.Type) -> ir.Value:
    return arith.ConstantOp(element, 0.0).result


def slice_after_epilogue(sliced: ir.Value) -> None:
    """Apply the elementwise ops that read only the widened result `sliced` is a
    slice of (a bias, an activation; per-channel operands too), and each
    other's results, to the whole widened result, and slice theirs:
    wafer-fuse-epilogues then applies them to each cache tile, which it does
    not do through a slice. An activation may be several ops that read the
    result more than once (ReLU6 is a max, a min and a NaN check of it)."""
    slices = [sliced]  # slices at the origin of whole widened results
    while (consumer := _row_invariant_consumer(slices)) is not None:
        n_inputs = len(consumer.inputs)
        maps = list(consumer.attributes["indexing_maps"])
        inputs = [v.owner.operands[0] if v in slices else v for v in consumer.inputs]
        wide = next(w for v, w in zip(consumer.inputs, inputs) if v in slices)
        with ir.InsertionPoint(consumer), consumer.location:
            empty = tensor.EmptyOp(wide.type.shape, consumer.results[0].type.element_type).result
        old_args = list(consumer.regions[0].blocks[0].arguments)
        generic, block = generic_like(consumer, inputs, maps[:n_inputs], old_args, [empty], maps[n_inputs:])
        move_body(consumer, block)
        with ir.InsertionPoint(consumer), consumer.location:
            result = extract_slice(generic.results[0], [index_constant(0)] * 4, sliced.type.shape)
        consumer.results[0].replace_all_uses_with(result)
        consumer.erase()
        slices.append(result)
    for value in slices:
        if not list(value.uses):
            value.owner.erase()


def _row_invariant_consumer(slices: list[ir.Value]) -> ir.OpView | None:
    """A user of `slices` that is an elementwise linalg.generic reading them
    whole, its other inputs not along the rows, and that reads neither its
    init nor its loop positions (the widened rows' would index past a
    gather's source); None if there is none."""
    identity = ir.AffineMap.get_identity(4)
    row = ir.AffineDimExpr.get(3)
    for consumer in (use.owner for value in slices for use in value.uses):
        if not isinstance(consumer, ir.OpView) or consumer.name != "linalg.generic" or len(consumer.results) != 1:
            continue
        if any(kind != "parallel" for kind in iterator_kinds(consumer)) or reads_loop_indices(consumer):
            continue
        maps = indexing_maps(consumer)
        if any((value in slices and affine_map != identity)
               or (value not in slices and any(row == expr for expr in affine_map.results))
               for value, affine_map in zip(consumer.inputs, maps)):
            continue
        out_arg = consumer.regions[0].blocks[0].arguments[len(consumer.inputs)]
        if maps[-1] == identity and not list(out_arg.uses):
            return consumer
    return None


def widened_init(init: ir.Value, row: int) -> ir.Value:
    """The convolution's initial value (zeros, or its bias broadcast) with rows
    of `row`: the same fill or broadcast into a wider tensor, else `init`
    padded."""
    n, f, oh, ow = init.type.shape
    wide = ir.RankedTensorType.get([n, f, oh, row], init.type.element_type)
    source = init.owner
    if isinstance(source, ir.OpView) and source.name in ("linalg.fill", "linalg.broadcast"):
        empty = tensor.EmptyOp(wide.shape, wide.element_type).result
        if source.name == "linalg.fill":
            return linalg.fill(source.operands[0], outs=[empty])
        return linalg.broadcast(source.operands[0], outs=[empty], dimensions=list(source.dimensions)).results[0]
    return pad_high(init, [0, 0, 0, row - ow], _zero(init.type.element_type))


def widened_input(x: ir.Value, width: int) -> ir.Value:
    """`x` with zero columns on the right up to `width`: the convolution's own
    zero padding widened, where that is what `x` is, else a padded copy."""
    zero = _zero(x.type.element_type)
    source, (top, left) = unpadded(x, 0.0)
    extra = width - x.type.shape[-1]
    if source == x:
        return pad_high(x, [0] * (x.type.rank - 1) + [extra], zero)
    bottom, right = (padded - size - before for padded, size, before in
                     zip(x.type.shape[2:], source.type.shape[2:], (top, left)))
    return pad_value(source, [0, 0, top, left], [0, 0, bottom, right + extra], zero)
