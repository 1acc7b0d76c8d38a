"""Build a transform-dialect script from Python and apply it to a payload.

Wafer's passes decide *what* to do (which ops, which tile sizes) and tag the
payload ops with attributes; the upstream transform interpreter does the
tiling, fusion and vectorization itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import interpreter, loop, structured, vector

from .script_groups import GROUP_FUNCTION, groups_outlined

TAG = "wafer.tag"
HOIST = "wafer.hoist_subsets"


def tag(op: ir.Operation, value: str) -> None:
    """Mark a payload op so the script can find it with `match_tagged`."""
    op.attributes[TAG] = ir.StringAttr.get(value)


def match_tagged(target: ir.Value, value: str, key: str = TAG) -> ir.Value:
    return structured.MatchOp(
        transform.AnyOpType.get(), target, op_attrs=ir.DictAttr.get({key: ir.StringAttr.get(value)})
    ).result


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
        yield sequence.bodyTarget
        transform.YieldOp()
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
    """Drop the attributes `keys` from every op under `payload`, in one walk."""

    def strip(op: ir.Operation) -> ir.WalkResult:
        for key in keys:
            if key in op.attributes:
                del op.attributes[key]
        return ir.WalkResult.ADVANCE

    payload.walk(strip)
