"""wse-partition: group the linalg ops of a model into regions that each run on one rectangle of PEs."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import tensor

from ..dialects.wse import MACHINE_ATTR, FabricInfo, str_attr
from ..wse_target.distribution import as_contraction, op_flops, window_input
from ..wse_target.lookup import lookup_of
from ..wse_target.machine import get_machine
from .linalg_queries import PARALLEL, indexing_maps, is_projected, iterator_types, loop_ranges, reduction_dims
from .pass_base import OptionError, PassFailure, WaferPass
from .wse_split_gathers import body_extracts, is_static_gather

# Region kinds. A contraction's region is partitioned as "summa"; wse-place
# makes it "cannon" where Cannon's shifts model faster on its square, or
# "rowwise" where each PE computing its own outputs over all of k does (a
# grouped convolution: SUMMA would hold every group on each PE). A
# "lookup" region holds a table and looks rows up in it (wse_target.lookup).
SUMMA, CANNON, ROWWISE, LOOKUP = "summa", "cannon", "rowwise", "lookup"
STEPPED = (SUMMA, CANNON)
_NAMED_COMPUTE = ("linalg.matmul", "linalg.batch_matmul", "linalg.conv", "linalg.pooling",
                  "linalg.depthwise", "linalg.mmt4d", "linalg.contract")


def partitioned_kind(region: ir.Operation) -> str:
    """The kind wse-partition gave `region`, whatever algorithm wse-place chose:
    a region whose first op is a contraction was partitioned "summa". Of a
    region not yet distributed (wse-distribute replaces its ops)."""
    kind = str_attr(region, "kind")
    if kind != ROWWISE:
        return SUMMA if kind in STEPPED else kind
    anchor = next((op.operation for op in region.regions[0].blocks[0].operations
                   if op.operation.name == "linalg.generic" and not is_init(op.operation)), None)
    return SUMMA if anchor is not None and as_contraction(anchor) is not None else ROWWISE


def is_init(op: ir.Operation) -> bool:
    """A generic that reads nothing: a fill, the init of a reduction or contraction.
    A region computes its own copy in place, so a generic that gathers from
    above (a one-element lookup) is none: it runs on the host."""
    return op.name == "linalg.generic" and len(op.operands) == 1 and not body_extracts(op)


def is_relayout(op: ir.Operation) -> bool:
    """A generic that only moves data (transpose, broadcast, copy, a gather
    at constant indices such as an upsampling), or widens it (a bias
    broadcast as an f32 accumulator's init): done in flight."""
    if op.name != "linalg.generic":
        return False
    if body_extracts(op):
        return is_static_gather(op)
    if len(op.operands) < 2:
        return False
    block = op.regions[0].blocks[0]
    *body, terminator = block.operations
    if len(terminator.operands) != 1 or len(body) > 1:
        return False
    yielded = terminator.operands[0]
    if body:
        if body[0].name != "arith.extf" or body[0].results[0] != yielded:
            return False
        yielded = body[0].operands[0]
    return isinstance(yielded.owner, ir.Block) and yielded.owner == block


def is_check(op: ir.Operation) -> bool:
    """A generic whose results nothing reads: it only runs checks (batchnorm's
    cf.assert, the bounds checks wafer-split-asserts took out of a lookup),
    at host level."""
    return op.name == "linalg.generic" and not any(True for result in op.results for _ in result.uses)


_HOST_OPS = ("tm_tensor.scan", "tm_tensor.sort", "tm_tensor.topk", "tm_tensor.scatter")


# Set by wse-place on a lookup it sends back to the host (see `inline_on_host`).
HOST_ATTR = "wse.host"


def runs_on_host(op: ir.Operation) -> bool:
    """An op with no spatial mapping, run on the host between regions: a scan
    (cumsum), a sort (topk), a top-k (kthvalue), a scatter (index_put), or a
    generic whose body gathers with tensor.extract other than a lookup
    (`wse_target.lookup`: an embedding) or at constant indices (an
    upsampling, data movement): a gather along a table's last dim, say.
    Its data crosses the wafer's edge. So does a lookup wse-place found
    cheaper on the host (`HOST_ATTR`)."""
    return op.name in _HOST_OPS or HOST_ATTR in op.attributes or (op.name == "linalg.generic" and bool(body_extracts(op))
                                    and not is_static_gather(op) and lookup_of(op) is None)


# What may run between regions, on whole tensors, as the data movement of the
# streams that feed regions: everything else must be inside a region.
_BETWEEN_REGIONS = frozenset({
    "arith.constant", "func.return", "wse.region", "cf.assert",
    "tensor.empty", "tensor.expand_shape", "tensor.collapse_shape", "tensor.extract_slice",
    "tensor.insert_slice", "tensor.pad", "tensor.concat", "tensor.cast",
})


def check_between_regions(block: ir.Block) -> None:
    """Fail at the first op left between regions that the wse target cannot run
    there (a tm_tensor scan, say): at compile time, not when the model is called."""
    for op in block.operations:
        op = op.operation
        if op.name in _BETWEEN_REGIONS:
            continue
        if op.name == "linalg.generic" and (is_init(op) or is_relayout(op) or is_check(op)):
            continue
        if runs_on_host(op):
            continue
        raise PassFailure(op.location, f"'{op.name}' is not supported by the wse target")


def detach_checks(block: ir.Block) -> None:
    """Let checks read a tensor.empty instead of an input they read only for its
    shape (batchnorm's asserts iterate over the conv output), so that they do not
    hold a value that a region would otherwise keep inside."""
    checks = [op.operation for op in block.operations if is_check(op.operation)]
    for op in checks:
        arguments = op.regions[0].blocks[0].arguments
        for i, value in enumerate(op.operands):
            producer = value.owner
            unread = not any(True for _ in arguments[i].uses)
            if unread and not (isinstance(producer, ir.OpView) and producer.name == "tensor.empty"):
                shaped = ir.RankedTensorType(value.type)
                with ir.InsertionPoint(op), op.location:
                    op.operands[i] = tensor.EmptyOp(shaped.shape, shaped.element_type).result


def is_elementwise(op: ir.Operation) -> bool:
    return op.name == "linalg.generic" and all(k == PARALLEL for k in iterator_types(op))


def _users(op: ir.Operation) -> list[ir.Operation]:
    return [use.owner.operation for result in op.results for use in result.uses]


def _reads_as_written(user: ir.Operation, producer: ir.Operation, written: ir.AffineMap) -> bool:
    """Whether `user` reads each of `producer`'s results through `written`:
    in the layout the region holds it in. A region keeps one layout per value
    (wse-distribute cannot relayout inside it), so an op that reads a member's
    result transposed (`(x @ w).t()` on a square x) starts a region of its own,
    which scatters the value in each layout it reads."""
    maps = indexing_maps(user)
    return all(maps[i] == written for i, operand in enumerate(user.operands)
               if any(operand == result for result in producer.results))


@dataclass
class Group:
    kind: str
    ops: list[ir.Operation]

    def contains(self, op: ir.Operation) -> bool:
        return any(op == member for member in self.ops)


def find_groups(block: ir.Block) -> list[Group]:
    """Contractions with their elementwise consumers, and runs of elementwise
    ops and reductions over one iteration space (softmax, layernorm)."""
    groups: list[Group] = []
    grouped: set[ir.Operation] = set()  # every group's ops: looked up once per op and candidate
    position = {op.operation: i for i, op in enumerate(block.operations)}
    for op in block.operations:
        op = op.operation
        if op.name.startswith(_NAMED_COMPUTE):
            raise PassFailure(op.location, f"'{op.name}' must be generalized before wse-partition "
                              "(run func.func(linalg-generalize-named-ops) first, as the wse pipeline does)")
        if op.name != "linalg.generic" or op in grouped:
            continue
        if is_init(op) or is_relayout(op) or is_check(op) or runs_on_host(op):
            continue
        if not is_projected(op) and window_input(op) is None:
            raise PassFailure(op.location, "the wse target cannot partition this op: its indexing maps "
                              "are not projected permutations (unfold convolution and pooling windows "
                              "with wse-unfold-windows first, as the wse pipeline does)")
        if lookup_of(op) is not None:
            group = Group(LOOKUP, [op])
        elif as_contraction(op) is not None:
            group = Group(SUMMA, [op])
            _grow_epilogue(group, grouped)
        else:
            group = Group(ROWWISE, [op])
            _grow_rowwise(group, op, grouped, position)
            if reduction_dims(group.ops[-1]):  # a matrix-vector product's bias add and activation
                _grow_epilogue(group, grouped)
        _cut_at_escapes(group)
        grouped.update(group.ops)
        groups.append(group)
    return groups


def _grow_epilogue(group: Group, grouped: set[ir.Operation]) -> None:
    """Add sole-user elementwise consumers that keep the output shape of the
    group's last op, a contraction or reduction (in its element type or
    another: the truncation of an f32 accumulator to f16), and that no earlier
    group took (a rowwise run can end in an op that also reads the
    contraction: attention's division by the softmax sum after P @ V). A
    consumer that gathers runs on the host: its table, computed by another
    region, is not on this one's PEs."""
    shape = ir.ShapedType(group.ops[-1].results[0].type).shape
    while True:
        users = _users(group.ops[-1])
        if (len(users) != 1 or not is_elementwise(users[0]) or is_relayout(users[0]) or is_check(users[0])
                or runs_on_host(users[0]) or lookup_of(users[0]) is not None):
            return
        user = users[0]
        if user in grouped:
            return
        if ir.ShapedType(user.results[0].type).shape != shape:
            return
        if not _reads_as_written(user, group.ops[-1], indexing_maps(user)[-1]):  # it writes where it reads
            return
        group.ops.append(user)


def _grow_rowwise(group: Group, first: ir.Operation, grouped: set[ir.Operation], position: dict) -> None:
    """Add the following ungrouped ops over the same loop ranges that read a
    group value, in block order: the users of its members, each looked at once
    (`position`: the index of each op in the block)."""
    ranges = loop_ranges(first)
    pending, seen = [], set()

    def queue_users(member: ir.Operation) -> None:
        for user in _users(member):
            if user in position and user not in seen:
                seen.add(user)
                heapq.heappush(pending, (position[user], user))  # positions differ: ops are never compared

    queue_users(first)
    while pending:
        op = heapq.heappop(pending)[1]
        if (op in grouped or op.name != "linalg.generic" or is_init(op) or is_relayout(op)
                or is_check(op) or runs_on_host(op) or lookup_of(op) is not None or not is_projected(op)):
            continue
        if as_contraction(op) is not None or loop_ranges(op) != ranges:
            continue
        if not all(_reads_as_written(op, member, indexing_maps(member)[-1]) for member in group.ops):
            continue  # one loop nest: a member's result is read through the map it is written by
        group.ops.append(op)
        queue_users(op)


def _cut_at_escapes(group: Group) -> None:
    """Only the last op's result may leave a region: end the group at the first
    member whose result is used outside it, until none is (a cut can turn the
    users of an earlier member into outsiders)."""
    while True:
        escaping = next((i for i, op in enumerate(group.ops[:-1])
                         if any(not group.contains(user) for user in _users(op))), None)
        if escaping is None:
            return
        del group.ops[escaping + 1:]


def outline(group: Group, name: str, result: int = 0) -> None:
    """Move the group's ops into a wse.region that yields result `result` of the
    last op; no other result of it may have uses left (see `outline_each`).
    The region's location fuses its ops': an error about the region names
    the layers it holds, not only where its last op (an activation the
    model's own forward applies, say) was written."""
    last = group.ops[-1]
    value = last.results[result]
    i64 = ir.IntegerType.get_signless(64)
    with ir.InsertionPoint(last), ir.Location.fused([op.location for op in group.ops]):
        region = ir.Operation.create(
            "wse.region",
            results=[value.type],
            attributes={
                "sym_name": ir.StringAttr.get(name),
                "kind": ir.StringAttr.get(group.kind),
                **{key: ir.IntegerAttr.get(i64, value) for key, value in
                   (("x", 0), ("y", 0), ("width", 1), ("height", 1), ("slot", -1),
                    ("flops", sum(op_flops(op) for op in group.ops)))},
            },
            regions=1,
        )
    uses = [(use.owner, use.operand_number) for use in value.uses]
    body = region.regions[0].blocks.append()
    with ir.InsertionPoint(body):
        for op in group.ops:
            op.detach_from_parent()
            body.append(op)
        ir.Operation.create("wse.yield", operands=[value])
    for owner, index in uses:
        owner.operands[index] = region.results[0]


def inline_on_host(region: ir.Operation) -> None:
    """Undo `outline`: move the region's ops back in its place, the last
    marked to run on the host (`HOST_ATTR`), and erase the region."""
    *ops, terminator = [op.operation for op in region.regions[0].blocks[0].operations]
    for op in ops:
        op.move_before(region)
    ops[-1].attributes[HOST_ATTR] = ir.UnitAttr.get()
    region.results[0].replace_all_uses_with(terminator.operands[0])
    region.erase()


def clone_group(group: Group) -> Group:
    """A copy of the group's ops, just before its last op, reading each other."""
    clones: list[ir.Operation] = []
    with ir.InsertionPoint(group.ops[-1]):
        for op in group.ops:
            clone = op.clone()
            clone = clone.operation if isinstance(clone, ir.OpView) else clone
            for i, operand in enumerate(clone.operands):
                owner = operand.owner
                if not isinstance(owner, ir.OpView):
                    continue
                source = next((k for k, member in enumerate(group.ops) if member == owner.operation), None)
                if source is not None:
                    clone.operands[i] = clones[source].results[operand.result_number]
            clones.append(clone)
    return Group(group.kind, clones)


def outline_each(group: Group, name: str) -> None:
    """Outline the group as one region per result of its last op used outside.

    A region yields one tensor, and the IRDL of `wse.region` gives all of a
    variadic's results one type, so a last op with two used results of two
    types (`torch.max(x, 1)`: the maximum and its index) cannot leave in one
    region: every used result but the first gets a copy of the group that
    yields it, computing the group again on its own rectangle."""
    last = group.ops[-1]
    used = [i for i, result in enumerate(last.results) if any(True for _ in result.uses)] or [0]
    for i in used[1:]:
        copy = clone_group(group)
        last.results[i].replace_all_uses_with(copy.ops[-1].results[i])
        outline(copy, f"{name}_{i}", i)
    outline(group, name, used[0])


@dataclass(frozen=True)
class WsePartition(WaferPass):
    """Group each model's linalg ops into `wse.region`s, one per rectangle of PEs.

    A contraction (matmul, batch matmul, linear, attention's products) and
    its elementwise consumers (bias, activation, residual) form a "summa"
    region: the product is stepped across the fabric, the consumers run on
    its output tiles where they lie. A run of elementwise ops and reductions
    over one iteration space (softmax, layernorm) forms a "rowwise" region,
    whose reductions cross the fabric; a table lookup (an embedding, after
    wse-split-gathers) a "lookup" region, which holds the table. Pure data movement (transposes, broadcasts, reshapes) stays between
    regions and is carried by the streams that feed the next region.
    Regions are left unplaced (slot -1) for wse-place.

    Options:
      machine: the preset to target (wse2, wse3, small), recorded on the
        module as `wse.machine` unless the module already names one.
    """

    name = "wse-partition"
    summary = "Group linalg ops into wse.regions (summa contractions, rowwise reductions)"

    machine: str = "small"

    def __post_init__(self):
        # An unknown machine is an option error when the pipeline is parsed, not
        # a failure at the module once the passes before this one have run.
        try:
            get_machine(self.machine)
        except ValueError as err:
            raise OptionError(str(err)) from None

    def apply(self, module: ir.Operation) -> None:
        if MACHINE_ATTR not in module.attributes:
            module.attributes[MACHINE_ATTR] = FabricInfo.of(get_machine(self.machine)).to_attr()
        for func in module.regions[0].blocks[0].operations:
            if func.operation.name != "func.func" or not func.regions[0].blocks:
                continue
            detach_checks(func.regions[0].blocks[0])
            for i, group in enumerate(find_groups(func.regions[0].blocks[0])):
                outline_each(group, f"{group.kind}{i}")
            check_between_regions(func.regions[0].blocks[0])
