"""Write a file so that readers see the old one or the whole new one, never part of it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomically(path: str | Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it into place:
    an interrupted run (Ctrl-C in the middle of a large IR dump) leaves no
    half-written file, only the earlier one or none."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "x") as file:  # created with the umask's permissions, as `path` would be
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
