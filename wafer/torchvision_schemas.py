"""Let torchvision (and transformers, which imports it) load beside the CPU torch.

The registry's torchvision wheel is built for CUDA: its C ops do not load with
the CPU torch, and its Python side needs their schemas declared before it is
imported. Used by the benchmark zoo and the tests; torchvision is never a
dependency of Wafer itself.
"""

from __future__ import annotations

import torch

_SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
            "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_libraries: list[torch.library.Library] = []  # kept alive: dropping one deregisters its ops


def declare_torchvision_schemas() -> None:
    """Declare torchvision's C op schemas once, unless its own ops loaded."""
    if hasattr(torch.ops.torchvision, "nms"):
        return
    library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        library.define(schema)
    _libraries.append(library)
