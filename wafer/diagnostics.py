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
    """Render a location as file:line:col, or '' if it has none."""
    frame = user_frame(loc)
    return ":".join(map(str, frame)) if frame else ""


def user_frame(loc: ir.Location) -> tuple[str, int, int] | None:
    """The (file, line, col) of `loc` in the user's code, or None if it has no file.

    The fx importer gives each op a call-site location: the innermost frames
    are PyTorch's own code, so the first frame outside site-packages (the
    user's model) is preferred, then the first outside torch itself (a model
    from an installed package: torchvision's resnet.py, not torch's conv.py).
    """
    frames = location_frames(loc)
    user = [f for f in frames if "site-packages" not in f[0]]
    library = [f for f in frames if not any(part in f[0] for part in _TORCH_ITSELF)]
    return (user or library or frames)[0] if frames else None


_TORCH_ITSELF = ("/torch/", "/torch_mlir/")


def location_frames(loc: ir.Location) -> list[tuple[str, int, int]]:
    """(file, line, col) of each file location in `loc`, innermost first: a call
    site's callee before its caller, a name's or a fusion's locations in order."""
    loc = ir.Location.from_attr(loc.attr, loc.context)  # the typed subclass
    if isinstance(loc, ir.FileLineColLoc):
        return [(loc.filename, loc.start_line, loc.start_col)]
    if isinstance(loc, ir.CallSiteLoc):
        return location_frames(loc.callee) + location_frames(loc.caller)
    if isinstance(loc, ir.NameLoc):
        return location_frames(loc.child_loc)
    if isinstance(loc, ir.FusedLoc):
        return [frame for inner in loc.locations for frame in location_frames(inner)]
    return []


def location_names(loc: ir.Location) -> list[str]:
    """The names in a location: the ONNX importer gives each op its node's name,
    and a rewrite that merges ops fuses their locations."""
    loc = ir.Location.from_attr(loc.attr, loc.context)  # the typed subclass
    if isinstance(loc, ir.NameLoc):
        return [loc.name_str]
    if isinstance(loc, ir.FusedLoc):
        return [name for inner in loc.locations for name in location_names(inner)]
    return []


LAYER_PREFIX = "layer "


def layer_name(path: str) -> str:
    """The name an op's location carries for the module at `path` (`layer3.0.conv1`)."""
    return f"{LAYER_PREFIX}'{path}'"


def to_diagnostic(d) -> Diagnostic:
    message = d.message
    layers = [name for name in location_names(d.location) if name.startswith(LAYER_PREFIX)]
    if layers and not message.startswith("in layer"):
        message = f"in {layers[0]}: {message}"
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


def unlinked(what: str) -> WaferError:
    """The JIT could not link `what`: LLVM printed which symbols it missed to stderr."""
    return WaferError(f"error: {what}: it calls a function that no loaded library defines "
                      "(see the 'JIT session error' above)")


def error_from_mlir(err: ir.MLIRError, fallback: str) -> WaferError:
    """Turn an MLIRError (parse or verify failure) into a WaferError."""
    lines = [str(to_diagnostic(d)) for d in err.error_diagnostics]
    return WaferError("\n".join(lines) or f"error: {fallback}")
