"""Chrome trace-event JSON, which Perfetto opens: the format both targets' traces use."""

from __future__ import annotations

import json
from pathlib import Path

from .atomic_file import write_atomically


def track_name(name: str, tid: int | None = None) -> dict:
    """A metadata event naming the process (tid None) or one of its threads, the tracks Perfetto shows."""
    if tid is None:
        return {"ph": "M", "pid": 0, "name": "process_name", "args": {"name": name}}
    return {"ph": "M", "pid": 0, "tid": tid, "name": "thread_name", "args": {"name": name}}


def slice_event(name: str, tid: int, start_us: float, duration_us: float, args: dict) -> dict:
    """A complete ("X") event; slices of one track that lie inside another nest under it."""
    return {"ph": "X", "pid": 0, "tid": tid, "name": name, "ts": start_us, "dur": duration_us, "args": args}


def save_trace(path: str | Path, events: list[dict]) -> None:
    write_atomically(path, json.dumps({"traceEvents": events, "displayTimeUnit": "ns"}))
