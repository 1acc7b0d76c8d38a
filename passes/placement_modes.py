"""The wse target's placement modes: a light module, so the pipeline and the
command line can check a mode without importing the placement pass."""

from __future__ import annotations

from .pass_base import OptionError

MODES = ("pipelined", "whole-wafer")


def check_mode(mode: str) -> None:
    """An unknown placement mode is an option error, before anything runs."""
    if mode not in MODES:
        raise OptionError(f"unknown mode '{mode}' (modes: {', '.join(MODES)})")
