"""Typed queries of linalg ops: their loops' kinds, their indexing maps and the
loops each map reads.

Every pass asks these instead of reading printed attributes, so that a query
means one thing everywhere and a change in the printer breaks nothing.
"""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import linalg

PARALLEL = linalg.IteratorType.parallel
REDUCTION = linalg.IteratorType.reduction


def iterator_attr(kind: linalg.IteratorType, context: ir.Context | None = None) -> ir.Attribute:
    """The `#linalg.iterator_type` attribute of `kind` (in the current context by default)."""
    return ir.AttrBuilder.get("linalg.IteratorTypeEnum")(kind, context=context)


def iterator_types(op: ir.Operation) -> list[linalg.IteratorType]:
    """A linalg op's loop kinds in loop order; [] for an op that lists none (named
    ops, whose loops are implicit). The bindings do not downcast the enum
    attribute, so each is matched against the attribute of each kind."""
    if "iterator_types" not in op.attributes:
        return []
    kinds = {iterator_attr(kind, op.context): kind for kind in (PARALLEL, REDUCTION)}
    return [kinds[attr] for attr in ir.ArrayAttr(op.attributes["iterator_types"])]


def reduces_rows(op: ir.Operation) -> bool:
    """A linalg op with parallel and reduction loops: it reduces each row of its
    input (softmax's max and sum, layer norm's moments)."""
    kinds = iterator_types(op)
    return PARALLEL in kinds and REDUCTION in kinds


def computes_math(op: ir.Operation) -> bool:
    """Whether a linalg op's body computes a math function or a division: what
    LLVM's loop vectorizer leaves scalar, and what a polynomial expands."""
    return any(inner.name == "arith.divf" or inner.name.startswith("math.")
               for inner in op.regions[0].blocks[0].operations)


