"""Model-zoo benchmark: real networks through torch eager, torch.compile, ONNX Runtime and Wafer, in one table.

    pip install -e '.[bench]'
    python bench/zoo.py [--threads 1,2] [--batches 1,8] [--models resnet18,gpt2,mlp] [--budget 1.0]
                        [--image-size 224]

The models: torchvision's resnet18, mobilenet_v2, efficientnet_b0,
squeezenet1_1, convnext_tiny and vit_b_16 (random weights, 224x224 images, or
--image-size: at 299 their feature maps are 149, 75, 38, 19 and 10 wide, not
the 112, 56, 28, 14 and 7 the strategies were first tried on; ViT's size must
be a multiple of its 16-pixel patches);
Hugging Face's BERT (4 layers) and GPT-2 (4 layers), built from their configs
with random weights, on 128 int64 token ids, returning last_hidden_state; and
the bundled examples (lenet, mlp, resnet-block, transformer). Nothing is
downloaded. `--models held-out` runs models none of Wafer's rules were tried
on when written (more torchvision classifiers, and ten other transformers
architectures, from DistilBERT to Llama and Mistral); `--models moe` three
mixtures of experts (Mixtral, Qwen3-MoE, OLMoE); any torchvision
classifier can be named. A vision model's batch norms get statistics measured
on random images, so that its output depends on its input (`calibrate_batch_norms`).

Backends get the same threads and are timed interleaved, call by call, as in
bench/cpu.py (whose docstring says why every thread pool sleeps between calls).
The columns:

    GFLOP       FLOPs of one call, counted by torch's FlopCounterMode
    eager, torch.compile, onnxruntime, wafer
                median ms per call of each backend
    wafer/best  Wafer's time over the fastest other backend's (below 1: Wafer is fastest)
    wafer GF/s  Wafer's GFLOP/s
    % peak      Wafer's GFLOP/s as a share of the machine's measured peak: the best
                of five 2048^3 matmuls by torch.mm or ONNX Runtime at that thread
                count, printed in the header
    compile s   Wafer's compile time, after the process's first compile (printed once)
    max err     largest absolute difference between Wafer's result and eager's
    peak MB     Wafer's peak heap memory of a call (`last_peak_bytes`)
    failures    each backend that could not export, compile or run, and why (first line)

A backend that fails leaves its column `-` and the row goes on with the others;
a model that fails in eager prints its reason alone.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

from common import (  # first: it sets GOMP_SPINCOUNT before torch loads
    COLUMNS, compile_wafer, count_flops, interleave, max_error, onnx_session, process_start_up, timed, torch_compiled)
import torch

import wafer
from wafer.examples.models import EXAMPLES
from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # before torchvision or transformers is imported

VISION = ("resnet18", "mobilenet_v2", "efficientnet_b0", "squeezenet1_1", "convnext_tiny", "vit_b_16")
TEXT = {  # built from the `transformers` module, imported only when a text model is asked for
    "bert": lambda t: t.BertModel(t.BertConfig(num_hidden_layers=4)),
    "gpt2": lambda t: t.GPT2Model(t.GPT2Config(n_layer=4)),
}
MODELS = (*VISION, *TEXT, *EXAMPLES)
# Models no strategy was tried on while it was written (`--models held-out`): the
# test of a rule is a model it was not fitted to. Any other torchvision
# classifier can be named too. Text models: 4 layers, at most BERT-base's width and GPT-2's vocabulary.
HELD_OUT_VISION = ("resnet50", "densenet121", "shufflenet_v2_x1_0", "mnasnet1_0", "regnet_y_400mf", "googlenet",
                   "mobilenet_v3_small", "resnext50_32x4d", "swin_t", "efficientnet_v2_s", "inception_v3", "alexnet")
_SMALL_LLM = dict(num_hidden_layers=4, hidden_size=768, intermediate_size=2048, num_attention_heads=12,
                  num_key_value_heads=4)
HELD_OUT_TEXT = {
    "distilbert": lambda t: t.DistilBertModel(t.DistilBertConfig(n_layers=4)),
    "roberta": lambda t: t.RobertaModel(t.RobertaConfig(num_hidden_layers=4)),
    "albert": lambda t: t.AlbertModel(t.AlbertConfig(num_hidden_layers=4, hidden_size=768, intermediate_size=3072,
                                                     num_attention_heads=12)),
    "electra": lambda t: t.ElectraModel(t.ElectraConfig(num_hidden_layers=4)),
    "t5-encoder": lambda t: t.T5EncoderModel(t.T5Config(num_layers=4)),
    "opt": lambda t: t.OPTModel(t.OPTConfig(num_hidden_layers=4)),
    "gpt-neo": lambda t: t.GPTNeoModel(t.GPTNeoConfig(num_layers=4, hidden_size=768, num_heads=12,
                                                      attention_types=[[["global", "local"], 2]])),
    "bloom": lambda t: t.BloomModel(t.BloomConfig(n_layer=4, hidden_size=768, n_head=12, vocab_size=50257)),
    "llama": lambda t: t.LlamaModel(t.LlamaConfig(**_SMALL_LLM)),
    "mistral": lambda t: t.MistralModel(t.MistralConfig(**_SMALL_LLM)),
    "fnet": lambda t: t.FNetModel(t.FNetConfig(num_hidden_layers=4)),
}
HELD_OUT = (*HELD_OUT_VISION, *HELD_OUT_TEXT)
# Mixtures of experts (`--models moe`): their grouped products are wafer/grouped_matmuls.py's; 4 layers,
# GPT-2's vocabulary, experts of Mixtral's, Qwen3-MoE's and OLMoE's counts and top-k.
_SMALL_MOE = dict(num_hidden_layers=4, hidden_size=768, num_attention_heads=12, num_key_value_heads=4,
                  vocab_size=50257)
MIXTURES_OF_EXPERTS = {
    "mixtral": lambda t: t.MixtralModel(t.MixtralConfig(**_SMALL_MOE, intermediate_size=1024, num_local_experts=8,
                                                        num_experts_per_tok=2)),
    "qwen3-moe": lambda t: t.Qwen3MoeModel(t.Qwen3MoeConfig(**_SMALL_MOE, moe_intermediate_size=512, num_experts=16,
                                                            num_experts_per_tok=4, head_dim=64)),
    "olmoe": lambda t: t.OlmoeModel(t.OlmoeConfig(**_SMALL_MOE, intermediate_size=512, num_experts=32,
                                                  num_experts_per_tok=4)),
}
# Classifiers whose torchvision defaults want pretrained weights or another image size.
_VISION_OPTIONS = {"googlenet": dict(aux_logits=False, init_weights=False),
                   "inception_v3": dict(aux_logits=False, init_weights=False)}
_IMAGE_SIZE = {"inception_v3": 299}
TOKENS = 128
CALIBRATION_BATCH = 4  # images a batch norm's statistics are measured over
PEAK_N = 2048
NOTE_WIDTH = 100
NAME_WIDTH = max(map(len, (*MODELS, *HELD_OUT, *MIXTURES_OF_EXPERTS)))


class LastHiddenState(torch.nn.Module):
    """A Hugging Face model returning one tensor: its ModelOutput (and GPT-2's cache) is not a tensor."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(input_ids=ids, use_cache=False).last_hidden_state


def calibrate_batch_norms(model: torch.nn.Module, images: torch.Tensor) -> None:
    """Set each batch norm's running statistics to its input's over `images`, as
    training leaves them. With random weights and the initial statistics (mean
    0, variance 1), activations shrink or grow layer by layer until the output
    hardly depends on the input (inception_v3's moved by 4e-9 between two
    images), and the max error column could not show a wrong answer."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: over this one batch, its statistics
    model.train()
    with torch.no_grad():
        model(images)


def torchvision_classifiers() -> list[str]:
    import torchvision.models

    return torchvision.models.list_models(module=torchvision.models)


def known(name: str) -> bool:
    return name in MODELS or name in HELD_OUT_TEXT or name in MIXTURES_OF_EXPERTS or name in torchvision_classifiers()


def build(name: str, batch: int, image_size: int | None = None, tokens: int = TOKENS):
    """`name`'s model, random weights, in eval mode, and inputs of `batch`; a
    vision model's images `image_size` wide (its default: 224, or what it needs),
    a text model's sequences `tokens` long."""
    torch.manual_seed(0)
    if name in EXAMPLES:
        return EXAMPLES[name].build(batch)
    text = TEXT.get(name) or HELD_OUT_TEXT.get(name) or MIXTURES_OF_EXPERTS.get(name)
    if text is None:
        import torchvision.models

        size = image_size or _IMAGE_SIZE.get(name, 224)
        sized = {"image_size": size} if name.startswith("vit") else {}
        model = getattr(torchvision.models, name)(weights=None, **sized, **_VISION_OPTIONS.get(name, {}))
        calibrate_batch_norms(model, torch.randn(CALIBRATION_BATCH, 3, size, size))
        return model.eval(), (torch.randn(batch, 3, size, size),)
    import transformers

    model = LastHiddenState(text(transformers)).eval()
    return model, (torch.randint(0, model.model.config.vocab_size, (batch, tokens)),)


def one_line(err: Exception) -> str:
    """The first line of `err`; a WaferError's message already says what failed."""
    lines = [line for line in str(err).splitlines() if line.strip()] or [""]
    return lines[0] if isinstance(err, wafer.WaferError) else f"{type(err).__name__}: {lines[0]}"


def model_names(text: str) -> list[str]:
    """The names in `text` (comma-separated), 'held-out' and 'moe' standing for those sets."""
    sets = {"held-out": HELD_OUT, "moe": tuple(MIXTURES_OF_EXPERTS)}
    return [name for word in text.split(",") if word for name in sets.get(word, [word])]


def bench_row(name: str, batch: int, threads: int, budget: float, image_size: int | None = None,
              tokens: int = TOKENS) -> dict:
    model, inputs = build(name, batch, image_size, tokens)
    arrays = [x.numpy() for x in inputs]  # like ORT's feeds: each backend's own array type
    compiled = compile_seconds = None

    def make_wafer():
        nonlocal compiled, compile_seconds
        compiled, compile_seconds = compile_wafer(model, inputs, threads)
        return partial(compiled, *arrays)

    makers = {
        "torch.compile": lambda: partial(torch_compiled(model, inputs), *inputs),
        "onnxruntime": lambda: onnx_session(model, inputs, threads),
        "wafer": make_wafer,
    }
    backends, failures = {"eager": partial(model, *inputs)}, {}
    for key, make in makers.items():
        try:
            fn = make()
            with torch.no_grad():
                fn()  # a backend that builds but cannot run fails here, not in the timing loop
            backends[key] = fn
        except Exception as err:  # exporters, compilers and runtimes raise many kinds
            failures[key] = one_line(err)
    medians, _ = interleave(backends, budget)
    row = dict(name=name, batch=batch, times=medians, flops=count_flops(model, inputs), failures=failures)
    if "wafer" in backends:
        row.update(compile=compile_seconds, error=max_error(compiled, model, inputs), peak=compiled.last_peak_bytes)
    return row


def measured_peak(threads: int) -> float:
    """GFLOP/s of the best of five PEAK_N^3 matmuls at `threads`, by torch.mm or
    ONNX Runtime, whichever is faster: torch's BLAS can run far below the machine
    (MKL reached 92 GFLOP/s on one Zen 5 core where ONNX Runtime reached 200)."""
    a, b = torch.randn(PEAK_N, PEAK_N), torch.randn(PEAK_N, PEAK_N)
    runtime = onnx_session(Matmul(b), (a,), threads)
    best = min(min(timed(lambda: torch.mm(a, b)), timed(runtime)) for _ in range(5))
    return 2 * PEAK_N**3 / best / 1e9


class Matmul(torch.nn.Module):
    """x @ b, b a weight: the peak's matmul for ONNX Runtime."""

    def __init__(self, b: torch.Tensor):
        super().__init__()
        self.b = torch.nn.Parameter(b)

    def forward(self, x):
        return x @ self.b


HEADER = (f"{'workload':{NAME_WIDTH}} {'batch':>5} {'GFLOP':>7} " + " ".join(f"{c:>13}" for c in COLUMNS)
          + f" {'wafer/best':>10} {'wafer GF/s':>10} {'% peak':>6} {'compile s':>9} {'max err':>8} {'peak MB':>8}"
          " failures")


def print_header(threads: int, peak: float) -> None:
    print(f"\nthreads={threads}: median ms of interleaved calls; % peak is of this machine's measured peak, "
          f"{peak:.1f} GFLOP/s (best of five {PEAK_N}^3 matmuls, torch.mm or ONNX Runtime)")
    print(HEADER)
    print("-" * len(HEADER))


def print_row(r: dict, peak: float) -> None:
    t = r["times"]
    gflop = r["flops"] / 1e9
    others = [t[c] for c in COLUMNS if c in t and c != "wafer"]
    ratio = f"{t['wafer'] / min(others):10.2f}" if "wafer" in t and others else f"{'-':>10}"
    wafer_columns = (f"{gflop / t['wafer']:10.1f} {100 * gflop / t['wafer'] / peak:6.1f} {r['compile']:9.2f}"
             f" {r['error']:8.1g} {r['peak'] / 2**20:8.2f}" if "wafer" in t
             else f"{'-':>10} {'-':>6} {'-':>9} {'-':>8} {'-':>8}")
    notes = "; ".join(f"{key}: {reason}" for key, reason in r["failures"].items())
    print(f"{r['name']:{NAME_WIDTH}} {r['batch']:5} {gflop:7.3f} "
          + " ".join(f"{t[c] * 1e3:13.3f}" if c in t else f"{'-':>13}" for c in COLUMNS)
          + f" {ratio} {wafer_columns} {notes[:NOTE_WIDTH]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help="names, 'held-out' for models no strategy was tried on, or 'moe'")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls per row")
    parser.add_argument("--image-size", type=int, help="height and width of the vision models' images")
    parser.add_argument("--tokens", type=int, default=TOKENS, help="length of the text models' sequences")
    args = parser.parse_args()
    names = model_names(args.models)
    unknown = [name for name in names if not known(name)]
    if unknown:
        parser.error(f"unknown models {', '.join(unknown)}; the zoo has {', '.join(MODELS)}, the held-out set "
                     f"{', '.join(HELD_OUT)}, the mixtures of experts {', '.join(MIXTURES_OF_EXPERTS)}, "
                     "and any torchvision classifier")
    start = time.perf_counter()
    print(f"first compile in this process (torch.export and the importer start up, once): "
          f"{process_start_up():.2f} s; 'compile s' below is each model's own, after it")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        peak = measured_peak(threads)
        print_header(threads, peak)
        for name in names:
            for batch in (int(b) for b in args.batches.split(",")):
                try:
                    print_row(bench_row(name, batch, threads, args.budget, args.image_size, args.tokens), peak)
                except Exception as err:  # a model eager cannot run, or whose FLOPs cannot be counted
                    print(f"{name:{NAME_WIDTH}} {batch:5} failed: {one_line(err)[:NOTE_WIDTH]}", flush=True)
    print(f"\ntotal benchmark time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
