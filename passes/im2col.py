"""wafer-im2col: rewrite 2-D convolutions as an im2col gather plus a matmul-like contraction."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured

from .pack_matmul import record_strategy
from .pass_base import WaferPass
from .transform_script import match_tagged, tag, transform_script

# The layouts upstream's img2col rewrite handles.
_CONVS = ("linalg.conv_2d_nchw_fchw", "linalg.conv_2d_nhwc_hwcf", "linalg.conv_2d_nhwc_fhwc")


def _is_static_f32(op: ir.OpView) -> bool:
    return all(
        isinstance(v.type, ir.RankedTensorType) and v.type.has_static_shape and str(v.type.element_type) == "f32"
        for v in op.operands
    )


@dataclass(frozen=True)
class Im2col(WaferPass):
    """Turn each static f32 2-D convolution into im2col + a contraction.

    The gather copies each output pixel's receptive field into a column
    (K = C*KH*KW), so the convolution becomes filter[F, K] x columns[K, OH*OW]
    per image: a matmul that wafer-pack-matmul packs into its FMA kernel,
    with the filter packed once at compile time. That trades a K-fold copy of
    the input for the matmul kernel's ~10x speed over direct scalar loops.

    Options:
      min-k: convolutions with a smaller C*KH*KW stay direct (the copy does
        not pay when each column is a handful of values).
    """

    name = "wafer-im2col"
    summary = "Rewrite 2-D convolutions as im2col plus a matmul-like contraction"

    min_k: int = 8

    def apply(self, module: ir.Operation) -> None:
        convs = []

        def collect(op: ir.Operation) -> ir.WalkResult:
            view = op.opview
            if op.name in _CONVS and _is_static_f32(view) and self._reduction_size(view) >= self.min_k:
                convs.append(view)
            return ir.WalkResult.ADVANCE

        module.walk(collect)
        if not convs:
            return
        with transform_script(module) as root:
            any_op = transform.AnyOpType.get()
            for i, conv in enumerate(convs):
                record_strategy(conv, f"im2col {conv.name.removeprefix('linalg.')} "
                                      f"K={self._reduction_size(conv)}")
                tag(conv.operation, f"conv{i}")
                structured.ConvertConv2DToImg2ColOp(any_op, any_op, match_tagged(root, f"conv{i}"))

    @staticmethod
    def _reduction_size(conv: ir.OpView) -> int:
        """C*KH*KW: the filter's elements per output channel."""
        shape = conv.operands[1].type.shape
        return shape[0] * shape[1] * shape[2] if conv.name == "linalg.conv_2d_nhwc_hwcf" else shape[1] * shape[2] * shape[3]
