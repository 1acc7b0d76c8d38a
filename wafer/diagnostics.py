"""Errors and diagnostics shared by the driver and the Python API.

Every failure a user can cause surfaces as a `WaferError` whose message is a
list of ``file:line:col: error: ...`` lines, never as a traceback from the
MLIR bindings.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from torch_mlir import ir

class WaferError(Exception):
    """A user-facing compilation or execution error; `str()` is the message."""


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error", "warning", "note" or "remark"
    location: str  # "file:line:col", or "" when the location is unknown
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.severity}: {self.message}"

    @property
    def line(self) -> int | None:
        match = re.search(r":(\d+):\d+$", self.location)
        return int(match.group(1)) if match else None


_SEVERITIES = {
    ir.DiagnosticSeverity.ERROR: "error",
    ir.DiagnosticSeverity.WARNING: "warning",
    ir.DiagnosticSeverity.NOTE: "note",
    ir.DiagnosticSeverity.REMARK: "remark",
}


def format_location(loc: ir.Location) -> str:
    """Render a location as file:line:col, or '' if it has none.

    The fx importer gives each op a call-site location: the innermost frames
    are PyTorch's own code, so the first frame outside site-packages (the
    user's model) is preferred.
    """
    frames = re.findall(r'"([^"]*)":(\d+):(\d+)', str(loc))
    if not frames:
        return ""
    user = [f for f in frames if "site-packages" not in f[0]]
    file, line, col = (user or frames)[0]
    return f"{file}:{line}:{col}"


def to_diagnostic(d) -> Diagnostic:
    message = d.message
    for note in getattr(d, "notes", ()):
        message += f"\n{format_location(note.location) or '<unknown>'}: note: {note.message}"
    return Diagnostic(_SEVERITIES.get(d.severity, "error"), format_location(d.location), message)


@contextlib.contextmanager
def collect_diagnostics(ctx: ir.Context):
    """Capture every diagnostic emitted on `ctx` into the yielded list."""
    diagnostics: list[Diagnostic] = []

    def handler(d) -> bool:
        diagnostics.append(to_diagnostic(d))
        return True

    registration = ctx.attach_diagnostic_handler(handler)
    try:
        yield diagnostics
    finally:
        registration.detach()


def first_line(message: str) -> str:
    """A message's first line, without the IR dump of an op that MLIR appends after ': %'."""
    return (message.split(": %", 1)[0].splitlines() or [""])[0]


def error_from_mlir(err: ir.MLIRError, fallback: str) -> WaferError:
    """Turn an MLIRError (parse or verify failure) into a WaferError."""
    lines = [str(to_diagnostic(d)) for d in err.error_diagnostics]
    return WaferError("\n".join(lines) or f"error: {fallback}")
