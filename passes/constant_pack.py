"""Fold `linalg.pack` of a constant (a weight) into a packed constant, with numpy.

Not a pass: wafer-pack-matmul calls it between packing and lowering the
packs, so packed weights cost nothing at run time.
"""

from __future__ import annotations

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from .pass_base import find_ops
from .resource_blobs import aligned_copy, cast_attr, elements_array, printed_blobs, resource_attr, resource_name

_NUMPY = {"f32": np.float32, "f64": np.float64, "f16": np.float16}


class ConstantReader:
    """Reads the values of `arith.constant` ops, dense or `dense_resource`.

    A blob Wafer made from an array is read from that array (resource_blobs);
    the bindings cannot read other blobs (parsed from text), so those are taken
    from the module's printed resource section, once, when the first is needed.
    """

    def __init__(self, module: ir.Operation):
        self._module = module
        self._blobs: dict[str, bytes] | None = None

    def array(self, value: ir.Value) -> np.ndarray | None:
        """The value of a constant, looking through reshapes (im2col collapses filters)."""
        owner = value.owner
        if not isinstance(owner, ir.OpView) or not isinstance(value.type, ir.RankedTensorType):
            return None
        shaped = value.type
        if owner.name in ("tensor.collapse_shape", "tensor.expand_shape"):
            source = self.array(owner.operands[0])
            return None if source is None else source.reshape(shaped.shape)
        if owner.name != "arith.constant":
            return None
        dtype = _NUMPY.get(str(shaped.element_type))
        if dtype is None:
            return None
        attr = owner.attributes["value"]
        known = elements_array(attr)
        if known is not None and known.dtype == dtype:
            return known.reshape(shaped.shape)
        resource = cast_attr(ir.DenseResourceElementsAttr, attr)
        blob = self._blob(resource) if resource is not None else None
        return None if blob is None else np.frombuffer(blob, dtype=dtype).reshape(shaped.shape)

    def _blob(self, attr: ir.DenseResourceElementsAttr) -> bytes | None:
        """A blob parsed from text: read from the printed resource section."""
        if self._blobs is None:
            self._blobs = printed_blobs(self._module)
        return self._blobs.get(resource_name(attr))


def pack_array(source: np.ndarray, inner_dims_pos: list[int], inner_tiles: list[int],
               outer_dims_perm: list[int], padding: float) -> np.ndarray:
    """numpy `linalg.pack`: pad, split each tiled dim, move the tiles innermost."""
    pads = [(0, 0)] * source.ndim
    for dim, tile in zip(inner_dims_pos, inner_tiles):
        pads[dim] = (0, -source.shape[dim] % tile)
    # np.pad copies even where nothing is padded: a model's weights twice over.
    padded = np.pad(source, pads, constant_values=padding) if any(after for _, after in pads) else source
    split_shape, outer_axes, inner_axes = [], [], {}
    for dim, size in enumerate(padded.shape):
        if dim in inner_dims_pos:
            tile = inner_tiles[inner_dims_pos.index(dim)]
            outer_axes.append(len(split_shape))
            inner_axes[dim] = len(split_shape) + 1
            split_shape += [size // tile, tile]
        else:
            outer_axes.append(len(split_shape))
            split_shape.append(size)
    order = [outer_axes[d] for d in (outer_dims_perm or range(source.ndim))]
    order += [inner_axes[d] for d in inner_dims_pos]
    moved = padded.reshape(split_shape).transpose(order)
    return aligned_copy(moved)  # so that the JIT can bind it as it is


def fold_constant_packs(module: ir.Operation) -> int:
    """Replace each pack of a constant with the packed constant; returns how many."""
    reader = ConstantReader(module)
    packs = [op.opview for op in find_ops(module, lambda op: op.name == "linalg.pack")]
    folded = 0
    for pack in packs:
        source = reader.array(pack.source)
        if source is None or any(t == ir.ShapedType.get_dynamic_size() for t in pack.static_inner_tiles):
            continue
        padding = 0.0 if pack.padding_value is None else _scalar(pack.padding_value)
        if padding is None:
            continue
        packed = pack_array(source, list(pack.inner_dims_pos), list(pack.static_inner_tiles),
                            list(pack.outer_dims_perm) if pack.outer_dims_perm else [], padding)
        result_type = pack.result.type
        with ir.InsertionPoint(pack), pack.location:
            if packed.dtype.kind == "f":  # a weight: the JIT reads it in place (external_constants)
                attr = resource_attr(packed, "packed", result_type, owned=True)
            else:  # an index or mask table: a dense attribute the canonicalizer can still fold
                attr = ir.DenseElementsAttr.get(packed, type=ir.RankedTensorType(result_type).element_type)
            constant = arith.ConstantOp(result_type, attr)
        pack.result.replace_all_uses_with(constant.result)
        pack.operation.erase()
        folded += 1
    return folded


def _scalar(value: ir.Value) -> float | None:
    owner = value.owner
    if isinstance(owner, ir.OpView) and owner.name == "arith.constant":
        attr = owner.attributes["value"]
        if isinstance(attr, ir.FloatAttr):
            return attr.value
    return None
