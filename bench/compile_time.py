"""Compile time by stage: zoo models, and GPT-2 and BERT by number of layers, in one table.

    pip install -e '.[bench]'
    python bench/compile_time.py [--models resnet18,mobilenet_v2,gpt2:2,gpt2:4,gpt2:8,gpt2:12] [--threads 2]

A model is a name of bench/zoo.py (batch 1; `held-out` names that set), or
`gpt2:N` / `bert:N`: the transformers model built from its config with N
layers, on 128 tokens. Each row is one `wafer.compile` in this process, after
a first compile that pays the process's one-time start-up (torch.export, the
importer). The columns:
the total seconds, then each pipeline stage's seconds from the compile report
(import is torch.export plus torch-mlir's lowering to linalg; jit binds the
weights and has LLVM compile the module). Compile time should grow with the
number of layers no faster than linearly.
"""

from __future__ import annotations

import argparse
import time

import common  # noqa: F401 -- first: it sets GOMP_SPINCOUNT before torch loads
import torch

import wafer
from zoo import TOKENS, LastHiddenState, build, known, model_names

DEFAULT = ("resnet18", "mobilenet_v2", "efficientnet_b0", "convnext_tiny", "vit_b_16",
           "bert:4", "gpt2:2", "gpt2:4", "gpt2:8", "gpt2:12")
LAYERS = {"gpt2": ("GPT2Model", "GPT2Config", "n_layer"), "bert": ("BertModel", "BertConfig", "num_hidden_layers")}


def model_of(spec: str):
    """The model and inputs that `spec` names (see the module docstring)."""
    name, _, layers = spec.partition(":")
    if not layers:
        return build(name, 1)
    if name not in LAYERS:
        raise SystemExit(f"error: --models: '{spec}': only {', '.join(LAYERS)} take a number of layers")
    import transformers

    model_class, config_class, key = LAYERS[name]
    torch.manual_seed(0)
    config = getattr(transformers, config_class)(**{key: int(layers)})
    model = LastHiddenState(getattr(transformers, model_class)(config)).eval()
    return model, (torch.randint(0, config.vocab_size, (1, TOKENS)),)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    specs = model_names(args.models)
    unknown = [s for s in specs if not known(s) and s.partition(":")[0] not in LAYERS]
    if unknown:
        raise SystemExit(f"error: --models: unknown {', '.join(unknown)}")
    start = time.perf_counter()
    wafer.compile(*build("lenet", 1), threads=args.threads)
    print(f"first compile in this process (start-up, once): {time.perf_counter() - start:.2f} s")
    rows = []
    for spec in specs:
        model, inputs = model_of(spec)
        start = time.perf_counter()
        compiled = wafer.compile(model, inputs, threads=args.threads)
        total = time.perf_counter() - start
        rows.append((spec, total, {stage.name: stage.seconds for stage in compiled.compile_report.stages}))
    stages = list(dict.fromkeys(name for _, _, seconds in rows for name in seconds))
    print(f"\nthreads={args.threads}: seconds")
    print(f"{'model':18s} {'total':>7s} " + " ".join(f"{name:>9s}" for name in stages))
    for spec, total, seconds in rows:
        print(f"{spec:18s} {total:7.2f} " + " ".join(f"{seconds.get(name, 0):9.2f}" for name in stages))


if __name__ == "__main__":
    main()
