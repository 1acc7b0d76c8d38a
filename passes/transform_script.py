"""Build a transform-dialect script from Python and apply it to a payload.

Wafer's passes decide *what* to do (which ops, which tile sizes) and tag the
payload ops with attributes; the upstream transform interpreter does the
tiling, fusion and vectorization itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Collection

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import interpreter, loop, structured, vector

from .script_groups import GROUP_FUNCTION, groups_outlined

TAG = "wafer.tag"
HOIST = "wafer.hoist_subsets"


def marker(key: str) -> str:
    """The unit attribute set beside every tag under `key`: a script finds all the
    ops tagged under `key` in one walk of the payload, and each tag among them."""
    return f"{key}.marked"


@dataclasses.dataclass
class _Prologue:
    """Where a script's matches of tagged ops go: before its body, in one walk per key."""

    root: ir.Value
    body: ir.Operation  # the matches go before this op
    marked: dict[str, ir.Value] = dataclasses.field(default_factory=dict)  # key: handle to every op marked under it


# The open scripts' prologues, by the root handle `transform_script` yields.
_PROLOGUES: dict[ir.Value, _Prologue] = {}


def tag(op: ir.Operation, value: str) -> None:
    """Mark a payload op so the script can find it with `match_tagged`."""
    op.attributes[TAG] = ir.StringAttr.get(value)
    op.attributes[marker(TAG)] = ir.UnitAttr.get()


def annotate_tag(handle: ir.Value, value: str, key: str) -> None:
    """Tag the ops of `handle` `value` under `key` from inside a script, for a later script's `match_tagged`."""
    transform.AnnotateOp(handle, key, param=transform.ParamConstantOp(transform.AnyParamType.get(),
                                                                      ir.StringAttr.get(value)).param)
    transform.AnnotateOp(handle, marker(key))


def match_tagged(root: ir.Value, value: str, key: str = TAG) -> ir.Value:
    """A handle to the ops tagged `value` under `key` when the script starts.

    Matched in the script's prologue among the ops marked under `key`, found
    in one walk of the payload for all the tags, rather than by a walk of the
    whole payload for each: a model's thousands of ops times its hundreds of
    tags grew faster than the model (bench/compile_time.py). So the ops must
    be there when the script starts, not made by one of its transforms
    (`rematch_tagged` finds those) nor replaced by one before this handle's
    use, and none may hold another op tagged under `key`.
    """
    prologue = _PROLOGUES[root]
    with ir.InsertionPoint(prologue.body):
        if key not in prologue.marked:
            prologue.marked[key] = _match_attribute(prologue.root, marker(key), ir.UnitAttr.get())
        # A match takes one payload op: one per marked op, the matches concatenated.
        each = transform.ForeachOp([transform.AnyOpType.get()], [prologue.marked[key]])
        with ir.InsertionPoint(each.body):
            transform.YieldOp([_match_attribute(each.body.arguments[0], key, ir.StringAttr.get(value))])
        return each.results[0]


def rematch_tagged(target: ir.Value, value: str) -> ir.Value:
    """A handle to the ops under `target` tagged `value` where the script has got to:
    those its transforms made from a tagged op (its tiles) included."""
    return _match_attribute(target, TAG, ir.StringAttr.get(value))


def peeled_pieces(pieces_loop: ir.Value, within: ir.Value, value: str) -> ir.Value:
    """Peel `pieces_loop`'s last, partial iteration into a loop of its own and
    canonicalize `within`, which makes that last piece static: a handle to the
    ops under `within` tagged `value`, the whole pieces and the last one."""
    loop.LoopPeelOp(transform.AnyOpType.get(), transform.AnyOpType.get(), pieces_loop)
    canonicalized = transform.ApplyPatternsOp(within)
    with ir.InsertionPoint(canonicalized.patterns):
        transform.ApplyCanonicalizationPatternsOp()
    return rematch_tagged(within, value)


def _match_attribute(target: ir.Value, key: str, value: ir.Attribute) -> ir.Value:
    return structured.MatchOp(transform.AnyOpType.get(), target, op_attrs=ir.DictAttr.get({key: value})).result


