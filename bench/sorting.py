"""Sorting and top-k alone: Wafer against eager and ONNX Runtime, and the insertion/merge crossover.

    python bench/sorting.py [--batches 1,8] [--threads 1] [--budget 1]

The first table times sorts as models use them: top-5 over ImageNet's 1000
classes, a mixture-of-experts router's top-2 over 8 experts per token, top-k
sampling's 50 of a 32000-token vocabulary, DETR's 100 best of 100 queries x 91
classes, an argsort and a full sort. Columns: median ms of eager, ONNX Runtime
and Wafer timed interleaved, Wafer/ORT (below 1: Wafer is faster).

The second table is where wafer-sort-rows' `insertion-prefix` comes from: a
top-k of k places by insertion into the sorted prefix against a merge sort of
the whole row, on random rows and on rows already in order (every element
enters the prefix and shifts all k: insertion's worst case).
"""

from __future__ import annotations

from common import (  # first: sets GOMP_SPINCOUNT
    Function, eager_ort_wafer_ms, grid_parser, interleave, print_grid, timing_columns)
import torch

import wafer


# (name, rows per batch, row length, the sort)
SORTS = [
    ("top-5 of 1000 classes", 1, 1000, lambda x: x.topk(5, -1)),
    ("router top-2 of 8, 128 tokens", 128, 8, lambda x: x.topk(2, -1)),
    ("top-50 of 32000 tokens", 1, 32000, lambda x: x.topk(50, -1)),
    ("DETR top-100 of 9100", 1, 9100, lambda x: x.topk(100, -1)),
    ("argsort of 1000", 16, 1000, lambda x: x.argsort(-1)),
    ("sort of 256", 64, 256, lambda x: x.sort(-1)),
]


def sort_row(name: str, rows: int, length: int, sort, batch: int, threads: int, budget: float) -> str:
    torch.set_num_threads(threads)
    model, x = Function(sort).eval(), torch.randn(batch * rows, length)
    compiled = wafer.compile(model, (x,), threads=threads)
    _check(x, compiled(x), model(x))
    ms = eager_ort_wafer_ms(model, x, compiled, threads, budget)
    return f"{name:30} {batch:5} {threads:7} {timing_columns(ms)}"


def _check(x: torch.Tensor, got, want) -> None:
    """The values match eager's, and so do the values at the indices: ties
    (random rows of thousands hold some) may come in another order."""
    got, want = (r if isinstance(r, (tuple, list)) else (r,) for r in (got, want))
    for g, w in zip(got, want):
        g = torch.as_tensor(g)
        if not w.is_floating_point():
            g, w = x.gather(-1, g), x.gather(-1, w)
        torch.testing.assert_close(g, w)


def crossover_row(length: int, k: int, in_order: bool, budget: float) -> str:
    """One top-k sorted both ways: wafer-sort-rows run at the end of the
    bufferize stage with the prefix limit above k (insertion) and below it (merge)."""
    rows = max(1, 16000 // length)
    model, x = Function(lambda x: x.topk(k, -1)).eval(), torch.randn(rows, length)
    if in_order:
        x = x.sort(-1)[0]
    both = {how: wafer.compile(model, (x,), threads=1, after_bufferize=f"wafer-sort-rows{{insertion-prefix={limit}}}")
            for how, limit in (("insertion", k), ("merge", k - 1))}
    times, _ = interleave({how: lambda c=c: c(x) for how, c in both.items()}, budget)
    insertion, merge = times["insertion"] * 1e3, times["merge"] * 1e3
    return f"{length:6} {k:5} {'in order' if in_order else 'random':9} {insertion:10.3f} {merge:9.3f} {insertion / merge:16.2f}"


def main() -> None:
    args = grid_parser(__doc__, batches="1,8").parse_args()
    print(f"{'sort':30} {'batch':>5} {'threads':>7} {'eager':>9} {'ORT':>9} {'wafer':>9} {'wafer/ORT':>9}")
    print_grid(args, SORTS, lambda layer, *grid: sort_row(*layer, *grid))
    print(f"\n{'row':>6} {'k':>5} {'rows':9} {'insertion':>10} {'merge':>9} {'insertion/merge':>16}")
    for length in (1000, 32000):
        for k in (16, 64, 128, 256):
            for in_order in (False, True):
                print(crossover_row(length, k, in_order, args.budget), flush=True)


if __name__ == "__main__":
    main()
