"""Programs torch-mlir's importer crashes on or lowers wrong, refused by name before the import.

Each check names the op, the user's file:line and layer; a refusal is better
than a segfault in a native pass or a silent wrong answer.
"""

from __future__ import annotations

import torch
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

from .node_location import node_error
from .unsigned_ops import refuse_unchecked_uint8_ops


def refuse_importer_gaps(program) -> None:
    refuse_unchecked_uint8_ops(program)
    _refuse_data_dependent_shapes(program)
    _refuse_uneven_adaptive_max_pooling(program)


def _refuse_data_dependent_shapes(program) -> None:
    """A shape that depends on the data (`x[x > 0]`, `nonzero`) sends torch-mlir's
    lowering into a loop that never ends: refused at the op that makes it."""
    for node in program.graph.nodes:
        value = node.meta.get("val")
        if node.op == "call_function" and isinstance(value, torch.Tensor) and free_unbacked_symbols(value):
            raise node_error(node, f"torch.{node.target} gives a tensor whose shape depends on the data; "
                             "Wafer compiles shapes known before the call")


def _refuse_uneven_adaptive_max_pooling(program) -> None:
    """torch-mlir lowers adaptive max pooling as a max pool of one kernel and one
    positive stride; where PyTorch's windows differ in size or spacing (5 columns
    to 3: windows [0, 2), [1, 4), [3, 5)), or repeat (1 column to 2: a stride of
    0), the lowering fails to verify."""
    for node in program.graph.nodes:
        if node.op != "call_function" or node.target not in _ADAPTIVE_MAX_POOLS:
            continue
        sizes = node.args[1]
        for extent, size in zip(node.args[0].meta["val"].shape[-len(sizes):], sizes):
            windows = [(i * extent // size, -(-(i + 1) * extent // size)) for i in range(size)]
            steps = {b[0] - a[0] for a, b in zip(windows, windows[1:])}
            if len({end - start for start, end in windows}) > 1 or len(steps) > 1 or 0 in steps:
                raise node_error(node, f"Wafer cannot lower adaptive max pooling of {extent} to {size}: its windows "
                                 "differ in size or spacing or repeat, and torch-mlir's lowering assumes one "
                                 "kernel and one positive stride; choose an output size whose windows tile the input evenly")


_ADAPTIVE_MAX_POOLS = (torch.ops.aten.adaptive_max_pool1d.default, torch.ops.aten.adaptive_max_pool2d.default)
