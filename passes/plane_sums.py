"""wafer-plane-sums: sum pooling over whole planes as a reassociable reduction over each flattened plane."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, scf, tensor

from .cpu_target import CpuTarget, TargetedPass
from .kernel_defaults import PARALLEL_ELEMENTS
from .linalg_builders import (
    affine_maps,
    extract_slice,
    index_constant,
    int_list,
    iterator_types_attr,
    parallel_insert,
    read_vector,
    reassociation,
    scaled,
    write_vector,
)
from .pass_base import find_ops
from .serial_foralls import SERIAL
from .transpose_motion import TO_NCHW, transpose_source

REASSOC = "#arith.fastmath<reassoc>"


@dataclass(frozen=True)
class PlaneSums(TargetedPass):
    """Rewrite a `linalg.pooling_nchw_sum` whose window is its whole input plane
    (global average pooling: squeeze-excite's squeeze, a classifier's head) as a
    generic summing each flattened plane, its addition reassociable.

    As a pooling op it ran as four nested scalar loops, one dependent add per
    element: EfficientNet's 17 squeezes took 1.1 of its 11.5 ms. A reduction
    along one contiguous dim is what wafer-vectorize turns into vector adds
    (planes up to its tile bound) and LLVM's loop vectorizer into several
    vector accumulators (larger ones); `reassoc` allows that order, as for
    wafer-vectorize's row reductions (torch's own kernels sum in no stricter
    order).
    """

    name = "wafer-plane-sums"
    summary = "Turn whole-plane sum pooling into a reassociable reduction over flattened planes"

    parallel_elements: int = PARALLEL_ELEMENTS

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name == "linalg.pooling_nchw_sum"):
            if not whole_planes(op.opview):
                continue
            image = transpose_source(op.opview.inputs[0], TO_NCHW)
            if image is None:
                _rewrite(op.opview)
            else:
                _rewrite_channels_last(op.opview, image, self.cpu, self.parallel_elements)


def whole_planes(op: ir.OpView) -> bool:
    """Static float NCHW input, a window as large as its plane, a 1x1 output, no dilation."""
    x, window = op.inputs
    out = op.outputs[0]
    types = [v.type for v in (x, window, out)]
    if not all(isinstance(t, ir.RankedTensorType) and t.has_static_shape for t in types):
        return False
    if not isinstance(x.type.element_type, ir.FloatType):
        return False  # integer sums keep torch-mlir's pooling op
    return (list(window.type.shape) == list(x.type.shape[2:]) and list(out.type.shape[2:]) == [1, 1]
            and int_list(op.attributes["dilations"]) == [1, 1])


def _rewrite(op: ir.OpView) -> None:
    x, _ = op.inputs
    init = op.outputs[0]
    n, c, h, w = x.type.shape
    element = x.type.element_type
    with ir.InsertionPoint(op), op.location:
        planes = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, c, h * w], element), x,
                                        reassociation([0], [1], [2, 3])).result
        sums = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, c], element), init,
                                      reassociation([0], [1, 2, 3])).result
        d = [ir.AffineDimExpr.get(i) for i in range(3)]
        generic = linalg.GenericOp([sums.type], [planes], [sums], affine_maps(3, d, d[:2]),
                                   iterator_types_attr("parallel", "parallel", "reduction"))
        block = generic.regions[0].blocks.append(element, element)
        with ir.InsertionPoint(block):
            total = arith.AddFOp(block.arguments[1], block.arguments[0], fastmath=ir.Attribute.parse(REASSOC))
            linalg.YieldOp([total.result])
        result = tensor.ExpandShapeOp(op.results[0].type, generic.results[0], reassociation([0], [1, 2, 3]), [],
                                      static_output_shape=[n, c, 1, 1]).result
    op.results[0].replace_all_uses_with(result)
    op.operation.erase()


def accumulated_channels(channels: int, cpu: CpuTarget) -> int:
    """The channels a vector accumulator sums at once: the largest power of
    two, up to four vectors, that divides `channels`. An accumulator of any
    other length (three vectors, or 50 lanes) ran several times slower, as
    `CpuTarget.vector_block` found of register blocks: summed 50 at a time,
    SqueezeNet's 1000 classes made its channels-last head slower than the
    NCHW one, and 8 at a time faster (bench/channels_last.py --heads
    512:1000:13); MobileNet-v3's 672-channel squeezes, 48 at a time, took
    several times as long as 32 at a time (kernel profiles)."""
    return min(channels & -channels, 4 * cpu.lanes)


def _rewrite_channels_last(op: ir.OpView, image: ir.Value, cpu: CpuTarget, parallel_elements: int) -> None:
    """Sum NHWC `image` (the transpose to NCHW that `op` reads is not done): per
    image and block of channels, one vector accumulator per vector of the
    block, added to pixel by pixel, each pixel's channels read as vectors."""
    n, h, w, c = image.type.shape
    element = image.type.element_type
    block = accumulated_channels(c, cpu)
    with ir.InsertionPoint(op), op.location:
        pixels = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, h * w, c], element), image,
                                        reassociation([0], [1, 2], [3])).result
        sums = tensor.CollapseShapeOp(ir.RankedTensorType.get([n, c], element), op.outputs[0],
                                      reassociation([0], [1, 2, 3])).result
        blocks = scf.ForallOp([0, 0], [n, c // block], [1, 1], [sums])
        if n * h * w * c < parallel_elements:
            blocks.operation.attributes[SERIAL] = ir.UnitAttr.get()
        with ir.InsertionPoint(blocks.body):
            index, channel_block = blocks.induction_variables
            channel = scaled(channel_block, block)
            zero = arith.ConstantOp(element, 0.0).result
            start = read_vector(blocks.inner_iter_args[0], [index, channel], block, zero, True)
            loop = scf.ForOp(index_constant(0), index_constant(h * w), index_constant(1), [start])
            with ir.InsertionPoint(loop.body):
                pixel = read_vector(pixels, [index, loop.induction_variable, channel], block, zero, True)
                scf.YieldOp([arith.addf(loop.inner_iter_args[0], pixel)])
            tile = extract_slice(blocks.inner_iter_args[0], [index, channel], [1, block])
            tile = write_vector(loop.results[0], tile, [index_constant(0), index_constant(0)], True)
            with ir.InsertionPoint(blocks.terminator().block):
                parallel_insert(tile, blocks.inner_iter_args[0], [index, channel], [1, block])
        result = tensor.ExpandShapeOp(op.results[0].type, blocks.results[0], reassociation([0], [1, 2, 3]), [],
                                      static_output_shape=[n, c, 1, 1]).result
    op.results[0].replace_all_uses_with(result)
    op.operation.erase()
