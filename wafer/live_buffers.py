"""The largest set of buffers a tensor program needs alive at once.

A lower bound on the temporary memory of any bufferization of the program:
no schedule of these ops, in this order, holds less. The CPU target reports
each call's measured peak (wafer-count-heap) next to it.
"""

from __future__ import annotations

import math

from torch_mlir import ir

from .symbols import public_functions

# Results that are views of their first operand: no buffer of their own.
_VIEWS = {"tensor.extract_slice", "tensor.collapse_shape", "tensor.expand_shape", "tensor.cast",
          "tensor.reshape", "tensor.bitcast"}
# Results that live in the binary, not on the heap.
_CONSTANTS = {"arith.constant"}


def largest_live_sets(module: ir.Module) -> dict[str, int]:
    """`largest_live_set` of each public function, by name."""
    return {
        ir.StringAttr(function.attributes["sym_name"]).value: largest_live_set(function)
        for function in public_functions(module.operation)
    }


def largest_live_set(function: ir.Operation) -> int:
    """Bytes of the largest set of tensors alive at once in `function`'s body.

    Every tensor value is a buffer, alive from its definition to its last
    use (ops nested in a loop count at the loop), except where one can share
    another's: a slice or reshape views its source, and a destination-style
    op (`linalg.*` outs, `tensor.insert_slice` dest, `scf.forall`
    shared_outs) updates its init in place when this op is the init's last
    use. Arguments and constants are not temporaries and count nothing; nor
    do dynamically shaped tensors, whose size is unknown here.
    """
    ops = [op for block in function.regions[0].blocks for op in block.operations]
    last_use = {}
    for index, op in enumerate(ops):
        for value in _used_values(op.operation):
            last_use[value] = index
    buffers = _Buffers(last_use)
    for arg in function.regions[0].blocks[0].arguments:
        buffers.define(arg, 0, size=0)
    for index, op in enumerate(ops):
        destinations = _destinations(op)
        for result_index, result in enumerate(op.results):
            if not isinstance(result.type, ir.RankedTensorType):
                continue
            if op.operation.name in _VIEWS:
                buffers.share(result, op.operands[0])
            elif destinations is not None and buffers.free_after(destinations[result_index], index):
                buffers.share(result, destinations[result_index])
            else:
                size = 0 if op.operation.name in _CONSTANTS else _bytes(result.type)
                buffers.define(result, index, size)
    return buffers.largest_live_set(len(ops))


def _destinations(op) -> list[ir.Value] | None:
    """The operands a destination-style op writes its results into, or None."""
    for name in ("outputs", "dest", "initArgs"):
        try:
            found = getattr(op, name)
        except AttributeError:
            continue
        found = list(found) if not isinstance(found, ir.Value) else [found]
        if len(found) == len(op.results):
            return found
    return None


def _used_values(op: ir.Operation) -> list[ir.Value]:
    """Tensor values defined outside `op` that it or any op nested in it uses."""
    used = [v for v in op.operands if isinstance(v.type, ir.RankedTensorType)]

    def visit(nested: ir.Operation) -> ir.WalkResult:
        used.extend(v for v in nested.operands if isinstance(v.type, ir.RankedTensorType))
        return ir.WalkResult.ADVANCE

    for region in op.regions:
        for block in region.blocks:
            for nested in block.operations:
                nested.operation.walk(visit)
    return used


def _bytes(type_: ir.RankedTensorType) -> int:
    if not type_.has_static_shape:
        return 0
    element = type_.element_type
    if isinstance(element, ir.IntegerType):
        bits = element.width
    elif isinstance(element, ir.FloatType):
        bits = element.width
    else:
        bits = 64  # index
    return math.prod(type_.shape) * max(1, bits // 8)  # an i1 takes a byte


class _Buffers:
    """Values grouped into buffers (union-find), each with a size and a live range."""

    def __init__(self, last_use: dict[ir.Value, int]):
        self._last_use = last_use
        self._root: dict[ir.Value, ir.Value] = {}
        self._size: dict[ir.Value, int] = {}
        self._first: dict[ir.Value, int] = {}
        self._last: dict[ir.Value, int] = {}

    def define(self, value: ir.Value, index: int, size: int) -> None:
        self._root[value] = value
        self._size[value] = size
        self._first[value] = index
        self._last[value] = self._last_use.get(value, index)

    def share(self, value: ir.Value, existing: ir.Value) -> None:
        root = self._find(existing)
        self._root[value] = root
        self._last[root] = max(self._last[root], self._last_use.get(value, 0))

    def free_after(self, value: ir.Value, index: int) -> bool:
        """Whether `value`'s buffer is a temporary that nothing uses after op `index`."""
        root = self._find(value)
        return self._size[root] > 0 and self._last[root] <= index

    def largest_live_set(self, end: int) -> int:
        live = [0] * (end + 1)
        for root, size in self._size.items():
            for index in range(self._first[root], self._last[root] + 1):
                live[index] += size
        return max(live)

    def _find(self, value: ir.Value) -> ir.Value:
        root = self._root[value]
        while self._root[root] != root:
            root = self._root[root]
        return root
