"""The arrays behind the `dense_resource` attributes Wafer makes from numpy.

The bindings create a resource blob from a buffer but cannot read one back.
Wafer keeps each blob's array, per context, under the name MLIR gave the
blob (it renames a second `w` to `w_1`), so constant folding and the JIT read
weights directly instead of printing the module and parsing its hex.
"""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

_STORE = "_wafer_resource_blobs"  # an attribute of the Python context object


def resource_attr(array: np.ndarray, name: str, type_: ir.ShapedType) -> ir.DenseResourceElementsAttr:
    """A `dense_resource` attribute over `array`'s memory (not copied), remembered."""
    attr = ir.DenseResourceElementsAttr.get_from_buffer(array, name, type_)
    _blobs(attr.context)[resource_name(attr)] = array
    return attr


def resource_array(attr: ir.DenseResourceElementsAttr) -> np.ndarray | None:
    """The array a `resource_attr` was made from, or None (e.g. a blob parsed from text)."""
    return _blobs(attr.context).get(resource_name(attr))


def elements_array(attr: ir.Attribute) -> np.ndarray | None:
    """The values of a non-splat dense attribute or of a blob Wafer made, else None
    (the canonicalizer folds what reads a splat; a parsed blob needs the printer)."""
    dense, resource = cast_attr(ir.DenseElementsAttr, attr), cast_attr(ir.DenseResourceElementsAttr, attr)
    if dense is None:
        return resource_array(resource) if resource is not None else None
    if dense.is_splat:
        return None
    try:  # numpy has no bf16 or complex view of the bindings' buffer
        return np.array(dense, copy=True).reshape(dense.type.shape)
    except (TypeError, ValueError):
        return None


def cast_attr(kind, attr: ir.Attribute):
    """`attr` as a `kind`, or None: not every attribute kind downcasts by itself."""
    try:
        return kind(attr)
    except (TypeError, ValueError):  # TypeError: a dense kind the bindings have no class for (complex)
        return None


def resource_name(attr: ir.DenseResourceElementsAttr) -> str:
    """The blob's key in the module's resource section: `dense_resource<key> : type`."""
    return str(attr).split("<", 1)[1].split(">", 1)[0]


def _blobs(ctx: ir.Context) -> dict[str, np.ndarray]:
    if not hasattr(ctx, _STORE):
        setattr(ctx, _STORE, {})
    return getattr(ctx, _STORE)
