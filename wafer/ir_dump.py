"""`--dump-ir DIR`: the module as each pipeline stage left it, one file per stage."""

from __future__ import annotations

from pathlib import Path

from torch_mlir import ir

from .atomic_file import write_atomically
from .diagnostics import WaferError

# Elements and resource blobs over this many (elements, bytes) print elided:
# a dump shows the program, not the weights (LeNet's import: 490 KB in full, 7 KB elided).
_ELIDE_OVER = 16


class IrDump:
    """Writes the module to `directory` before the first stage and after each,
    numbered in order: `00-import.mlir`, `01-verify.mlir`, `02-simplify.mlir`, ...

    Each file parses back (`wafer-opt 02-simplify.mlir -p ...` reruns a stage)
    and appears whole or not at all (atomic_file.py).
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WaferError(f"error: cannot write the IR dump to '{directory}': {err.strerror}") from None
        self._written = 0

    def write(self, stage: str, module: ir.Module) -> None:
        path = self.directory / f"{self._written:02d}-{stage}.mlir"
        text = module.operation.get_asm(large_elements_limit=_ELIDE_OVER, large_resource_limit=_ELIDE_OVER)
        try:
            write_atomically(path, text)
        except OSError as err:
            raise WaferError(f"error: cannot write '{path}': {err.strerror}") from None
        self._written += 1
