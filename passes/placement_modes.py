"""The wse target's placement modes: a light module, so the pipeline and the
command line can check a mode without importing the placement pass."""

from __future__ import annotations

from .pass_base import OptionError

MODES = ("pipelined", "whole-wafer")
# wse-place's choice between them: a tuning record's (`wafer tune --target wse`
# with no mode), else pipelined where the regions fit side by side, else whole-wafer.
AUTO = "auto"


def check_mode(mode: str) -> None:
    """An unknown placement mode is an option error, before anything runs."""
    if mode not in (*MODES, AUTO):
        raise OptionError(f"unknown mode '{mode}' (modes: {', '.join((*MODES, AUTO))})")