@contextlib.contextmanager
def transform_script(payload: ir.Operation, outline: Collection[str] = (), keys: tuple[str, ...] = (TAG,)):
    """Yield the script's root handle; on exit, apply the script to `payload`,
    with the groups named in `outline` (the ops tagged `<name>` or `<name>.*`
    under any of `keys`) each in a function of its own while it runs
    (script_groups.py): the groups a script fuses.

    Tags and hoisting marks are removed afterwards so they never leak into the output IR.
    """
    script = ir.Module.create()
    script.operation.attributes["transform.with_named_sequence"] = ir.UnitAttr.get()
    with ir.InsertionPoint(script.body):
        sequence = transform.NamedSequenceOp(
            "__transform_main",
            [transform.AnyOpType.get()],
            [],
            arg_attrs=[{"transform.readonly": ir.UnitAttr.get()}],
        )
    with ir.InsertionPoint(sequence.body):
        # The prologue (`match_tagged`'s matches) goes before this sequence, the script's body.
        body = transform.SequenceOp(transform.FailurePropagationMode.Propagate, [], sequence.bodyTarget)
        transform.YieldOp()
    _PROLOGUES[body.bodyTarget] = _Prologue(sequence.bodyTarget, body.operation)
    try:
        with ir.InsertionPoint(body.body):
            yield body.bodyTarget
            transform.YieldOp()
    finally:
        del _PROLOGUES[body.bodyTarget]
    try:
        with groups_outlined(payload, outline, keys) if outline else contextlib.nullcontext():
            interpreter.apply_named_sequence(payload, sequence, script)
    finally:
        remove_tags(payload)


@contextlib.contextmanager
def unless_it_fails(target: ir.Value):
    """Yield a handle to `target` in a nested sequence whose silenceable failures
    are suppressed: a transform that does not apply to one payload op (the
    vectorizer meets a reduction with no vector combiner, like max pooling's
    index) leaves that op as it was, and the rest of the script still runs."""
    sequence = transform.SequenceOp(transform.FailurePropagationMode.Suppress, [], target)
    with ir.InsertionPoint(sequence.body):
        yield sequence.bodyTarget
        transform.YieldOp()


def group_functions(root: ir.Value) -> ir.Value:
    """The functions that hold the groups `transform_script` outlined: where a
    script's patterns need to run, not the whole of the model's function."""
    marked = ir.DictAttr.get({GROUP_FUNCTION: ir.UnitAttr.get()})
    return structured.MatchOp(transform.AnyOpType.get(), root, ops=["func.func"], op_attrs=marked).result


def mark_for_hoisting(loop_handle: ir.Value) -> None:
    """Mark a loop for `hoist_loop_invariant_subsets`."""
    transform.AnnotateOp(loop_handle, HOIST)


def hoist_loop_invariant_subsets(root: ir.Value) -> None:
    """Hoist the loop-invariant reads and writes (an accumulator's) out of every
    `scf.for` that `mark_for_hoisting` marked, matched afresh: pattern
    applications replace loops, so earlier handles go stale. One round lifts a
    subset out of one loop level. Only marked loops: the other loops of a
    model have nothing to hoist, and cost the analysis all the same."""
    marked = ir.DictAttr.get({HOIST: ir.UnitAttr.get()})
    loops = structured.MatchOp(transform.AnyOpType.get(), root, ops=["scf.for"], op_attrs=marked).result
    hoist = transform.ForeachOp([], [loops])
    with ir.InsertionPoint(hoist.body):
        loop.HoistLoopInvariantSubsetsOp(hoist.body.arguments[0])
        transform.YieldOp([])


def shuffle_transposes(root: ir.Value) -> None:
    """Lower the vector transposes in every function of `root` to shuffles:
    those that only move unit dims become shape casts first, the real ones
    (a block of rows of one vector each) one flat shuffle each."""
    funcs = structured.MatchOp.match_op_names(root, ["func.func"]).result
    for populate in (
        [vector.ApplyTransferPermutationPatternsOp, vector.ApplyCastAwayVectorLeadingOneDimPatternsOp,
         vector.ApplyDropUnitDimWithShapeCastPatternsOp, transform.ApplyCanonicalizationPatternsOp],
        [lambda: vector.ApplyLowerTransposePatternsOp(lowering_strategy=vector.VectorTransposeLowering.Shuffle1D)],
    ):
        patterns = transform.ApplyPatternsOp(funcs)
        with ir.InsertionPoint(patterns.patterns):
            for make in populate:
                make()


def remove_tags(payload: ir.Operation, keys: tuple[str, ...] = (TAG, HOIST)) -> None:
    """Drop the attributes `keys`, and their markers, from every op under `payload`, in one walk."""
    names = [*keys, *map(marker, keys)]

    def strip(op: ir.Operation) -> ir.WalkResult:
        for name in names:
            if name in op.attributes:
                del op.attributes[name]
        return ir.WalkResult.ADVANCE

    payload.walk(strip)