def trip_count(lower: int, upper: int, step: int) -> int:
    """The iterations of a loop from `lower` below `upper` by `step`: none for an empty range."""
    return max(0, -(-(upper - lower) // step))


def constant_int(value: ir.Value) -> int | None:
    """The integer an `arith.constant` defines (a loop bound, or every lane of a
    splat vector), None for any other value."""
    owner = value.owner
    if not (isinstance(owner, ir.OpView) and owner.name == "arith.constant"):
        return None
    attr = owner.attributes["value"]
    if isinstance(attr, ir.DenseIntElementsAttr):
        if not attr.is_splat:
            return None
        attr = attr.get_splat_value()
    return ir.IntegerAttr(attr).value


def reads_loop_indices(op: ir.Operation) -> bool:
    """Whether a linalg op's body reads its loops' positions (`linalg.index`, a
    gather's computed index): a copy of the body over other loops (a tile, a
    piece, a wider range) reads the wrong elements unless they are offset."""
    return any(inner.name == "linalg.index" for inner in op.regions[0].blocks[0].operations)


def holds_assert(op: ir.Operation) -> bool:
    """Whether a linalg op's body still holds a `cf.assert` (see wafer-split-asserts):
    a check has no vector form, and a failed one must not return from a thread."""
    return any(inner.name == "cf.assert" for inner in op.regions[0].blocks[0].operations)


def reduction_dims(op: ir.Operation) -> list[int]:
    return [d for d, kind in enumerate(iterator_types(op)) if kind == REDUCTION]


def unsigned_cast(op: ir.Operation) -> bool:
    """Whether a named contraction casts its operands as unsigned integers."""
    unsigned = ir.AttrBuilder.get("linalg.TypeFnAttr")(linalg.TypeFn.cast_unsigned, context=op.context)
    return "cast" in op.attributes and op.attributes["cast"] == unsigned


def indexing_maps(op: ir.Operation) -> list[ir.AffineMap]:
    return [ir.AffineMapAttr(attr).value for attr in ir.ArrayAttr(op.attributes["indexing_maps"])]


def is_projected_map(affine_map: ir.AffineMap) -> bool:
    """Whether each result is a loop dim or the constant 0 (a unit dim kept):
    what `map_dims` reads."""
    return all(isinstance(expr, ir.AffineDimExpr) or isinstance(expr, ir.AffineConstantExpr) and expr.value == 0
               for expr in affine_map.results)


def map_dims(affine_map: ir.AffineMap) -> list[int | None]:
    """Per result of a projected map, the loop dim it reads (None: the constant 0)."""
    if not is_projected_map(affine_map):
        raise ValueError(f"indexing map {affine_map} is not a projected permutation")
    return [expr.position if isinstance(expr, ir.AffineDimExpr) else None for expr in affine_map.results]


def dim_coefficients(expr: ir.AffineExpr) -> dict[int, int]:
    """Each loop's factor in an index that is a sum of loops times constants
    (a window's oh * sh + kh * dh); ValueError for any other index."""
    if isinstance(expr, ir.AffineDimExpr):
        return {expr.position: 1}
    if isinstance(expr, ir.AffineAddExpr):
        left, right = dim_coefficients(expr.lhs), dim_coefficients(expr.rhs)
        return {d: left.get(d, 0) + right.get(d, 0) for d in left | right}
    if isinstance(expr, ir.AffineMulExpr) and isinstance(expr.rhs, ir.AffineConstantExpr):
        return {d: c * expr.rhs.value for d, c in dim_coefficients(expr.lhs).items()}
    raise ValueError(f"not a sum of loops times constants: {expr}")


def result_coefficients(affine_map: ir.AffineMap) -> list[dict[int, int]]:
    """Per result of a map whose results are sums of loops times constants or
    the constant 0 (a unit dim kept), each loop's factor in it (`dim_coefficients`):
    [{1: 1}, {2: 1, 4: 1}] for (c, oh + kh); ValueError for any other map."""
    return [{} if isinstance(expr, ir.AffineConstantExpr) and expr.value == 0 else dim_coefficients(expr)
            for expr in affine_map.results]


def index_extent(coefficients, ranges: list[int]) -> int:
    """How many values an index that is a sum of loops times constants (each
    `(loop, factor)` of `coefficients`) spans over loop extents `ranges`: its
    largest value plus one (oh * 2 + kh over 4 and 3 rows: 9)."""
    return 1 + sum(factor * (ranges[d] - 1) for d, factor in coefficients)


def is_projected(op: ir.Operation) -> bool:
    return all(is_projected_map(affine_map) for affine_map in indexing_maps(op))


def loop_ranges(op: ir.Operation) -> list[int] | None:
    """Each loop's extent, read from the operands' static shapes where a map
    result is a plain loop dim (a linalg op's, or a `vector.contract`'s); None
    if an operand is not a statically shaped tensor, memref or vector, or some
    loop is read by no such result."""
    maps = indexing_maps(op)
    ranges: list[int | None] = [None] * maps[0].n_dims
    for value, affine_map in zip(op.operands, maps):
        if not (isinstance(value.type, (ir.RankedTensorType, ir.MemRefType, ir.VectorType))
                and value.type.has_static_shape):
            return None
        for extent, expr in zip(value.type.shape, affine_map.results):
            if isinstance(expr, ir.AffineDimExpr):
                ranges[expr.position] = extent
    return None if None in ranges else ranges


def reassociation_groups(reshape: ir.Operation) -> list[list[int]]:
    """The dim groups of a tensor.expand_shape or collapse_shape."""
    return [[ir.IntegerAttr(dim).value for dim in ir.ArrayAttr(group)]
            for group in ir.ArrayAttr(reshape.attributes["reassociation"])]


# Attention's batch and heads, collapsed into its contractions' one batch dim.
HEADS = [[0, 1], [2], [3]]


def collapsed_heads(value: ir.Value) -> ir.Value | None:
    """The [batch, heads, rows, columns] value that `value` collapses (by `HEADS`), if it is such a collapse."""
    owner = value.owner
    if not (isinstance(owner, ir.OpView) and owner.name == "tensor.collapse_shape"
            and reassociation_groups(owner) == HEADS):
        return None
    return owner.operands[0]
