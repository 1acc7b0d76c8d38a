"""wafer-fuse-inverted-residual: expansion, depthwise convolution and projection, a block of rows at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, scf, tensor

from .channels_last import is_depthwise, is_pointwise
from .cpu_target import F32_BYTES, TargetedPass
from .depthwise_conv import unpadded
from .linalg_builders import (affine_maps, extract_slice, index_constant, int_list, is_constant, is_zero_fill,
                              iterator_types_attr, pad_value, parallel_insert, scaled)
from .linalg_queries import PARALLEL, indexing_maps, is_projected_map, iterator_types, map_dims
from .matmul_contraction import in_parallel_loop
from .pack_matmul import record_strategy
from .pass_base import find_ops

_IMAGE = [0, 1, 2, 3]


@dataclass
class _Block:
    """An inverted residual block's ops, each list in program order: expand (a 1x1
    convolution) -> `activation` -> zero pad -> depthwise -> `middle` -> project (a
    1x1 convolution) -> `tail` (its bias, a residual add)."""

    expand: ir.OpView
    activation: list[ir.OpView]
    pad: ir.OpView
    depthwise: ir.OpView
    middle: list[ir.OpView]
    project: ir.OpView
    tail: list[ir.OpView]

    @property
    def last(self) -> ir.OpView:
        """The op whose result leaves the block."""
        return self.tail[-1] if self.tail else self.project

    def window(self) -> tuple[int, int, int]:
        """(filter size, stride, zero padding) of the depthwise convolution."""
        size = self.depthwise.operands[1].type.shape[1]
        return size, int_list(self.depthwise.attributes["strides"])[0], size // 2

    def intermediate_bytes(self) -> int:
        """Bytes of the images the unfused ops write and read back: the expansion's
        and the depthwise convolution's."""
        n, e, h, w = self.expand.results[0].type.shape
        _, _, oh, ow = self.depthwise.results[0].type.shape
        return F32_BYTES * n * e * (h * w + oh * ow)


