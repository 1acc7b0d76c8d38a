"""wafer-one-row-images: 1-D convolutions and pools as 2-D ones over images of one row."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg, tensor

from .depthwise_conv import padding_constant, unpadded
from .linalg_builders import int_list, pad_value, reassociation, remade_init
from .pass_base import WaferPass, find_ops

# 1-D ops over [N, C, L] and the 2-D ones that compute them over [N, C, 1, L].
_ONE_D = {
    "linalg.conv_1d_ncw_fcw": linalg.conv_2d_nchw_fchw,
    "linalg.pooling_ncw_max": linalg.pooling_nchw_max,
    "linalg.pooling_ncw_sum": linalg.pooling_nchw_sum,
}
# 2-D convolutions, each operand's last two dims its (H, W); torch-mlir gives grouped and depthwise
# 1-D convolutions this form with the length in H and a unit W.
_TWO_D = {
    "linalg.conv_2d_nchw_fchw": linalg.conv_2d_nchw_fchw,
    "linalg.conv_2d_ngchw_gfchw": linalg.conv_2d_ngchw_gfchw,
    "linalg.depthwise_conv_2d_nchw_chw": linalg.depthwise_conv_2d_nchw_chw,
}


@dataclass(frozen=True)
class OneRowImages(WaferPass):
    """Rewrite each convolution and pool along a single dim as a 2-D one over
    images of one row: `linalg.conv_1d_ncw_fcw` and 1-D max and sum pools
    over [N, C, 1, L], and a 2-D convolution whose images, filters and
    outputs are one column wide (grouped and depthwise 1-D convolutions, as
    torch-mlir imports them) with that column laid along W.

    Wafer's convolution and pooling strategies (direct, along filters,
    im2col + packed matmul, stencils) are 2-D and vectorize along W. A 1-D
    convolution had none and ran as scalar loops; a column-wide one was
    vectorized along its unit W. The operands are reshaped (a padding of the
    length re-made on the reshaped input, a fill or bias broadcast re-made in
    the new shape, so that the strategies still see them) and the result
    reshaped back; canonicalize folds the reshapes that meet.
    `bench/conv1d.py` times 1-D nets against ONNX Runtime.
    """

    name = "wafer-one-row-images"
    summary = "Run 1-D convolutions and pools as 2-D ones over one-row images"

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: _one_d(op) or _along_columns(op)):
            _rewrite(op.opview)


def _static(op: ir.Operation) -> bool:
    return all(isinstance(v.type, ir.RankedTensorType) and v.type.has_static_shape
               for v in (*op.operands, op.results[0]))


def _one_d(op: ir.Operation) -> bool:
    return op.name in _ONE_D and _static(op)


def _along_columns(op: ir.Operation) -> bool:
    """A 2-D convolution whose image, filters and output are one column wide, and more than one row high."""
    if op.name not in _TWO_D or not _static(op):
        return False
    return all(v.type.shape[-1] == 1 for v in op.operands) and op.results[0].type.shape[-2] > 1


def _rewrite(op: ir.OpView) -> None:
    one_d = op.name in _ONE_D
    image, window, init = op.operands
    strides, dilations = int_list(op.attributes["strides"]), int_list(op.attributes["dilations"])
    with ir.InsertionPoint(op), op.location:
        result = (_ONE_D if one_d else _TWO_D)[op.name](
            _row_image(image, one_d), _as_row(window, one_d), outs=[_row_init(init, one_d)],
            strides=[1, strides[0]] if one_d else strides[::-1],
            dilations=[1, dilations[0]] if one_d else dilations[::-1])
        back = _from_row(result, op.results[0].type, one_d)
    op.results[0].replace_all_uses_with(back)
    op.operation.erase()


def _row_shape(shape: list[int], one_d: bool) -> list[int]:
    """[..., L] (one_d) or [..., H, W] as [..., 1, L], L = H x W (a column-wide image's W is 1)."""
    return [*shape[:-1], 1, shape[-1]] if one_d else [*shape[:-2], 1, shape[-2] * shape[-1]]


def _as_row(value: ir.Value, one_d: bool) -> ir.Value:
    """`value` reshaped to `_row_shape`: its elements keep their order."""
    shape = list(value.type.shape)
    rank = len(shape)
    row = ir.RankedTensorType.get(_row_shape(shape, one_d), value.type.element_type)
    if not one_d:
        line = [*shape[:-2], shape[-2] * shape[-1]]
        value = tensor.CollapseShapeOp(ir.RankedTensorType.get(line, value.type.element_type), value,
                                       reassociation(*[[d] for d in range(rank - 2)], [rank - 2, rank - 1])).result
        rank -= 1
    return tensor.ExpandShapeOp(row, value, reassociation(*[[d] for d in range(rank - 1)], [rank - 1, rank]), [],
                                static_output_shape=row.shape).result


def _from_row(value: ir.Value, original: ir.RankedTensorType, one_d: bool) -> ir.Value:
    """The inverse of `_as_row`, to `original`."""
    rank = value.type.rank
    line = ir.RankedTensorType.get([*value.type.shape[:-2], value.type.shape[-1]], value.type.element_type)
    value = tensor.CollapseShapeOp(line, value, reassociation(*[[d] for d in range(rank - 2)],
                                                               [rank - 2, rank - 1])).result
    if one_d:
        return value
    return tensor.ExpandShapeOp(original, value, reassociation(*[[d] for d in range(rank - 2)],
                                                               [rank - 2, rank - 1]), [],
                                static_output_shape=original.shape).result


def _row_image(image: ir.Value, one_d: bool) -> ir.Value:
    """The image as a row, its padding of the length by a constant (zeros,
    a max pool's -inf), if any, re-made on the reshaped input: the
    strategies read through a padding they can see."""
    padding = padding_constant(image)
    length = image.type.rank - (1 if one_d else 2)
    source, (before, _) = (image, (0, 0)) if padding is None else unpadded(
        image, ir.FloatAttr(padding.owner.attributes["value"]).value, (length, image.type.rank - 1))
    if source == image:
        return _as_row(image, one_d)
    row = _as_row(source, one_d)
    low, high = [0] * row.type.rank, [0] * row.type.rank
    low[-1], high[-1] = before, image.type.shape[length] - source.type.shape[length] - before
    return pad_value(row, low, high, padding)


def _row_init(init: ir.Value, one_d: bool) -> ir.Value:
    """The init as a row: a fill or a bias broadcast re-made in that shape."""
    rank = init.type.rank
    moved = {d: d for d in range(rank)}
    moved.update({rank - 1: rank} if one_d else {rank - 2: rank - 1, rank - 1: rank - 2})

    def row_dims(dims: list[int]) -> list[int] | None:
        """The broadcast's dims in the row's shape, if the dims it keeps stay in order."""
        kept = [moved[d] for d in range(rank) if d not in dims]
        return sorted([moved[d] for d in dims] + ([rank - 1] if one_d else [])) if kept == sorted(kept) else None

    remade = remade_init(init, _row_shape(list(init.type.shape), one_d), row_dims)
    return remade if remade is not None else _as_row(init, one_d)


def pixels_in_one_row(conv: ir.OpView) -> ir.OpView:
    """`conv`, an unpadded 1x1 stride-1 `linalg.conv_2d_nchw_fchw` over
    [N, C, H, W], made again over images of one row, [N, C, 1, H * W]: each
    pixel's filters read only its own channels, so a block of pixels may run
    across rows (wafer-direct-conv's blocks along filters; see
    `direct_conv._pixels_in_one_row`). Returns the new convolution, whose
    result the old one's readers read reshaped back."""
    image, weights, init = conv.operands
    with ir.InsertionPoint(conv), conv.location:
        # A fill, or a bias broadcast along H and W (and more), made again over the row.
        row_init = remade_init(init, _row_shape(list(init.type.shape), False),
                               lambda dims: dims if {2, 3} <= set(dims) else None)
        if row_init is None:
            row_init = _as_row(init, False)
        row = linalg.conv_2d_nchw_fchw(_as_row(image, False), weights, outs=[row_init], strides=[1, 1],
                                       dilations=[1, 1])
        back = _from_row(row, conv.results[0].type, False)
    conv.results[0].replace_all_uses_with(back)
    conv.erase()
    return row.owner.opview
