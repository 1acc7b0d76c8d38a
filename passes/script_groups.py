"""Run a transform script with each group of tagged ops in a small function of its own.

Upstream `transform.structured.fuse_into_containing_op` builds a diagnostic on
every call, fused or not, that prints the producer and the containing op, and
printing an op verifies and numbers the function around it: in a model's one
big function each fusion costs time that grows with the model (bench/
compile_time.py). While the script runs, each group (the ops whose tags share
a name before the first dot, `mm3` and `mm3.gather`, say) sits in a private
function with what it needs, and goes back in place afterwards. A script
finds its ops by tag from the module, so it needs no change.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Collection, Iterator

from torch_mlir import ir

from .outlining import captured, free_names, inline, inside, outline
from .pass_base import find_ops

# The outlined functions' names: wafer_group0, wafer_group1, ...
_OUTLINED = "wafer_group"
# Marks an outlined function, for a script to apply its patterns to the groups only.
GROUP_FUNCTION = "wafer.group_function"


@contextlib.contextmanager
def groups_outlined(module: ir.Operation, names: Collection[str], keys: tuple[str, ...]):
    """Outline the groups `names` of the ops tagged under any of `keys` while the body runs."""
    calls = []
    try:
        free = free_names(module, _OUTLINED)
        for function, groups in _tagged_groups(module, set(names), keys).items():
            calls += _outline_groups(module, function, groups, free)
        yield
    finally:
        functions = {ir.StringAttr(op.attributes["sym_name"]).value: op
                     for op in module.regions[0].blocks[0].operations if op.operation.name == "func.func"}
        # Last first: a group may hold the call of one outlined before it.
        for call, name in reversed(calls):
            inline(call, functions[name])


def _tagged_groups(module: ir.Operation, names: set[str],
                   keys: tuple[str, ...]) -> dict[ir.Operation, list[set[ir.Operation]]]:
    """{function: [the top-level ops of each group]}, groups in order of first tag."""
    by_name: dict[str, set[ir.Operation]] = defaultdict(set)
    functions: dict[str, set[ir.Operation]] = defaultdict(set)
    for op in find_ops(module, lambda op: any(key in op.attributes for key in keys)):
        top, function = _top_level(op)
        if function is None:
            continue
        for key in keys:
            if key in op.attributes:
                name = ir.StringAttr(op.attributes[key]).value.split(".")[0]
                if name not in names:
                    continue
                by_name[name].add(top)
                functions[name].add(function)
    groups: dict[ir.Operation, list[set[ir.Operation]]] = defaultdict(list)
    for name, members in by_name.items():
        if len(functions[name]) == 1:  # a group across functions stays where it is
            groups[next(iter(functions[name]))].append(members)
    return groups


def _top_level(op: ir.Operation) -> tuple[ir.Operation, ir.Operation | None]:
    """The op of a function's body that is or holds `op`, and the function (None outside one)."""
    while op.parent is not None and op.parent.name != "func.func":
        op = op.parent
    return op, op.parent


def _outline_groups(module: ir.Operation, function: ir.Operation, groups: list[set[ir.Operation]],
                    free: Iterator[str]) -> list[tuple[ir.OpView, str]]:
    order = [op.operation for op in function.regions[0].blocks[0].operations]
    pending = list(groups)
    calls = []
    while pending:
        position = {op: i for i, op in enumerate(order)}
        members = pending.pop(0)
        while True:
            producers = _producers(position, members, set().union(*pending))
            ops, later = _with_paths(order, position, members | producers)
            readers = {_top_level(use.owner.operation)[0]
                       for op in producers for result in op.results for use in result.uses}
            # Groups that share an op or a producer, or lie on each other's paths, are one.
            merged = [group for group in pending if group & (ops | readers)]
            if not merged:
                break
            for group in merged:
                pending.remove(group)
                members |= group
        in_order = sorted(ops, key=position.__getitem__)
        start, end = position[in_order[0]], position[in_order[-1]]
        moved = ops | set(later)
        kept = [op for op in order[start:end + 1] if op not in moved]
        name = next(free)
        group_function, call = outline(module, in_order, name)
        group_function.attributes[GROUP_FUNCTION] = ir.UnitAttr.get()
        anchor = call.operation
        for op in later:
            op.move_after(anchor)
            anchor = op
        calls.append((call, name))
        order[start:end + 1] = kept + [call.operation] + later
        # An op hashes by its operands, and the ops that read the group now read
        # the call: rehash the groups still to outline.
        pending = [set(group) for group in pending]
    return calls


def _producers(position: dict[ir.Operation, int], members: set[ir.Operation],
               tagged: set[ir.Operation]) -> set[ir.Operation]:
    """The producers of `members` whose every result only they, or other groups' ops (`tagged`), read."""
    readers = members | tagged
    return {value.owner.operation for value in captured(sorted(members, key=position.__getitem__))
            if isinstance(value.owner, ir.OpView) and value.owner.operation not in readers
            and all(inside(use.owner.operation, readers) for result in value.owner.results for use in result.uses)}


def _with_paths(order: list[ir.Operation], position: dict[ir.Operation, int],
                ops: set[ir.Operation]) -> tuple[set[ir.Operation], list[ir.Operation]]:
    """`ops` and every op on a path from one of them to another (else the call
    would both feed and read it); and the other ops between them that read from
    them, transitively, which must move after the call."""
    positions = sorted(position[op] for op in ops)
    between = set(order[positions[0] + 1:positions[-1]]) - ops
    # Forward along uses, not operands: the ops in between may be whole loop nests.
    reads_group, work = set(), list(ops)
    while work:
        for result in work.pop().results:
            for use in result.uses:
                user, _ = _top_level(use.owner.operation)
                if user in between and user not in reads_group:
                    reads_group.add(user)
                    work.append(user)
    feeds_group, reached = set(), set(ops)
    for op in sorted(reads_group, key=position.__getitem__, reverse=True):
        if any(inside(use.owner.operation, reached) for result in op.results for use in result.uses):
            feeds_group.add(op)
            reached.add(op)
    return ops | feeds_group, sorted(reads_group - feeds_group, key=position.__getitem__)
