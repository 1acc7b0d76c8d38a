"""How ops are classified for a rectangle of PEs (contractions, windows,
reductions' combiners, body costs), and what each PE holds of them (`layout`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir

from ..dialects.wse import element_bytes
from ..passes.linalg_queries import (PARALLEL, indexing_maps, is_projected, is_projected_map, iterator_types, loop_ranges,
                                     map_dims, reduction_dims, result_coefficients)
from .layout import Layout, block_panel, layout_for


def window_input(op: ir.Operation) -> int | None:
    """The input of linalg.generic `op` that a PE reads through sliding windows
    in place, where its region holds the input's rows rather than a gather of
    every window (a depthwise convolution's, a pooling's): None for any other op.

    That takes one input read through windows, each index a sum of loops times
    constants with one parallel loop (the output position) and the rest
    reductions (the window's offsets); no other input may read a parallel loop
    the windows do not, as a convolution's filters read its output channels:
    unfolded, that is a contraction, which SUMMA runs on the gathered windows.
    """
    if op.name != "linalg.generic" or len(op.results) != 1:
        return None
    maps = indexing_maps(op)
    n_in = len(op.operands) - 1
    windowed = [i for i in range(n_in) if not is_projected_map(maps[i])]
    if len(windowed) != 1 or not is_projected_map(maps[-1]):
        return None
    try:
        terms = result_coefficients(maps[windowed[0]])
    except ValueError:
        return None
    parallel = {d for d, kind in enumerate(iterator_types(op)) if kind == PARALLEL}
    read = [d for term in terms for d in term]
    if len(read) != len(set(read)) or any(len(term.keys() & parallel) > 1 for term in terms if len(term) > 1):
        return None
    others = set().union(*(set(d for d in map_dims(maps[i]) if d is not None) for i in range(n_in) if i != windowed[0]))
    return windowed[0] if not (others & parallel) - set(read) else None


def window_offsets(op: ir.Operation) -> frozenset[int]:
    """The loops of `op` that walk a window (kh, kw), which a PE reduces whole."""
    i = window_input(op)
    if i is None:
        return frozenset()
    parallel = {d for d, kind in enumerate(iterator_types(op)) if kind == PARALLEL}
    return frozenset(d for term in result_coefficients(indexing_maps(op)[i]) if len(term) > 1
                     for d in term if d not in parallel)


# The share of a PE's SRAM a region's buffers may take: the rest is spare for
# what placement's byte count misses (wse-distribute's exact layout runs a
# little over it).
SRAM_SHARE = 0.9


@dataclass(frozen=True)
class Contraction:
    """A generic that accumulates over loop `k`: out += f(inputs).

    Inputs that read `k` are stepped across the fabric: role "a" inputs are
    split by loop `m` over the PE rows and dealt along the columns by `k`;
    role "b" inputs by `k` over the rows and loop `n` over the columns.
    Inputs that do not read `k` have role "" and are laid out like the output.
    """

    m: int | None
    n: int | None
    k: int
    roles: tuple[str, ...]


def as_contraction(op: ir.Operation) -> Contraction | None:
    """Recognize a matmul-like linalg.generic (matmul, batch matmul, linear,
    matrix-vector): one with two different inputs stepped along k, and an
    output loop of one's own that no batch loop shared by both accompanies
    without one of the other's."""
    if op.name != "linalg.generic" or len(op.results) != 1 or not is_projected(op):
        return None
    reductions = reduction_dims(op)
    if not reductions or combiner(op) != "add":
        return None
    ranges = loop_ranges(op)
    k = max(reductions, key=lambda d: ranges[d])
    maps = indexing_maps(op)
    dims = [set(d for d in map_dims(m) if d is not None) for m in maps]
    inputs, out = dims[:-1], dims[-1]
    # Stepped inputs that read the same loops are one operand to SUMMA (a residual
    # added to a 1x1 conv's input before the product): a and b must differ.
    args = op.regions[0].blocks[0].arguments
    stepped = []  # an input the body never reads (a pooling's kernel-shape operand) is no operand
    for i, d in enumerate(inputs):
        if k in d and d not in stepped and any(True for _ in args[i].uses):
            stepped.append(d)
    if len(stepped) < 2:
        return None
    a = stepped[0]
    b = max(stepped[1:], key=lambda dims: math.prod(ranges[d] for d in dims))
    m = next((d for d in sorted(a - b, key=lambda d: -ranges[d]) if d in out), None)
    n = next((d for d in sorted(b - a, key=lambda d: -ranges[d]) if d in out), None)
    if (m is None or n is None) and combines_across(op):
        # A matrix-vector product (a batch-1 linear layer, a decode step's
        # projections). SUMMA would step k across the fabric a panel at a time.
        # A rowwise region keeps the matrix where it was loaded, split over rows
        # (its output dim) and columns (k), and sums the partial products along
        # each row of PEs: WaferLLM's MeshGEMV layout. The partial sums start
        # from the init, so it must be zero; one with the bias in it stays SUMMA.
        return None
    if n is None:  # a matrix-vector product W x: the vector is a, W's rows go over the columns
        a, b, m, n = b, a, n, m
    if n is None or (m is None and (a & b & out) - {k}):
        # Per batch a matrix-vector product, or no product at all: a depthwise window
        # (a channel's filter against its patches). SUMMA would step k past PEs that
        # hold no output rows; a rowwise region reduces each window in place.
        return None
    roles = []
    for d in inputs:
        if k not in d:
            roles.append("")
        elif n is not None and n in d:
            if m is not None and m in d:
                return None
            roles.append("b")
        else:
            roles.append("a")
    return Contraction(m, n, k, tuple(roles))


@dataclass(frozen=True)
class SummaPlan:
    """A contraction stepped over a height x width rectangle: `steps` panels of
    `panel` along k; per input, its layout, role and tensor dim of k (-1 if
    none); and the output's layout."""

    panel: int
    steps: int
    inputs: tuple[tuple[Layout, str, int], ...]
    out: Layout

    def layouts(self, op: ir.Operation) -> list[tuple[ir.Value, Layout]]:
        """Every operand's layout."""
        return [(value, layout) for value, (layout, _, _) in zip(list(op.operands), self.inputs + ((self.out, "", -1),))]

    def shares(self, op: ir.Operation, height: int, width: int) -> list[tuple[ir.Value, list[int]]]:
        """One PE's share (local shape) of every operand."""
        return [(value, layout.share_of(value, height, width))
                for value, layout in self.layouts(op)]

    def bytes_per_pe(self, op: ir.Operation, height: int, width: int) -> int:
        """One PE's share of every operand, plus a panel buffer per stepped input."""
        total = sum(math.prod(local) * element_bytes(ir.ShapedType(value.type).element_type)
                    for value, local in self.shares(op, height, width))
        return total + self.panel_bytes_per_pe(op, height, width)

    def panel_bytes_per_pe(self, op: ir.Operation, height: int, width: int) -> int:
        """One PE's panel buffers, one per stepped input: what double buffering adds."""
        return sum(elements * element_bytes(ir.ShapedType(value.type).element_type)
                   for value, _, elements in self.panels(op, height, width))

    def panels(self, op: ir.Operation, height: int, width: int) -> list[tuple[ir.Value, str, int]]:
        """Each stepped input, its role and the elements of one PE's panel of
        it: what a step multicasts (or, Cannon's, shifts) to every PE."""
        found = []
        for value, (layout, role, k_dim) in zip(list(op.operands), self.inputs):
            if role:
                local = layout.share_of(value, height, width)
                found.append((value, role, math.prod(local) // local[k_dim] * self.panel))
        return found


@dataclass(frozen=True)
class SummaRoles:
    """What a contraction's `SummaPlan`s share, whatever the rectangle: per
    input, its role and the tensor dims of k and of m (role a) or n (role
    b), or the layout of an input no step moves; the output's layout; and
    k's extent. Placement plans hundreds of rectangles from one."""

    extent_k: int
    inputs: tuple[tuple[str, int, int] | Layout, ...]
    out: Layout

    @staticmethod
    def of(op: ir.Operation, contraction: Contraction | None = None) -> SummaRoles:
        contraction = contraction or as_contraction(op)
        maps = indexing_maps(op)
        inputs = []
        for affine_map, role in zip(maps[:-1], contraction.roles):
            if not role:
                inputs.append(layout_for(affine_map, contraction.m, contraction.n))
                continue
            dims = map_dims(affine_map)
            other = contraction.m if role == "a" else contraction.n
            other_dim = dims.index(other) if other is not None and other in dims else -1
            inputs.append((role, dims.index(contraction.k), other_dim))
        out = layout_for(maps[-1], contraction.m, contraction.n)
        return SummaRoles(loop_ranges(op)[contraction.k], tuple(inputs), out)

    def plan(self, panel: int) -> SummaPlan:
        """Role-a inputs: m over the rows, k dealt in panels of `panel` over
        the columns; role-b inputs: k in panels over the rows, n over the
        columns; the rest and the output: m over the rows, n over the columns."""
        inputs = []
        for spec in self.inputs:
            if isinstance(spec, Layout):
                inputs.append((spec, "", -1))
                continue
            role, k_dim, other_dim = spec
            layout = Layout(other_dim, k_dim, 0, panel) if role == "a" else Layout(k_dim, other_dim, panel, 0)
            inputs.append((layout, role, k_dim))
        return SummaPlan(panel, math.ceil(self.extent_k / panel), tuple(inputs), self.out)


def summa_plan(op: ir.Operation, height: int, width: int, panel: int = 0) -> SummaPlan:
    """`op`'s `SummaRoles.plan` on height x width in steps of `panel` elements
    of k, else (0) `base_panel`'s."""
    return SummaRoles.of(op).plan(panel or base_panel(op, height, width))


# The panel of k (elements) a "summa" region steps by, as wse-place chose it.
PANEL_ATTR = "panel"
# The loops of its first op a contraction's region run rowwise splits over the
# PE rows and columns (-1: none), as wse-place chose them.
LOOPS_ATTR = "loops"


def placed_loops(region: ir.Operation) -> tuple[int | None, int | None] | None:
    """The loops wse-place chose to split a contraction run rowwise; None for
    any other region (its loops follow from its ops)."""
    if LOOPS_ATTR not in region.attributes:
        return None
    return tuple(None if loop < 0 else loop for loop in ir.DenseI64ArrayAttr(region.attributes[LOOPS_ATTR]))


def set_placed_loops(region: ir.Operation, loops: tuple[int | None, int | None] | None) -> None:
    if loops is None:
        if LOOPS_ATTR in region.attributes:
            del region.attributes[LOOPS_ATTR]
        return
    region.attributes[LOOPS_ATTR] = ir.DenseI64ArrayAttr.get([-1 if loop is None else loop for loop in loops])


def base_panel(op: ir.Operation, height: int, width: int) -> int:
    """The narrowest panel of k a SUMMA on height x width steps by: one block of
    k per PE along the longer side, so that every PE owns a panel."""
    return block_panel(loop_ranges(op)[as_contraction(op).k], max(height, width), 0)


def cannon_fits(op: ir.Operation, height: int, width: int, plan: SummaPlan | None = None) -> bool:
    """Can Cannon's shifts run contraction `op` on height x width PEs? On a
    square of two or more, where k splits into one block per PE row (none
    all padding). `plan`: its `summa_plan` there, if known."""
    return height == width > 1 and (plan or summa_plan(op, height, width)).steps == height


def summa_epilogue_loops(anchor: ir.Operation, op: ir.Operation) -> tuple[int | None, int | None]:
    """The loops of `op`, an elementwise consumer of contraction `anchor`, that
    run over the PE rows and columns: those that index the contraction's m and n."""
    contraction = as_contraction(anchor)
    return epilogue_loops(anchor, op, (contraction.m, contraction.n))


def epilogue_loops(source: ir.Operation, op: ir.Operation,
                   loops: tuple[int | None, int | None]) -> tuple[int | None, int | None]:
    """The loops of `op`, an elementwise consumer of `source`'s result (of its
    shape), that index the result dims `source`'s `loops` (its row and column
    loops) index; None for a loop the result does not have (a reduced one)."""
    out_dims = map_dims(indexing_maps(source)[-1])
    dims = map_dims(indexing_maps(op)[-1])
    return tuple(dims[out_dims.index(loop)] if loop is not None and loop in out_dims else None
                 for loop in loops)


def overwritten_input(op: ir.Operation) -> ir.Value | None:
    """The input whose buffer elementwise `op` may write its result over: one of
    the result's type and indexing map that nothing else reads (an epilogue's
    bias add over the product, then its ReLU over the sum), not even `op`
    through another map (`y.t() * y` would read elements it has overwritten).
    A region holds its own copy of every value it reads, so no one else sees
    the buffer change."""
    if len(op.results) != 1 or any(kind != PARALLEL for kind in iterator_types(op)):
        return None
    maps = indexing_maps(op)
    n_in = len(op.operands) - 1
    for value, affine_map in zip(list(op.operands)[:n_in], maps[:n_in]):
        if value.type == op.results[0].type and affine_map == maps[-1] and len(list(value.uses)) == 1:
            return value
    return None


@dataclass(frozen=True)
class Share:
    """A tensor a region holds: its layout, one PE's share (local shape) of
    it, and whether it is the result of a reduction combined across the
    columns, which takes a partial-sum buffer of its shape too."""

    value: ir.Value
    layout: Layout
    local: list[int]
    partial: bool
    element_bytes: int

    @property
    def bytes(self) -> int:
        """One PE's bytes of it, a partial-sum buffer included."""
        return math.prod(self.local) * self.element_bytes * (2 if self.partial else 1)


@dataclass(frozen=True)
class PlacedTensor:
    """A tensor a region's local ops read or write, laid out as their split
    loops lay it out: what does not depend on the region's shape, read off
    the IR once, so that placement can cost many shapes (`share`)."""

    value: ir.Value
    layout: Layout
    shape: tuple[int, ...]
    element_bytes: int
    reduced_across: bool  # the result of a reduction whose loop is split over the columns

    def share(self, height: int, width: int) -> Share:
        """Its `Share` on height x width PEs."""
        return Share(self.value, self.layout, self.layout.local_shape(list(self.shape), height, width),
                     self.reduced_across and width > 1, self.element_bytes)


def placed_tensors(placed_ops: list[tuple[ir.Operation, int | None, int | None]],
                   known: tuple[ir.Value, ...] = ()) -> list[PlacedTensor]:
    """Every tensor the ops read or write, each run with its (row loop, column
    loop) split as wse-distribute lays them out, each value once and none of
    `known` nor any result written over an input."""
    tensors, seen = [], list(known)
    for op, row_loop, col_loop in placed_ops:
        reduces_across = col_loop is not None and col_loop in reduction_dims(op)
        n_in = len(op.operands) - len(op.results)
        if overwritten_input(op) is not None:
            seen += list(op.results)
        ranges = loop_ranges(op)
        for value, affine_map in zip(list(op.operands)[:n_in] + list(op.results), indexing_maps(op)):
            if any(value == other for other in seen):
                continue
            seen.append(value)
            shaped = ir.ShapedType(value.type)
            tensors.append(PlacedTensor(value, layout_for(affine_map, row_loop, col_loop, ranges), tuple(shaped.shape),
                                        element_bytes(shaped.element_type),
                                        reduces_across and any(value == result for result in op.results)))
    return tensors


COMBINERS = {
    "arith.addf": "add", "arith.addi": "add", "arith.mulf": "mul", "arith.muli": "mul",
    "arith.maximumf": "max", "arith.maxnumf": "max", "arith.maxsi": "max", "arith.maxui": "max",
    "arith.minimumf": "min", "arith.minnumf": "min", "arith.minsi": "min", "arith.minui": "min",
    "arith.andi": "and", "arith.ori": "or",
}


def combiner(op: ir.Operation) -> str | None:
    """How a reduction folds into its output: the body yields kind(out, x),
    where x does not read out. None when it is not of that form."""
    block = op.regions[0].blocks[0]
    out = block.arguments[len(block.arguments) - 1]
    terminator = block.operations[len(block.operations) - 1]
    combined = terminator.operands[0].owner
    if not isinstance(combined, ir.OpView) or combined.name not in COMBINERS:
        return None
    if out not in list(combined.operands) or sum(1 for _ in out.uses) != 1:
        return None
    return COMBINERS[combined.name]


_FLOATING_POINT = ("arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.remf", "arith.negf",
                   "arith.maximumf", "arith.minimumf", "arith.maxnumf", "arith.minnumf")


@dataclass(frozen=True)
class BodyCost:
    """Per iteration of a linalg op: its FLOPs, and the datapath slots it takes
    (every arith/math op but constants, a multiply feeding an add fused into one
    FMA, a widening of a 16-bit operand done by the instruction that reads it:
    `@fmachs` and `@faddhs` read 16 bits and compute in 32), each as the kind
    of DSD instruction it runs as (`Machine.simd_width`). A body that computes
    nothing (a copy, a fill) is one move."""

    flops: int
    kinds: tuple[str, ...]

    @property
    def slots(self) -> int:
        return len(self.kinds)


_KINDS = {"arith.addf": "add", "arith.subf": "add", "arith.negf": "add", "math.absf": "add",
          "arith.maximumf": "max", "arith.minimumf": "max", "arith.maxnumf": "max", "arith.minnumf": "max",
          "arith.extf": "convert", "arith.truncf": "convert", "arith.mulf": "mul"}


def body_cost(op: ir.Operation) -> BodyCost:
    ops = [inner.operation for inner in op.regions[0].blocks[0].operations]
    arithmetic = [o for o in ops if o.name.split(".")[0] in ("arith", "math") and o.name != "arith.constant"]
    flops = sum(1 for o in arithmetic if o.name in _FLOATING_POINT or o.name.startswith("math."))
    fused = [o for o in arithmetic if o.name == "arith.addf" and any(
        isinstance(v.owner, ir.OpView) and v.owner.name == "arith.mulf" for v in o.operands)]
    products = [v.owner.operation for o in fused for v in o.operands
                if isinstance(v.owner, ir.OpView) and v.owner.name == "arith.mulf"]
    kinds = []
    for o in arithmetic:
        if any(o == f for f in fused) or (o.name == "arith.extf" and isinstance(o.operands[0].owner, ir.Block)):
            continue
        kinds.append("fma" if any(o == p for p in products) else _KINDS.get(o.name, "other"))
    return BodyCost(flops, tuple(kinds) or ("add",))


def op_flops(op: ir.Operation) -> int:
    """FLOPs of a linalg.generic over its whole iteration space."""
    return body_cost(op).flops * math.prod(loop_ranges(op))


_IDENTITY = {"add": 0.0, "mul": 1.0, "max": -math.inf, "min": math.inf, "and": True, "or": False}


def _scalar(attr: ir.Attribute):
    if isinstance(attr, ir.BoolAttr):
        return ir.BoolAttr(attr).value
    if isinstance(attr, ir.FloatAttr):
        return ir.FloatAttr(attr).value
    if isinstance(attr, ir.IntegerAttr):
        value = ir.IntegerAttr(attr).value
        return bool(value) if ir.IntegerType(attr.type).width == 1 else value
    return None


def _fill_value(value: ir.Value):
    """The one value every element of `value` holds, when it is a fill or a
    splat constant, or a reshape of one; None otherwise."""
    owner = value.owner
    if not isinstance(owner, ir.OpView):
        return None
    if owner.name in ("tensor.expand_shape", "tensor.collapse_shape", "tensor.cast"):
        return _fill_value(owner.operands[0])
    if owner.name == "arith.constant":
        attr = owner.attributes["value"]
        if isinstance(attr, ir.DenseElementsAttr) and attr.is_splat:
            return _scalar(attr.get_splat_value())
        return None
    if owner.name != "linalg.generic" or len(owner.operands) != 1:  # a fill: a generic that reads nothing
        return None
    block = owner.regions[0].blocks[0]
    yielded = block.operations[len(block.operations) - 1].operands[0].owner
    if not isinstance(yielded, ir.OpView) or yielded.name != "arith.constant":
        return None
    return _scalar(yielded.attributes["value"])


def combines_across(op: ir.Operation) -> bool:
    """Partial results of reduction `op` on several PEs combine into its result:
    one output, folded by an add/mul/max/min/and/or whose identity is its init.
    An arg-max's pair of outputs (the maximum and its index) does not."""
    if len(op.results) != 1:
        return False
    kind = combiner(op)
    return kind is not None and _fill_value(op.operands[len(op.operands) - 1]) == _IDENTITY[kind]
