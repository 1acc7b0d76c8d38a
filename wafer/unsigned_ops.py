"""The torch ops Wafer runs on unsigned 8-bit tensors.

torch-mlir's linalg lowering keeps `uint8` as signless `i8` and picks signed
arithmetic for several ops: floor division, remainder and `min` crash the
importer, while true division, `sum`, `abs` and `sort` come back wrong. The
arithmetic, comparisons and conversions here were each checked against eager
on values above 127 (test_unsigned.py), and data movement never looks at the
sign; any other op that reads or writes a `uint8` tensor is refused, naming
the op and the layer, rather than run wrong.
"""

from __future__ import annotations

import torch

from .node_location import node_error

# Arithmetic that wraps the same in any signedness, bit operations, orderings
# and conversions, by overload: a Python number operand (`x == 255`) is
# compared sign-extended, so the `.Scalar` forms are mostly left out.
CHECKED_ON_UINT8 = frozenset({
    "add.Tensor", "sub.Tensor", "mul.Tensor", "neg.default", "bitwise_and.Tensor", "bitwise_or.Tensor",
    "bitwise_xor.Tensor", "__and__.Tensor", "__or__.Tensor", "__xor__.Tensor", "__rshift__.Scalar",
    "__lshift__.Scalar", "maximum.default", "amax.default", "argmax.default", "clamp.default",
    "gt.Tensor", "lt.Tensor", "le.Tensor", "ge.Tensor", "eq.Tensor", "ne.Tensor", "where.self",
    "to.dtype", "_to_copy.default", "cumsum.default",
})
# Data movement, blind to signedness, in any overload.
MOVES_DATA = frozenset({
    "view", "reshape", "permute", "transpose", "slice", "select", "cat", "unsqueeze", "squeeze", "expand",
    "clone", "alias", "flatten", "index_select", "gather", "roll", "flip", "_assert_tensor_metadata",
})


def refuse_unchecked_uint8_ops(program) -> None:
    """Raise for the first node that computes on uint8 with an op not checked on it."""
    for node in program.graph.nodes:
        if node.op != "call_function" or not hasattr(node.target, "_overloadpacket"):
            continue
        packet = node.target._overloadpacket.__name__
        if packet in MOVES_DATA or f"{packet}.{node.target._overloadname}" in CHECKED_ON_UINT8:
            continue
        if not _touches_uint8(node):
            continue
        raise node_error(node, f"Wafer does not run torch.{node.target} on uint8 tensors (torch-mlir lowers it "
                         "as signed); convert to a wider integer type first")


def _touches_uint8(node: torch.fx.Node) -> bool:
    values = [node.meta.get("val")] + [arg.meta.get("val") for arg in node.all_input_nodes]
    return any(isinstance(v, torch.Tensor) and v.dtype == torch.uint8 for v in values)
