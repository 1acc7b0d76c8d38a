"""wafer-sorted-prefix: mark the sorts whose readers read only the first k of each row."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass, find_ops

SORTED_PREFIX = "wafer.sorted_prefix"


def read_prefix(sort: ir.OpView) -> int:
    """How many places of the sorted dim the sort's readers read: the end of
    the furthest unit-stride static slice from the row's start, or the whole
    row where any reader is something else."""
    dim = ir.IntegerAttr(sort.attributes["dimension"]).value
    row = ir.ShapedType(sort.results[0].type).shape[dim]
    prefix = 0
    for result in sort.results:
        for use in result.uses:
            reader = use.owner
            if reader.name != "tensor.extract_slice":
                return row
            offsets, sizes, strides = (list(ir.DenseI64ArrayAttr(reader.attributes[f"static_{a}"]))
                                      for a in ("offsets", "sizes", "strides"))
            if ir.ShapedType.get_dynamic_size() in (offsets[dim], sizes[dim]) or strides[dim] != 1:
                return row
            prefix = max(prefix, offsets[dim] + sizes[dim])
    return prefix


@dataclass(frozen=True)
class SortedPrefix(WaferPass):
    """Mark each static `tm_tensor.sort` whose results are read only through
    slices of the first k places of the sorted dim (topk's k) with
    `wafer.sorted_prefix = k`: wafer-insertion-sort sorts only those, where
    the sort would otherwise order the whole row. It runs on tensors, where
    every reader of the result is a use; after bufferization the sorted buffer
    has none.
    """

    name = "wafer-sorted-prefix"
    summary = "Mark sorts whose readers read only the first k places of each row"

    def apply(self, module: ir.Operation) -> None:
        for sort in find_ops(module, lambda op: op.name == "tm_tensor.sort"):
            if not ir.ShapedType(sort.results[0].type).has_static_shape:
                continue
            dim = ir.IntegerAttr(sort.attributes["dimension"]).value
            prefix = read_prefix(sort.opview)
            if 0 < prefix < ir.ShapedType(sort.results[0].type).shape[dim]:
                sort.attributes[SORTED_PREFIX] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), prefix)
