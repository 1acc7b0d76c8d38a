"""The one way Wafer makes an MLIR context."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch_mlir import ir, passmanager
from torch_mlir.dialects import torch as torch_dialect

from .dialects.wse import load_wse


def make_context() -> ir.Context:
    """A context that parses everything torch-mlir's fx importer can emit.

    Python passes and verifiers run as callbacks, which need multithreading off.
    The `wse` dialect is registered from its IRDL definition.
    The tm_tensor dialect has no Python registration hook: it is loaded as a
    dependency of a torch-mlir pass, run once on an empty module.
    """
    ctx = ir.Context()
    ctx.enable_multithreading(False)
    torch_dialect.register_dialect(ctx)
    with ctx, ir.Location.unknown():
        empty = ir.Module.create()
        passmanager.PassManager.parse("builtin.module(func.func(convert-torch-to-tmtensor))").run(
            empty.operation
        )
    load_wse(ctx)
    return ctx


@contextlib.contextmanager
def multithreaded(ctx: ir.Context) -> Iterator[None]:
    """Let MLIR be used from several threads within the block (the JIT's engines,
    built at once, create attributes while they translate). No Python callback may
    run within it: no Wafer pass, and no verifier of the `wse` dialect."""
    ctx.enable_multithreading(True)
    try:
        yield
    finally:
        ctx.enable_multithreading(False)
