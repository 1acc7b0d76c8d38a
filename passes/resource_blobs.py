"""The arrays behind the `dense_resource` attributes Wafer makes from numpy.

The bindings create a resource blob from a buffer but cannot read one back.
Wafer keeps each blob's array, per context, under the name MLIR gave the
blob (it renames a second `w` to `w_1`), so constant folding and the JIT read
weights directly instead of printing the module and parsing its hex.
"""

from __future__ import annotations

import re

import numpy as np
from torch_mlir import ir

_STORE = "_wafer_resource_blobs"  # attributes of the Python context object
_OWNED = "_wafer_owned_blobs"
_OWNED_BY_VALUE = "_wafer_owned_blobs_by_value"
ALIGNMENT = 64  # memref globals' alignment, which vector loads may assume


def resource_attr(array: np.ndarray, name: str, type_: ir.ShapedType, owned: bool = False) -> ir.DenseResourceElementsAttr:
    """A `dense_resource` attribute over `array`'s memory (not copied), remembered.

    `owned`: the array is Wafer's alone (made by a pass, not a view of the
    caller's tensors), so compiled code may read it in place. Owned arrays of
    equal bytes and type share one attribute, hence one global: a weight a
    pass repacks at each use (a recurrent net's, read once per step) would
    otherwise be held and streamed through the caches once per use.
    """
    if owned:
        alike = _owned_alike(array, type_)
        for known in alike:
            if memoryview(resource_array(known)).cast("B") == memoryview(array).cast("B"):
                return known
    attr = ir.DenseResourceElementsAttr.get_from_buffer(array, name, type_)
    _blobs(attr.context)[resource_name(attr)] = array
    if owned:
        _context_set(attr.context, _OWNED).add(resource_name(attr))
        alike.append(attr)
    return attr


def _owned_alike(array: np.ndarray, type_: ir.ShapedType) -> list[ir.DenseResourceElementsAttr]:
    """The owned blobs of `type_` whose bytes sampled at three places match
    `array`'s: the candidates a full comparison decides between."""
    data = memoryview(array).cast("B")
    middle = len(data) // 2
    key = (type_, bytes(data[:64]), bytes(data[middle:middle + 64]), bytes(data[-64:]))
    ctx = type_.context
    if not hasattr(ctx, _OWNED_BY_VALUE):
        setattr(ctx, _OWNED_BY_VALUE, {})
    return getattr(ctx, _OWNED_BY_VALUE).setdefault(key, [])


def owned_array(attr: ir.Attribute) -> np.ndarray | None:
    """The array behind a blob made with `owned=True`, else None."""
    resource = cast_attr(ir.DenseResourceElementsAttr, attr)
    if resource is None or resource_name(resource) not in _context_set(resource.context, _OWNED):
        return None
    return resource_array(resource)


def aligned_size(nbytes: int) -> int:
    """`nbytes` rounded up to a whole number of `ALIGNMENT` blocks: where the
    next of several arrays packed into one buffer can start."""
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialized array that starts on an `ALIGNMENT` boundary, as the JIT
    needs of one it binds in place."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + size].view(dtype).reshape(shape)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """`array`'s values in a new `aligned_empty` array (laid out as C order)."""
    copy = aligned_empty(array.shape, array.dtype)
    np.copyto(copy, array)
    return copy


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
    """`attr` as a `kind`, or None: not every attribute kind downcasts by itself.
    A dense attribute is asked first: a failed cast prints the attribute into
    its error message, a dense weight's every element."""
    if kind is ir.DenseResourceElementsAttr and isinstance(attr.maybe_downcast(), ir.DenseElementsAttr):
        return None
    try:
        return kind(attr)
    except (TypeError, ValueError):  # TypeError: a dense kind the bindings have no class for (complex)
        return None


def resource_name(attr: ir.DenseResourceElementsAttr) -> str:
    """The blob's key in the module's resource section. The bindings have no
    accessor for it, so this is the one place that reads it from the printed
    `dense_resource<key> : type` (a key with odd characters is quoted)."""
    return str(attr).split("<", 1)[1].split(">", 1)[0].strip('"')


def printed_blobs(op: ir.Operation) -> dict[str, bytes]:
    """Every blob of the module holding `op`, by key, read from its printed resource
    section: the bindings cannot read a blob parsed from text. Print it once."""
    while op.parent is not None:
        op = op.parent.operation
    asm = op.get_asm(large_elements_limit=16)
    section = asm[asm.rfind("dialect_resources:"):]
    # `key: "0x<4 bytes of alignment><data>"`, the key quoted when it needs to be
    return {key: bytes.fromhex(data)[4:]
            for key, data in re.findall(r'^\s*"?([^"\s]+?)"?\s*:\s*"0x([0-9A-Fa-f]*)"', section, re.M)}


def _blobs(ctx: ir.Context) -> dict[str, np.ndarray]:
    if not hasattr(ctx, _STORE):
        setattr(ctx, _STORE, {})
    return getattr(ctx, _STORE)


def _context_set(ctx: ir.Context, key: str) -> set[str]:
    if not hasattr(ctx, key):
        setattr(ctx, key, set())
    return getattr(ctx, key)
