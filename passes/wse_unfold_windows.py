"""wse-unfold-windows: convolution windows as a gather plus a contraction."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir, rewrite
from torch_mlir.dialects import linalg, tensor

from ..wse_target.distribution import window_input
from ..wse_target.kernel import vector_loop
from .linalg_queries import PARALLEL, indexing_maps, is_projected_map, iterator_attr, map_dims
from .pass_base import PassFailure, WaferPass, find_ops
from .wse_partition import is_relayout


def _is_window(affine_map: ir.AffineMap) -> bool:
    """A map with a result that is neither a loop dim nor a constant: oh * stride + kh * dilation."""
    return any(not isinstance(e, (ir.AffineDimExpr, ir.AffineConstantExpr)) for e in affine_map.results)


def _expr_dims(expr: ir.AffineExpr) -> set[int]:
    if isinstance(expr, ir.AffineDimExpr):
        return {expr.position}
    if isinstance(expr, ir.AffineBinaryExpr):
        return _expr_dims(expr.lhs) | _expr_dims(expr.rhs)
    return set()


def _dims_of(affine_map: ir.AffineMap) -> list[int]:
    """The loop dims a map reads, in loop order."""
    return sorted(set().union(*(_expr_dims(e) for e in affine_map.results)))


def _static_ranges(op: ir.Operation) -> list[int | None]:
    """Loop extents bounded by a plain dim of some operand; None where none is static."""
    ranges: list[int | None] = [None] * len(op.attributes["iterator_types"])
    for value, affine_map in zip(op.operands, indexing_maps(op)):
        shape = ir.ShapedType(value.type)
        for axis, expr in enumerate(affine_map.results):
            if isinstance(expr, ir.AffineDimExpr) and not shape.is_dynamic_dim(axis):
                ranges[expr.position] = shape.get_dim_size(axis)
    return ranges


def _has_windows(op: ir.Operation) -> bool:
    return (op.name == "linalg.generic" and not is_relayout(op)
            and any(_is_window(m) for m in indexing_maps(op)[: len(op.operands) - len(op.results)]))


def gather_windows(source: ir.Value, affine_map: ir.AffineMap, ranges: list[int],
                   vector: int | None = None) -> tuple[ir.Value, ir.AffineMap]:
    """Copy every window `affine_map` reads into a tensor of its own.

    The gather loops over the dims the map uses (for a conv: n, oh, c, kh, kw,
    ow) and only yields its input, so wse-partition leaves it at host level as
    stream data movement. Its dims are in loop order except `vector`, the loop
    the consumer's instructions walk (its output's innermost dim), which goes
    last: each instruction then reads a contiguous row that starts at a
    multiple of the row length, where with the window dims inside it the row
    is strided by the window's size and its starts fall on every bank, which
    narrows the SIMD datapath (`cost.stride_width`, `cost.conflict_fraction`).
    Returns the gathered tensor and the projected-permutation map the consumer
    reads it with.
    """
    dims = _dims_of(affine_map)
    if vector in dims:
        dims = [d for d in dims if d != vector] + [vector]
    renumber = ir.AffineMap.get(affine_map.n_dims, 0, [
        ir.AffineDimExpr.get(dims.index(d)) if d in dims else ir.AffineConstantExpr.get(0)
        for d in range(affine_map.n_dims)
    ])
    read = ir.AffineMap.get(len(dims), 0, [expr.compose(renumber) for expr in affine_map.results])
    element = ir.ShapedType(source.type).element_type
    empty = tensor.EmptyOp([ranges[d] for d in dims], element)
    gather = linalg.GenericOp(
        [empty.result.type], [source], [empty.result],
        ir.ArrayAttr.get([ir.AffineMapAttr.get(read), ir.AffineMapAttr.get(ir.AffineMap.get_identity(len(dims)))]),
        ir.ArrayAttr.get([iterator_attr(PARALLEL)] * len(dims)),
    )
    block = gather.regions[0].blocks.append(element, element)
    with ir.InsertionPoint(block):
        linalg.YieldOp([block.arguments[0]])
    consumer_map = ir.AffineMap.get(affine_map.n_dims, 0, [ir.AffineDimExpr.get(d) for d in dims])
    return gather.result, consumer_map


def _kept_operands(body: ir.Block, maps: list[ir.AffineMap], n_inputs: int) -> list[int]:
    """The operands to keep: an input the body never reads (pooling's kernel-shape
    operand) goes once the others bound every loop, as the gathered windows do."""
    unread = {i for i in range(n_inputs) if not any(True for _ in body.arguments[i].uses)}
    kept = [i for i in range(len(maps)) if i not in unread]
    bound = set().union(*(_dims_of(maps[i]) for i in kept))
    return kept if len(bound) == maps[0].n_dims else list(range(len(maps)))


def unfold_windows(op, rewriter):
    """generic(window-read x, ...) -> generic(gather(x) read by a projected map, ...), same body and outs,
    unless its PEs read the windows in place (`window_input`)."""
    if not _has_windows(op.operation) or window_input(op.operation) is not None:
        return True
    maps = indexing_maps(op)
    n_inputs = len(op.operands) - len(op.results)
    operands = list(op.operands)
    ranges = _static_ranges(op)
    body = op.regions[0].blocks[0]
    vector = vector_loop(map_dims(maps[-1]), maps[-1].n_dims) if is_projected_map(maps[-1]) else None
    with rewriter.ip, op.location:
        for i in range(n_inputs):
            if _is_window(maps[i]):
                operands[i], maps[i] = gather_windows(operands[i], maps[i], ranges, vector)
        kept = _kept_operands(body, maps, n_inputs)
        unfolded = linalg.GenericOp(
            [r.type for r in op.results], [operands[i] for i in kept if i < n_inputs], operands[n_inputs:],
            ir.ArrayAttr.get([ir.AffineMapAttr.get(maps[i]) for i in kept]), op.attributes["iterator_types"],
        )
    body.append_to(unfolded.regions[0])
    for i in reversed(range(len(maps))):
        if i not in kept:
            body.erase_argument(i)
    rewriter.replace_op(op, list(unfolded.results))
    return False


def populate_wse_unfold_windows_patterns(patterns: rewrite.RewritePatternSet) -> None:
    patterns.add("linalg.generic", unfold_windows)


def _check_static(module: ir.Operation) -> None:
    """A window is unfolded at its compile-time size: every loop it reads needs a static extent."""
    windowed = find_ops(module, _has_windows)
    for op in windowed:
        ranges = _static_ranges(op)
        for affine_map in indexing_maps(op):
            if _is_window(affine_map) and any(ranges[d] is None for d in _dims_of(affine_map)):
                raise PassFailure(op.location, "wse-unfold-windows cannot unfold a window with a dynamic "
                                  f"extent (window map {affine_map}): the wse target needs static shapes")


@dataclass(frozen=True)
class WseUnfoldWindows(WaferPass):
    """Turn convolution windows into a gather plus a plain contraction.

    The wse target steps contractions across the fabric (SUMMA) over
    projected-permutation maps; a sliding window's index (oh * stride + kh *
    dilation) is not one. So in every linalg.generic that reads an input
    through such a map (a generalized conv_2d_nchw_fchw, any strides and
    dilations, or any other window op), that input is first gathered by a
    pure data-movement generic into one slice per window (im2col
    patches[n, oh, c, kh, kw, ow] for a conv), which the op then reads with a
    projected map. The op keeps its body and its init, so its result is
    unchanged and its consumers (bias, relu) still fuse as an epilogue: a
    conv becomes an implicit GEMM.

    A window op that is no contraction once unfolded (a depthwise
    convolution, a pooling: `window_input`) keeps its windows: its rowwise
    region holds the input's rows, each PE its block's windows with their
    halo, and reads the windows in place, where the gather would stream in
    every element once per window offset (9 times for 3x3).

    It runs on generalized ops after elementwise fusion, which would fold a
    gather back into its consumer.
    """

    name = "wse-unfold-windows"
    summary = "Unfold convolution windows into a gather plus a contraction"

    def apply(self, module: ir.Operation) -> None:
        _check_static(module)
        patterns = rewrite.RewritePatternSet()
        populate_wse_unfold_windows_patterns(patterns)
        rewrite.apply_patterns_and_fold_greedily(module, patterns.freeze())
