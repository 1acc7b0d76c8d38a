"""Weights into the importer as views of their own memory, not as Python lists."""

from __future__ import annotations

import numpy as np
import torch
from torch_mlir import ir
from torch_mlir.extras.fx_importer import (
    FxImporterHooks,
    GraphNodeImporter,
    InputInfo,
    create_mlir_tensor_type,
)

from .passes.resource_blobs import resource_attr


class WeightLiterals(FxImporterHooks):
    """Import each weight tensor as a `torch.vtensor.literal` over a numpy view of it.

    torch-mlir's default literal import goes through `np.array(tensor.tolist())`
    (it must also handle fake tensors, which have no data): ResNet-18's 11 M
    weights took 7 s that way. A real tensor's data is handed to
    `DenseResourceElementsAttr.get_from_buffer` directly, with no copy and
    remembered (passes/resource_blobs.py), and each tensor is imported once
    however often the graph reads it.
    """

    def __init__(self):
        self._literals: dict[int, tuple[torch.Tensor, ir.Attribute]] = {}

    def resolve_literal(self, gni: GraphNodeImporter, literal, info: InputInfo | None) -> ir.Value | None:
        if not isinstance(literal, torch.Tensor) or literal.numel() <= 1 or literal.is_sparse:
            return None  # scalars stay splats; the default path handles the rest
        if isinstance(literal, torch._subclasses.FakeTensor) or literal.dtype == torch.bfloat16:
            return None  # no data to view (bf16 has no numpy dtype without ml_dtypes)
        known = self._literals.get(id(literal))
        if known is None:
            array = np.ascontiguousarray(literal.detach().numpy())
            name = "torch_tensor_" + "_".join(str(d) for d in literal.shape) + f"_{literal.dtype}"
            known = (literal, resource_attr(array, name, create_mlir_tensor_type(literal)))
            self._literals[id(literal)] = known  # the tensor is kept, so its id is not reused
        vtensor_type = gni._cc.tensor_to_vtensor_type(literal)
        return ir.Operation.create("torch.vtensor.literal", results=[vtensor_type],
                                   attributes={"value": known[1]}).result