@dataclass(frozen=True)
class FuseInvertedResidual(TargetedPass):
    """Compute each inverted residual block (a MobileNet's) whose expanded images
    outgrow the caches a block of output rows at a time.

    The expansion writes an image several times the size of the block's input
    (8 x 96 x 112 x 112 floats, 38.5 MB at batch 8, from 6.4 MB), which the
    depthwise convolution reads back and writes again for the projection.
    Here one `scf.forall` iteration per (image, block of R output rows)
    expands the (R - 1) * stride + K input rows the depthwise window reads,
    activates them, convolves them and projects the result within L2: only
    the input and the projection go to memory. The ops keep their own
    kernels (wafer-im2col and wafer-pack-matmul's for the 1x1 convolutions,
    wafer-depthwise-conv's stencil), serial in the loop.

    A block whose depthwise result is read by more than its projection (an
    EfficientNet's, whose squeeze-excite pools it) is left alone: fused up to
    the depthwise convolution alone, its blocks ran 1.0-1.16x as long.

    The depthwise convolution's zero padding rows are expanded from rows of
    zeros added to the input and then set to zero (a zero row expands to the
    activated bias). The rows a block shares with its neighbours are
    expanded once for each: R is the most rows that divide the output and
    whose tiles fit in 3/4 of L2.

    That recomputation and the tiles' smaller kernels cost more than the
    traffic saves while the images stay in the caches: a block is fused when
    what its ops would write and read back (see `intermediate_bytes`) is at
    least `llc-fraction` of the last-level cache. bench/inverted_residual.py
    measures each MobileNet-v2 block both ways at several batches and threads.

    Options:
      machine: the CPU (see cpu_target) whose L2 bounds the tiles and whose
        last-level cache sets the threshold.
      llc-fraction: fuse blocks whose intermediate images are at least this
        part of the last-level cache (3/8: on a Zen 4 with 32 MB of L3 the
        blocks from 13.8 MB on ran 0.75-0.87x as long fused, a stride-2
        block of 17 MB 0.95-1.03x; below 12 MB mostly slower, up to 1.57x).
    """

    name = "wafer-fuse-inverted-residual"
    summary = "Compute expand -> depthwise -> project blocks a block of output rows at a time"

    llc_fraction: float = 0.375

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: is_depthwise(op.opview) and not in_parallel_loop(op.opview)):
            block = _match(op.opview)
            if block is None or block.intermediate_bytes() < self.llc_fraction * self.cpu.last_level_bytes:
                continue
            rows = self._rows_per_block(block)
            if rows:
                _rewrite(block, rows)

    def _rows_per_block(self, block: _Block) -> int:
        """The most output rows, 2 or more, that divide the output's and whose
        tiles fit in 3/4 of L2; 0 if there are none."""
        _, e, _, w = block.expand.results[0].type.shape
        _, f, oh, ow = block.project.results[0].type.shape
        size, stride, pad = block.window()

        def footprint(rows: int) -> int:
            expanded = e * ((rows - 1) * stride + size) * (w + 2 * pad)
            return F32_BYTES * (expanded + e * rows * ow + f * rows * ow)

        fitting = [r for r in range(2, oh + 1) if oh % r == 0 and footprint(r) <= self.cpu.l2_bytes * 3 // 4]
        return max(fitting, default=0)


def _match(depthwise: ir.OpView) -> _Block | None:
    """The inverted residual block around `depthwise`, or None."""
    x, filters, init = depthwise.operands
    if not (is_constant(filters) and is_zero_fill(init)):
        return None
    size, other = filters.type.shape[1:]
    strides, dilations = int_list(depthwise.attributes["strides"]), int_list(depthwise.attributes["dilations"])
    if size != other or size % 2 == 0 or strides[0] != strides[1] or strides[0] not in (1, 2) or dilations != [1, 1]:
        return None
    pad = x.owner  # a 1x1 depthwise convolution has none (the fuzzer's seed 7415)
    if not (isinstance(pad, ir.OpView) and pad.name == "tensor.pad"):
        return None
    activated, padding = unpadded(x, 0.0)
    if activated == x or padding != (size // 2, size // 2) or list(pad.static_high)[2:] != [size // 2, size // 2]:
        return None
    expansion = _elementwise_from(activated, _is_pointwise) if len(list(x.uses)) == 1 else None
    if expansion is None:
        return None
    expand, activation = expansion
    middle, result = _elementwise_after(depthwise)
    project = _sole_user(result)
    if project is None or not _is_pointwise(project.operation) or project.operands[0] != result:
        return None
    return _Block(expand, activation, x.owner, depthwise, middle, project, _tail(project))


def _is_pointwise(op: ir.Operation) -> bool:
    """A 1x1 stride-1 NCHW convolution (see channels_last) with constant filters and a zero init."""
    conv = op.opview
    return is_pointwise(conv) and is_constant(conv.operands[1]) and is_zero_fill(conv.operands[2])


def _is_elementwise(op: ir.Operation, shape: list[int]) -> bool:
    """A linalg.generic of parallel loops over `shape` that does not read its init
    and reads each input through the identity map or along the channel dim only."""
    if op.name != "linalg.generic" or len(op.results) != 1 or op.results[0].type.shape != shape:
        return False
    if any(kind != PARALLEL for kind in iterator_types(op)):
        return False
    init = op.regions[0].blocks[0].arguments[len(op.operands) - 1]
    if any(True for _ in init.uses):
        return False
    maps = indexing_maps(op)
    if not all(is_projected_map(m) for m in maps) or map_dims(maps[-1]) != _IMAGE:
        return False
    return all(map_dims(m) in (_IMAGE, [1], []) for m in maps[:-1])


def _image_inputs(op: ir.Operation) -> list[ir.Value]:
    """The inputs an elementwise generic reads through the identity map."""
    maps = indexing_maps(op)
    return [op.operands[i] for i in range(len(maps) - 1) if map_dims(maps[i]) == _IMAGE]


def _sole_user(value: ir.Value) -> ir.OpView | None:
    users = [use.owner for use in value.uses]
    return users[0] if len(users) == 1 else None


def _in_program_order(ops: set[ir.Operation], anchor: ir.Operation) -> list[ir.OpView]:
    return [op.opview for op in anchor.block.operations if op.operation in ops]


def _elementwise_from(value: ir.Value, is_root) -> tuple[ir.OpView, list[ir.OpView]] | None:
    """(root, ops): the elementwise ops that compute `value`, which only one op
    reads, from the result of one op `is_root` accepts (and from no other image),
    in program order; None if there is no such root, or if anything else reads
    it or an intermediate result."""
    shape = value.type.shape
    ops, root, stack = set(), None, [value]
    while stack:
        owner = stack.pop().owner
        if not isinstance(owner, ir.OpView):
            return None
        if is_root(owner.operation):
            if root is not None and root != owner.operation:
                return None
            root = owner.operation
        elif not _is_elementwise(owner.operation, shape):
            return None
        elif owner.operation not in ops:
            ops.add(owner.operation)
            stack.extend(_image_inputs(owner.operation))
    members = ops | {root}
    if root is None or len(list(value.uses)) != 1 or any(
            use.owner not in members for op in members for result in op.results if result != value
            for use in result.uses):
        return None
    return root.opview, _in_program_order(ops, root)


def _elementwise_after(root: ir.OpView) -> tuple[list[ir.OpView], ir.Value]:
    """(ops, result): the elementwise ops that read only `root`'s result and each
    other's as images (its bias and activation), in program order, and the one
    value of theirs (or root's) that is read elsewhere. Where more than one
    would be, none of the ops."""
    shape = root.results[0].type.shape
    members, grown = {root.operation}, True
    while grown:
        grown = False
        for member in list(members):
            for use in member.results[0].uses:
                op = use.owner.operation
                if op not in members and _is_elementwise(op, shape) and _reads_only(op, members):
                    members.add(op)
                    grown = True
    leaving = [op for op in members if any(use.owner.operation not in members for use in op.results[0].uses)]
    if len(leaving) != 1:
        return [], root.results[0]
    return _in_program_order(members - {root.operation}, root.operation), leaving[0].results[0]


def _reads_only(op: ir.Operation, members: set[ir.Operation]) -> bool:
    """Whether each image `op` reads is a result of one of `members`."""
    return all(isinstance(value.owner, ir.OpView) and value.owner.operation in members
               for value in _image_inputs(op))


def _tail(project: ir.OpView) -> list[ir.OpView]:
    """The chain of elementwise ops after `project`, each the only reader of the one before."""
    tail, value = [], project.results[0]
    while (user := _sole_user(value)) is not None and _is_elementwise(user.operation, value.type.shape):
        tail.append(user)
        value = user.results[0]
    return tail


def _rewrite(block: _Block, rows: int) -> None:
    """Replace `block` by an scf.forall over (image, block of `rows` output rows)."""
    x = block.expand.operands[0]
    n, c, h, w = x.type.shape
    e = block.expand.results[0].type.shape[1]
    _, _, oh, ow = block.depthwise.results[0].type.shape
    size, stride, pad = block.window()
    rows_in = (rows - 1) * stride + size
    below = max(0, (oh - 1) * stride + size - pad - h)
    f32 = x.type.element_type
    last = block.last
    f = block.project.results[0].type.shape[1]
    record_strategy(block.depthwise, f"inverted residual {c}->{e}->{f} {h}x{w}/{stride}: "
                                     f"blocks of {rows} rows from {rows_in} expanded")
    with ir.InsertionPoint(last), last.location:
        padded = pad_value(x, [0, 0, pad, 0], [0, 0, below, 0], arith.ConstantOp(f32, 0.0).result)
        inside = np.zeros(h + pad + below, np.float32)
        inside[pad:pad + h] = 1
        mask = arith.ConstantOp(ir.RankedTensorType.get([inside.size], f32),
                                ir.DenseElementsAttr.get(inside, type=f32)).result
        blocks = scf.ForallOp([0, 0], [n, oh // rows], [1, 1], [tensor.EmptyOp([n, f, oh, ow], f32).result])
    last.results[0].replace_all_uses_with(blocks.results[0])
    with ir.InsertionPoint(blocks.body), last.location:
        image, index = blocks.induction_variables
        first_in = scaled(index, rows * stride)
        offsets = [image, index_constant(0), scaled(index, rows), index_constant(0)]
        zero = arith.ConstantOp(f32, 0.0).result
        tile = extract_slice(padded, [image, index_constant(0), first_in, index_constant(0)], [1, c, rows_in, w])
        tile = _move_conv(block.expand, tile, [1, e, rows_in, w], zero)
        tile = _move_elementwise(block.activation, tile, offsets)
        tile = _zero_rows(tile, extract_slice(mask, [first_in], [rows_in]))
        tile = _move_conv(block.depthwise, pad_value(tile, [0, 0, 0, pad], [0, 0, 0, pad], zero), [1, e, rows, ow],
                          zero)
        tile = _move_elementwise(block.middle, tile, offsets)
        tile = _move_conv(block.project, tile, [1, f, rows, ow], zero)
        tile = _move_elementwise(block.tail, tile, offsets)
        with ir.InsertionPoint(blocks.terminator().block):
            parallel_insert(tile, blocks.inner_iter_args[0], offsets, [1, f, rows, ow])
    block.pad.erase()


def _move_here(op: ir.OpView, init: ir.Value) -> None:
    """Move `op` to just after `init`'s op, which was built at the insertion point."""
    op.operation.move_before(init.owner)
    init.owner.move_before(op.operation)


def _move_conv(conv: ir.OpView, tile: ir.Value, shape: list[int], zero: ir.Value) -> ir.Value:
    """`conv` moved here to read `tile` into a zero init of `shape`; its result."""
    init = linalg.fill(zero, outs=[tensor.EmptyOp(shape, zero.type).result])
    _move_here(conv, init)
    conv.operands[0] = tile
    conv.operands[2] = init
    conv.results[0].set_type(init.type)
    return conv.results[0]


def _move_elementwise(ops: list[ir.OpView], tile: ir.Value, offsets: list[ir.Value]) -> ir.Value:
    """`ops` moved here, in order, over tiles the shape of `tile` (the first one's
    image input): an image from outside the block (a residual) is read at the
    tile's `offsets`. The last op's result, or `tile` for no ops."""
    shape = tile.type.shape
    for op in ops:
        maps = indexing_maps(op)
        for i in range(len(maps) - 1):
            if map_dims(maps[i]) == _IMAGE and op.operands[i].type.shape != shape:
                op.operands[i] = extract_slice(op.operands[i], offsets, shape)
        init = tensor.EmptyOp(shape, ir.RankedTensorType(op.results[0].type).element_type).result
        _move_here(op, init)
        op.operands[len(maps) - 1] = init
        op.results[0].set_type(init.type)
        tile = op.results[0]
    return tile


def _zero_rows(tile: ir.Value, inside: ir.Value) -> ir.Value:
    """`tile` with its rows where `inside` is 0 set to zero."""
    f32 = tile.type.element_type
    d = [ir.AffineDimExpr.get(i) for i in range(4)]
    generic = linalg.GenericOp([tile.type], [tile, inside], [tensor.EmptyOp(tile.type.shape, f32).result],
                               affine_maps(4, d, [d[2]], d), iterator_types_attr(*["parallel"] * 4))
    body = generic.regions[0].blocks.append(f32, f32, f32)
    with ir.InsertionPoint(body):
        value, row_inside, _ = body.arguments
        keep = arith.cmpf(arith.CmpFPredicate.OGT, row_inside, arith.ConstantOp(f32, 0.5).result)
        linalg.YieldOp([arith.SelectOp(keep, value, arith.ConstantOp(f32, 0.0).result).result])
    return generic.results[0]
