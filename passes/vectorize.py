"""wafer-vectorize: register-tile contractions and turn tiles into vector FMAs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects import vector as vector_ops
from torch_mlir.dialects.transform import structured, vector

from .cpu_target import CpuTarget, TargetedPass
from .fuse import WHOLE_TILE
from .kernel_defaults import VECTOR_TILE_ELEMENTS
from .linalg_builders import largest_divisor, touches_bools
from .linalg_queries import (PARALLEL, REDUCTION, computes_math, holds_assert, indexing_maps, is_projected_map, iterator_types,
                             loop_ranges, map_dims, reduces_rows, reduction_dims)
from .pass_base import find_ops
from .transform_script import match_tagged, peeled_pieces, tag, transform_script, unless_it_fails

_CONTRACTIONS = ("linalg.matmul", "linalg.batch_matmul")
_ELEMENTWISE = ("linalg.generic", "linalg.fill", "linalg.transpose")


def _static_elements(value: ir.Value) -> int | None:
    shaped = ir.ShapedType(value.type)
    if not shaped.has_static_shape:
        return None
    count = 1
    for dim in shaped.shape:
        count *= dim
    return count


def _in_tile_loop(op: ir.OpView) -> bool:
    parent = op.operation.parent
    return parent is not None and parent.name in ("scf.forall", "scf.for")


def register_block(op: ir.OpView, register_tile: tuple[int, ...]) -> list[int] | None:
    """Tile sizes over the contraction's loops that divide its static M and N.

    Exact division keeps every tile static, so vectorization needs no masks
    and no scalar remainder loop. None when M or N is dynamic.
    """
    shaped = ir.ShapedType(op.results[0].type)
    if not shaped.has_static_shape:
        return None
    m, n = shaped.shape[-2:]
    m_tile, n_tile, k_tile = register_tile
    batch = [1] if op.name == "linalg.batch_matmul" else []
    return batch + [largest_divisor(m, m_tile), largest_divisor(n, n_tile), k_tile]


def is_vectorizable_tile(op: ir.OpView, max_elements: int, cpu: CpuTarget, max_row_elements: int) -> bool:
    """A fused tile small and static enough to become a handful of vector ops
    (a row reduction's row: `max_row_elements`). A row reduction outside any
    loop counts too: wafer-fuse leaves one whose rows fill a single tile
    untiled, and LLVM keeps its body scalar (a GELU's erf, an exp)."""
    if op.name not in _ELEMENTWISE or len(op.results) != 1 or touches_bools(op):
        return False
    if not (_in_tile_loop(op) or reduces_rows(op)):
        return False
    if op.name == "linalg.transpose" and not _keeps_rows(op):
        return False  # one gathered lane at a time: more code for LLVM, no faster than its own loop
    broadcasts = REDUCTION in iterator_types(op) or _full_vector_rows(op, cpu.lanes) or WHOLE_TILE in op.attributes
    if op.name == "linalg.generic" and not all(_plain_read(m, broadcasts) for m in indexing_maps(op)):
        return False  # a strided read (an im2col window at stride 2) has no plain vector load
    if holds_assert(op):
        return False  # a runtime check has no vector form
    if op.name == "linalg.generic" and _combines_init_with_innermost_index(op):
        return False
    counts = [_static_elements(v) for v in [*op.operands, *op.results] if isinstance(v.type, ir.ShapedType)]
    if None in counts:
        return False
    if reduces_rows(op):
        # Reduced a row (or a chunk of one) at a time, however many rows the fused tile holds.
        return row_chunks(op, max_row_elements, cpu) is not None
    # A full reduction's work is its input tile; an elementwise tile's, its result.
    return max(counts) <= max_elements


def _combines_init_with_innermost_index(op: ir.OpView) -> bool:
    """Whether the body reads the innermost loop's position and combines its
    init arithmetically (init + f(index), a fused epilogue's `x + arange`).
    Upstream's vectorizer makes the index a vector of that one dim, takes the
    combination for a reduction into the init's shape and builds an invalid
    vector.multi_reduction (fuzz seed 8415); an index of another dim, or an
    init only selected, vectorizes."""
    body = op.regions[0].blocks[0]
    innermost = len(iterator_types(op)) - 1
    if not any(inner.name == "linalg.index" and ir.IntegerAttr(inner.attributes["dim"]).value == innermost
               for inner in body.operations):
        return False
    init = body.arguments[len(body.arguments) - 1]
    return any(use.owner.name not in ("arith.select", "linalg.yield") for use in init.uses)


def row_chunks(op: ir.OpView, max_row_elements: int, cpu: CpuTarget) -> list[int] | None:
    """Tile sizes reducing a row reduction one row at a time (parallel loops
    by 1): a row of at most `max_row_elements` whole (a layer norm's 768
    features), a longer one in chunks that fit half the vector registers (a
    group norm's 6272, a 4096-wide RMS norm's), which LLVM had kept scalar.
    A chunk is the inner reduction loops whole and the next one cut by a
    divisor (whole vectors if one divides), the outer ones by 1; None where
    no chunk of at least one vector divides the row."""
    ranges, kinds = loop_ranges(op), iterator_types(op)
    sizes = [1 if kind == PARALLEL else 0 for kind in kinds]
    reduced = reduction_dims(op)
    if math.prod(ranges[d] for d in reduced) <= max_row_elements:
        return sizes
    chunk = cpu.vector_registers * cpu.lanes // 2
    inner = 1
    for d in reversed(reduced):
        if inner * ranges[d] <= chunk:
            inner *= ranges[d]
            continue
        cuts = [t for t in range(1, ranges[d] + 1) if ranges[d] % t == 0 and cpu.lanes <= t * inner <= chunk]
        if not cuts:
            return None
        sizes[d] = max(cuts, key=lambda t: (t * inner % cpu.lanes == 0, t))
        for outer in reduced[:reduced.index(d)]:
            sizes[outer] = 1
        return sizes
    return sizes


def _keeps_rows(transpose: ir.OpView) -> bool:
    """Whether a transpose moves whole rows: its innermost dim stays innermost."""
    permutation = list(ir.DenseI64ArrayAttr(transpose.attributes["permutation"]))
    return permutation[-1] == len(permutation) - 1


def _plain_read(affine_map: ir.AffineMap, broadcasts: bool) -> bool:
    """Each index a loop (a projected permutation) or, if `broadcasts`, 0: the
    unit dim a reduction keeps, read back by softmax's and layer norm's
    elementwise ops."""
    return is_projected_map(affine_map) and (broadcasts or None not in map_dims(affine_map))


def _full_vector_rows(op: ir.OpView, lanes: int) -> bool:
    """Whether an elementwise tile's rows are whole vectors. Broadcast reads into
    ragged rows (batch norm's per-channel scale over 56-pixel rows) lower to
    code slower than the scalar loop (ResNet block batch 32: 310 against 180 ms)."""
    shape = op.results[0].type.shape
    return bool(shape) and shape[-1] % lanes == 0


def ragged_rows(op: ir.OpView, cpu: CpuTarget) -> list[int] | None:
    """Tile sizes taking a whole-tile op (wafer-fuse-rows') one row at a time where
    its rows are no whole number of vectors (a window attention's 49 keys): as one
    vector<7x49>, each row's tail was shuffled into place across the next."""
    if op.name != "linalg.generic" or WHOLE_TILE not in op.attributes:
        return None
    ranges = loop_ranges(op)
    if not ranges or ranges[-1] % cpu.lanes == 0:
        return None
    return [1] * (len(ranges) - 1) + [0]


def ragged_pieces(op: ir.OpView, cpu: CpuTarget) -> list[int] | None:
    """Tile sizes cutting ragged rows longer than a few vectors (`row_pieces`'
    widest) into pieces of that many lanes, a row at a time: a whole-tile
    op's rows, or the reduced row of a reduction that computes a math
    function (log-softmax's sum of exponentials). The loop over the pieces
    is then peeled, so that the last piece (40 of a 1000-class row) is a
    static vector too. As one vector value, a row of 1000 spilled most of
    its exponential's polynomial to the stack (bench/norms.py's softmax
    and log-softmax). None for other ops and rows."""
    if op.name != "linalg.generic":
        return None
    ranges = loop_ranges(op)
    widest = cpu.row_piece_lanes
    if not ranges or len(ranges) < 2 or ranges[-1] <= widest or ranges[-1] % cpu.lanes == 0:
        return None
    if ragged_rows(op, cpu):
        return [1] * (len(ranges) - 1) + [widest]
    if reduces_rows(op) and computes_math(op) and reduction_dims(op) == [len(ranges) - 1]:
        return [1 if kind == PARALLEL else widest for kind in iterator_types(op)]
    return None


def row_pieces(op: ir.OpView, cpu: CpuTarget) -> list[int] | None:
    """Tile sizes cutting an elementwise tile into pieces of one row of a few whole
    vectors (a quarter of the registers' worth of lanes at most), or None to
    vectorize it whole. As one vector value, a row longer than that, or a
    tile of more lanes than that whose body computes a math function, expands
    the function's polynomial over more values than the registers hold: an
    NHWC tile's rows are its channels, up to 1280 (EfficientNet's SiLU as one
    vector<1152>; MobileNet-v2's rows of 384 and 960 took LLVM 3.5 s to
    compile, against 0.7 s in pieces), and ConvNeXt's GELU tiles at batch 8
    are 7 rows of 64 (bench/zoo.py measures both)."""
    if op.name != "linalg.generic":
        return None
    ranges = loop_ranges(op)
    widest = cpu.row_piece_lanes
    if not ranges or ranges[-1] % cpu.lanes:
        return None
    if ranges[-1] <= widest and not (computes_math(op) and math.prod(ranges) > widest):
        return None
    piece = max(v for v in range(cpu.lanes, min(widest, ranges[-1]) + 1, cpu.lanes) if ranges[-1] % v == 0)
    return [1] * (len(ranges) - 1) + [piece]


@dataclass(frozen=True)
class Vectorize(TargetedPass):
    """Vectorize matmuls and the fused elementwise tiles around them.

    Each static matmul/batch_matmul is tiled to a register block (M x N x 1
    per step of the K loop, shrunk to divide M and N exactly so every tile is
    static; dynamic shapes stay scalar loops); the contraction is lowered to outer products (broadcast A,
    FMA into N-wide rows of C) and C stays in registers across the K loop
    once redundant transfers are hoisted. Static elementwise tiles inside
    fused loops (transposes too) are vectorized whole, and row reductions (softmax, layer
    norm) a row at a time: one `vector.reduction` per row, reassociable so
    that LLVM sums a row as a tree of vector adds instead of one element
    after another (the order torch's own kernels sum in is no stricter); a
    row of more than four vectors is first folded into four, in address order.
    Convolutions stay scalar loops.

    Options:
      machine: the CPU (see cpu_target) whose vectors size the tiles.
      register-tile: largest M,N,K of the matmul register block; empty (the
        default) takes an accumulator in a quarter of the target's vector
        registers, two vectors wide (4x32x1 with AVX-512).
      max-tile-elements: largest tile vectorized whole: an elementwise
        result or a full reduction's input.
      max-row-elements: longest row of a row reduction vectorized as one
        vector (the default keeps the transformers' layer norm rows of 768
        features whole, as they were measured). A longer row (a group norm's
        groups, a 4096-wide norm, a softmax over 2048 keys) is reduced in
        chunks that fit half the vector registers: as one vector value LLVM
        split it and its optimizer spent far longer on it than on any other
        kernel; left to LLVM's loop, a body without `reassoc` or with a math
        function stayed scalar.
    """

    name = "wafer-vectorize"
    summary = "Register-tile matmuls and vectorize them and fused elementwise tiles to vector FMAs"

    register_tile: tuple[int, ...] = ()
    max_tile_elements: int = VECTOR_TILE_ELEMENTS
    max_row_elements: int = 1024

    def apply(self, module: ir.Operation) -> None:
        contractions, tiles = [], []
        register_tile = self.register_tile or (self.cpu.vector_registers // 8, 2 * self.cpu.lanes, 1)

        def collect(op: ir.Operation) -> ir.WalkResult:
            view = op.opview
            if op.name in _CONTRACTIONS and register_block(view, register_tile):
                contractions.append(view)
            elif is_vectorizable_tile(view, self.max_tile_elements, self.cpu, self.max_row_elements):
                tiles.append(view)
            return ir.WalkResult.ADVANCE

        module.walk(collect)
        if not contractions and not tiles:
            return
        with transform_script(module) as root:
            for i, op in enumerate(contractions):
                tag(op.operation, f"contract{i}")
                sizes = register_block(op, register_tile)
                tiled = structured.TileUsingForOp(match_tagged(root, f"contract{i}"), sizes=sizes)
                structured.VectorizeOp(tiled.tiled_linalg_op)
            for i, op in enumerate(tiles):
                tag(op.operation, f"tile{i}")
                with unless_it_fails(match_tagged(root, f"tile{i}")) as tile:
                    if pieces := ragged_pieces(op, self.cpu):
                        loops = structured.TileUsingForOp(tile, sizes=pieces).loops
                        tile = peeled_pieces(loops[-1], loops[-2], f"tile{i}")
                    elif reduces_rows(op):
                        # One row (or chunk) at a time: its vector stays in registers.
                        chunks = row_chunks(op, self.max_row_elements, self.cpu)
                        tile = structured.TileUsingForOp(tile, sizes=chunks).tiled_linalg_op
                    elif pieces := row_pieces(op, self.cpu) or ragged_rows(op, self.cpu):
                        tile = structured.TileUsingForOp(tile, sizes=pieces).tiled_linalg_op
                    structured.VectorizeOp(tile)
            funcs = structured.MatchOp.match_op_names(root, ["func.func"]).result
            lowering = transform.ApplyPatternsOp(funcs)
            with ir.InsertionPoint(lowering.patterns):
                vector.ApplyTransferPermutationPatternsOp()
                transform.ApplyCanonicalizationPatternsOp()
            # Then row reductions: one vector.reduction per row, over the contiguous inner dim.
            rows = transform.ApplyPatternsOp(funcs)
            with ir.InsertionPoint(rows.patterns):
                for reduction in (vector.ApplyReorderMultiReductionPatternsOp,
                                  vector.ApplyMultiReductionFlatteningPatternsOp,
                                  vector.ApplyMultiReductionUnrollingPatternsOp):
                    reduction(lowering_strategy=vector.VectorMultiReductionLowering.InnerReduction)
            structured.HoistRedundantVectorTransfersOp(transform.AnyOpType.get(), funcs)
        for reduction in find_ops(module, lambda op: op.name == "vector.reduction"):
            reduction.attributes["fastmath"] = ir.Attribute.parse("#arith.fastmath<reassoc>")
            _fold_row_in_order(reduction.opview, self.cpu.lanes)
        for read in find_ops(module, lambda op: _broadcasts_along_rows(op.opview)):
            _read_then_broadcast(read.opview)


# The elementwise op of each float combining kind a row's chunks are folded with.
_COMBINING_OPS = {
    vector_ops.CombiningKind.ADD: "arith.addf",
    vector_ops.CombiningKind.MUL: "arith.mulf",
    vector_ops.CombiningKind.MAXIMUMF: "arith.maximumf",
    vector_ops.CombiningKind.MINIMUMF: "arith.minimumf",
    vector_ops.CombiningKind.MAXNUMF: "arith.maxnumf",
    vector_ops.CombiningKind.MINNUMF: "arith.minnumf",
}
# Vectors a row is folded into: MLAS's row kernels (ReduceMaximum, SumExp) keep four accumulators.
_ROW_ACCUMULATORS = 4


def _fold_row_in_order(reduction: ir.OpView, lanes: int) -> None:
    """Fold a `vector.reduction` of a row longer than `_ROW_ACCUMULATORS`
    vectors chunk after chunk into at most that many vectors (the most whose
    width divides the row: 2 of 16 lanes for 224), then reduce those.

    Reduced as one tree, LLVM loaded the row's vectors in the tree's order,
    scattered over its cache lines; on a row read from memory for the first
    time (softmax's max over scores a matmul just wrote) the hardware
    prefetcher then fell behind (bench/norms.py times softmax)."""
    row = ir.VectorType(reduction.vector.type)
    if row.rank != 1 or not isinstance(row.element_type, ir.FloatType) or row.shape[0] <= _ROW_ACCUMULATORS * lanes:
        return
    kind_attr = ir.AttrBuilder.get("vector.Vector_CombiningKindAttr")
    combine = next((op for kind, op in _COMBINING_OPS.items() if reduction.kind == kind_attr(kind, None)), None)
    width = next((n * lanes for n in range(_ROW_ACCUMULATORS, 0, -1) if row.shape[0] % (n * lanes) == 0), None)
    if combine is None or width is None:
        return
    with ir.InsertionPoint(reduction), reduction.location:
        chunks = vector_ops.shape_cast(ir.VectorType.get([row.shape[0] // width, width], row.element_type),
                                       reduction.vector)
        folded = vector_ops.extract(chunks, [], [0])
        for i in range(1, row.shape[0] // width):
            folded = ir.Operation.create(combine, results=[folded.type],
                                         operands=[folded, vector_ops.extract(chunks, [], [i])]).result
    reduction.operation.operands[0] = folded


def _broadcasts_along_rows(read: ir.OpView) -> bool:
    """A `vector.transfer_read` of one value per row spread along the row
    (x - max(x) per row: the map's last result 0, the source's last dim 1),
    without a mask. Left so, it lowers to a loop that inserts the value one
    lane at a time at a variable position, through the stack: softmax's and
    layer norm's subtractions ran 4x slower than ONNX Runtime's."""
    if read.name != "vector.transfer_read" or read.mask is not None:
        return False
    results = list(ir.AffineMapAttr(read.attributes["permutation_map"]).value.results)
    source = ir.ShapedType(read.operands[0].type)
    rank = source.rank
    return (len(results) > 1 and isinstance(results[-1], ir.AffineConstantExpr) and results[-1].value == 0
            and source.has_static_shape and source.shape[-1] == 1 and ir.VectorType(read.result.type).shape[-1] > 1
            and all(isinstance(e, ir.AffineDimExpr) and e.position < rank - 1 for e in results[:-1]))


def _read_then_broadcast(read: ir.OpView) -> None:
    """Read the rows' values as a vector with a unit last dim, then broadcast
    it along the rows (one splat per row)."""
    wide = ir.VectorType(read.result.type)
    results = list(ir.AffineMapAttr(read.attributes["permutation_map"]).value.results)[:-1]
    rank = ir.ShapedType(read.operands[0].type).rank
    in_bounds = [ir.BoolAttr(b).value for b in ir.ArrayAttr(read.attributes["in_bounds"])][:-1] + [True]
    with ir.InsertionPoint(read), read.location:
        narrow = vector_ops.TransferReadOp(
            ir.VectorType.get([*wide.shape[:-1], 1], wide.element_type), read.operands[0], list(read.indices),
            ir.AffineMap.get(rank, 0, [*results, ir.AffineDimExpr.get(rank - 1)]), read.padding, in_bounds).result
        spread = vector_ops.BroadcastOp(wide, narrow).result
    read.result.replace_all_uses_with(spread)
    read.operation.erase()
