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

_FILE_LOC = re.compile(r'^"(?P<file>[^"]*)":(?P<line>\d+):(?P<col>\d+)')


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
    """Render the innermost file:line:col of a location, or '' if it has none.

    Fused and call-site locations (the fx importer produces both) are searched
    for their first file location, which points into the user's model.
    """
    text = str(loc)
    match = re.search(r'"([^"]*)":(\d+):(\d+)', text)
    return f"{match.group(1)}:{match.group(2)}:{match.group(3)}" if match else ""


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


def error_from_mlir(err: ir.MLIRError, fallback: str) -> WaferError:
    """Turn an MLIRError (parse or verify failure) into a WaferError."""
    lines = [str(to_diagnostic(d)) for d in err.error_diagnostics]
    return WaferError("\n".join(lines) or f"error: {fallback}")
