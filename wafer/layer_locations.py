"""Imported ops located at the user's layer: its module path and its call stack."""

from __future__ import annotations

import torch
from torch_mlir import ir
from torch_mlir.extras.fx_importer import ContextCache, FxImporter

from .diagnostics import layer_name


class _LayerContextCache(ContextCache):
    def get_node_location(self, node: torch.fx.Node) -> ir.Location | None:
        location = super().get_node_location(node)
        paths = [path for path, _ in (node.meta.get("nn_module_stack") or {}).values() if path]
        if location is None or not paths:
            return location
        return ir.Location.name(layer_name(paths[-1]), childLoc=location, context=self._c)


class LayerLocations(FxImporter):
    """torch-mlir's importer, with each op's call-site location wrapped in the
    name of the innermost module it ran in: a diagnostic that a later pass
    emits at the op can say which layer it is about (resnet18's
    `layer3.0.conv1`), even where every frame of the stack lies in installed
    packages (a torchvision or Hugging Face model)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cc = _LayerContextCache(self._c, py_attr_tracker=self._py_attr_tracker)
