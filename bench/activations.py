"""Elementwise activations alone: Wafer against eager and ONNX Runtime.

    python bench/activations.py [--batches 1,8] [--threads 1,2] [--budget 1]

Each row is one activation in the shape of a layer that applies it: the
hidden layer of ViT's and BERT's MLPs (GELU, exact and tanh), LLaMA's
(SiLU), EfficientNet's first block (SiLU, sigmoid) and others (tanh,
softplus, Mish, ELU, hardswish), and exp alone. Exp, sigmoid, SiLU,
softplus, Mish and ELU share `wafer-polynomial-exp`. Columns: the layer,
batch, threads, median ms of eager, ONNX Runtime and Wafer timed
interleaved, and Wafer/ORT (below 1: Wafer is faster).
"""

from __future__ import annotations

from common import Function  # first: it sets GOMP_SPINCOUNT before torch loads
from norms import table
import torch
import torch.nn.functional as F


def activation(function):
    return lambda: Function(function)


# (name, one sample's shape, the layer)
LAYERS = [
    ("exp 197x768", (197, 768), activation(torch.exp)),
    ("GELU 197x3072 (ViT)", (197, 3072), activation(F.gelu)),
    ("GELU tanh 128x3072 (GPT-2)", (128, 3072), activation(lambda x: F.gelu(x, approximate="tanh"))),
    ("SiLU 128x2048 (LLaMA)", (128, 2048), activation(F.silu)),
    ("SiLU 32x112x112 (EfficientNet)", (32, 112, 112), activation(F.silu)),
    ("sigmoid 32x112x112", (32, 112, 112), activation(torch.sigmoid)),
    ("tanh 128x3072", (128, 3072), activation(torch.tanh)),
    ("softplus 128x3072", (128, 3072), activation(F.softplus)),
    ("Mish 64x56x56", (64, 56, 56), activation(F.mish)),
    ("ELU 64x56x56", (64, 56, 56), activation(F.elu)),
    ("hardswish 16x112x112 (MobileNet-v3)", (16, 112, 112), activation(F.hardswish)),
]


def main() -> None:
    table(LAYERS, __doc__)


if __name__ == "__main__":
    main()
