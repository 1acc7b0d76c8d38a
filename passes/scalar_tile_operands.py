"""wafer-scalar-tile-operands: elementwise tiles read per-channel inputs as scalars, so their rows vectorize."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import tensor
from torch_mlir.dialects.transform import structured

from .cpu_target import TargetedPass
from .linalg_builders import generic_like, index_constant
from .linalg_queries import PARALLEL, computes_math, indexing_maps, is_projected_map, iterator_types, map_dims
from .pass_base import find_ops
from .transform_script import match_tagged, tag, transform_script

CHANNEL_TILE = "wafer.channel_tile"  # on the ops this pass tiled, until it has rebuilt them


@dataclass(frozen=True)
class ScalarTileOperands(TargetedPass):
    """Read each one-element input of an elementwise tile as a scalar, not through a broadcast map.

    A convolution's epilogue applied per tile (wafer-fuse-epilogues) reads its
    channel's batch-norm statistics and bias as 1x1x1x1 slices broadcast over
    a row. wafer-vectorize leaves a row read through such maps scalar unless it
    is whole vectors (a broadcast into a ragged row lowers to slow code), so a
    depthwise convolution's 14- or 7-pixel rows ran their batch norm and
    SiLU, square root, exponential and division included, one element at a
    time. As `tensor.extract`ed scalars the body reads from above, they are
    splats, the body's ops on them alone (batch norm's square root) move out
    to run once per tile, and the row's remaining reads are plain vector loads.
    A tile whose rows are longer than a vector but not whole vectors, and
    whose per-element ops are only adds, multiplies and selects, is left to
    LLVM's loop vectorizer, which ran ResNet's batch norm and ReLU over rows
    of 56 5% faster than the vector form of the row (bench/cpu.py
    resnet-block, batch 32).

    An elementwise op no loop tiled (the batch norm and SiLU after a packed
    convolution whose C was padded) is first tiled into rows, so that such
    inputs are one element per tile. Rows, not channel planes: a plane's
    vector code is unrolled row by row, and EfficientNet's JIT took twice as
    long with planes.

    Options:
      machine: the CPU (see cpu_target) whose vector width a row is measured in.
    """

    name = "wafer-scalar-tile-operands"
    summary = "Tile elementwise ops by channel and read their per-channel inputs as scalars"

    def apply(self, module: ir.Operation) -> None:
        untiled = [(op, sizes) for op in find_ops(module, lambda op: op.name == "linalg.generic")
                   if (sizes := self._row_tiles(op)) is not None]
        if untiled:
            with transform_script(module) as root:
                for i, (op, sizes) in enumerate(untiled):
                    tag(op, f"channels{i}")
                    op.attributes[CHANNEL_TILE] = ir.UnitAttr.get()
                    structured.TileUsingForOp(match_tagged(root, f"channels{i}"), sizes=sizes)
        for op in find_ops(module, _is_tile):
            single = [i for i, value in enumerate(op.opview.inputs) if _one_element(value)]
            if single and (CHANNEL_TILE in op.attributes or self._pays(op, single)):
                _read_as_scalars(op, single)
        for op in find_ops(module, lambda op: CHANNEL_TILE in op.attributes):
            del op.attributes[CHANNEL_TILE]

    def _pays(self, op: ir.Operation, single: list[int]) -> bool:
        """Whether a tile's rows are shorter than a vector, or whole vectors
        (which wafer-vectorize vectorizes, each broadcast read of a one-element
        input a loop of lane inserts), or its per-element ops (those not on
        the one-element inputs alone) compute a math function or a division:
        what LLVM's vectorizer leaves scalar."""
        row = op.results[0].type.shape[-1]
        if row < self.cpu.lanes or row % self.cpu.lanes == 0:
            return True
        block = op.regions[0].blocks[0]
        uniform = {block.arguments[i] for i in single}
        for inner in block.operations:
            if all(v in uniform or not _in_body(v, op) for v in inner.operands) and _pure_scalar(inner):
                uniform.update(inner.results)
            elif inner.name == "arith.divf" or inner.name.startswith("math."):
                return True
        return False

    def _row_tiles(self, op: ir.Operation) -> list[int] | None:
        """Tile sizes of one row, for an untiled elementwise op whose other
        inputs it reads by whole rows and that reads an input the same along
        each row (none of its dims is the innermost loop), or whose body
        computes a math function or a division, which LLVM's loop vectorizer
        leaves scalar (a SiLU over 14-pixel rows, once a folded batch norm
        left it alone after its convolution, ran 9x slower untiled; an NHWC
        one's rows of channels are whole vectors, and were as scalar); None
        for any other op."""
        if op.parent.name != "func.func" or not _is_elementwise(op):
            return None
        maps, shape = indexing_maps(op), op.results[0].type.shape
        if not all(is_projected_map(m) for m in maps) or len(shape) < 2:
            return None
        last = len(shape) - 1
        read = [[d for d in map_dims(m) if d is not None] for m in maps[:len(op.opview.inputs)]]
        if not all(dims[-1] == last for dims in read if last in dims):
            return None
        if all(last in dims for dims in read) and not computes_math(op):
            return None
        return [1] * last + [0]


