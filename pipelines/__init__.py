"""Named pipelines: `wafer-opt --pipeline cpu{...}` and the compile API use them."""

from __future__ import annotations

import importlib

from ..passes.pass_base import Configurable

_PIPELINES: dict[str, str] = {
    "cpu": "cpu:CpuPipeline",
    "wse": "wse:WsePipeline",
}


def pipeline_names() -> list[str]:
    return sorted(_PIPELINES)


def get_pipeline(name: str) -> type[Configurable]:
    if name not in _PIPELINES:
        raise KeyError(name)
    module_name, class_name = _PIPELINES[name].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module_name}"), class_name)
