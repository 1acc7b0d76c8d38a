"""wse-extend-concats: have a concatenation that extends an earlier one read it."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from .pass_base import WaferPass, find_ops


def _run_at(operands: list[ir.Value], run: list[ir.Value]) -> int | None:
    """Where `run` starts in `operands` as a contiguous stretch, if it does."""
    for start in range(len(operands) - len(run) + 1):
        if all(a == b for a, b in zip(operands[start:start + len(run)], run)):
            return start
    return None


def _dim(concat: ir.Operation) -> int:
    return ir.IntegerAttr(concat.attributes["dim"]).value


@dataclass(frozen=True)
class WseExtendConcats(WaferPass):
    """Replace a stretch of a tensor.concat's operands that an earlier concat
    (same dim, same block) joins by that concat's result: the longest such.

    A densely connected block (DenseNet) concatenates every earlier feature
    map anew for each layer: `cat([x0, x1, x2])`, then `cat([x0, x1, x2, x3])`.
    Read so, each layer's input streams in from every earlier layer's
    strip, and side by side those streams all cross one another: more routes
    than the fabric has colors. Read as `cat([cat([x0, x1, x2]), x3])`, the
    layer that received the shorter concatenation holds it and can pass it on
    (`stream_box`), a chain of short routes. The values are the same.
    """

    name = "wse-extend-concats"
    summary = "Have a tensor.concat whose operands include an earlier concat's read its result"

    def apply(self, module: ir.Operation) -> None:
        concats = find_ops(module, lambda op: op.name == "tensor.concat")
        joined = [list(op.operands) for op in concats]  # before any rewrite
        for position, (concat, operands) in enumerate(zip(concats, joined)):
            best = None
            for earlier, run in zip(concats[:position], joined):
                if (earlier.block != concat.block or _dim(earlier) != _dim(concat)
                        or not 1 < len(run) < len(operands) or (best and len(run) <= len(best[1]))):
                    continue
                start = _run_at(operands, run)
                if start is not None:
                    best = (earlier, run, start)
            if best is None:
                continue
            earlier, run, start = best
            with ir.InsertionPoint(concat), concat.location:
                extended = ir.Operation.create(
                    "tensor.concat", results=[concat.results[0].type],
                    operands=operands[:start] + [earlier.results[0]] + operands[start + len(run):],
                    attributes={"dim": concat.attributes["dim"]})
            concat.results[0].replace_all_uses_with(extended.results[0])
            concat.erase()
            concats[position] = extended