def _is_elementwise(op: ir.Operation) -> bool:
    return (len(op.results) == 1 and all(k == PARALLEL for k in iterator_types(op))
            and _element_count(op.results[0].type) not in (None, 1))


def _is_tile(op: ir.Operation) -> bool:
    """An elementwise generic inside a tile loop, with one result."""
    parent = op.parent
    return (op.name == "linalg.generic" and parent is not None and parent.name in ("scf.for", "scf.forall")
            and _is_elementwise(op))


def _element_count(type_: ir.Type) -> int | None:
    if not isinstance(type_, ir.RankedTensorType) or not type_.has_static_shape:
        return None
    return math.prod(type_.shape)


def _one_element(value: ir.Value) -> bool:
    return _element_count(value.type) == 1


def _read_as_scalars(op: ir.Operation, single: list[int]) -> None:
    """Rebuild `op` without the inputs `single`; its body reads each one's element from above."""
    inputs, maps = list(op.opview.inputs), list(op.attributes["indexing_maps"])
    old_block = op.regions[0].blocks[0]
    old_args = list(old_block.arguments)
    with ir.InsertionPoint(op), op.location:
        zero = index_constant(0)
        for i in single:
            old_args[i].replace_all_uses_with(tensor.ExtractOp(inputs[i], [zero] * inputs[i].type.rank).result)
    kept = [i for i in range(len(inputs)) if i not in single]
    generic, block = generic_like(op, [inputs[i] for i in kept], [maps[i] for i in kept],
                                  [old_args[i] for i in kept] + old_args[len(inputs):])
    for inner in list(old_block.operations):
        if _uniform(inner, generic):
            inner.move_before(generic)  # computed once per tile, not per lane
        else:
            inner.detach_from_parent()
            block.append(inner)
    op.results[0].replace_all_uses_with(generic.results[0])
    op.erase()


def _uniform(inner: ir.Operation, generic: ir.Operation) -> bool:
    """A pure scalar op of `generic`'s body whose operands all come from above
    (the scalars, constants, ops already moved): the same value in every lane."""
    return _pure_scalar(inner) and not any(_in_body(v, generic) for v in inner.operands)


def _pure_scalar(op: ir.Operation) -> bool:
    return not op.regions and len(op.results) == 1 and op.name.startswith(("arith.", "math."))


def _in_body(value: ir.Value, generic: ir.Operation) -> bool:
    """Whether `value` is defined in `generic`'s body (a block argument or an op of it)."""
    owner = value.owner
    return owner.owner == generic if isinstance(owner, ir.Block) else owner.operation.parent == generic
