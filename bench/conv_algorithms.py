"""The plain convolutions of real models, each alone with its ReLU, by every algorithm Wafer has.

    python bench/conv_algorithms.py [--models squeezenet1_1,inception_v3] [--batches 1,8] [--threads 1]
                                    [--machine avx2] [--budget 0.5] [--layers 1,32,3,28;4,32,3,28]

Every distinct convolution with one group of the models, compiled alone three
ways, Wafer's default (wafer-winograd, wafer-direct-conv and wafer-im2col each
by its own rule), `conv-algorithm=im2col` and `conv-algorithm=direct`, and
timed interleaved with ONNX Runtime. It measures the rules that pick an
algorithm: a default slower than the faster forced one is a rule to revisit.
`--machine avx2` compiles AVX2 code (it runs on an AVX-512 host too).
`--layers` adds convolutions of no model, each `in,out,kernel,size[,padding]`
(stride 1), after the models' (`--models ''` for these alone): the first layers
of small CNNs, from one or a few channels. Columns:

    layer         Conv2d(in, out, kernel, stride, padding) at its input's height x width
    default       the strategy Wafer's compile report gives the convolution by default
    default ... ort  median ms
    def/best      the default over the faster of im2col and direct (above 1: a forced one is faster)
    def/ort       below 1: Wafer's default is faster than ONNX Runtime
"""

from __future__ import annotations

# common first: it sets GOMP_SPINCOUNT before torch loads
from common import distinct_layers, interleave, layer_bench_options, onnx_session
import torch

import wafer

ALGORITHMS = {"default": "auto", "im2col": "im2col", "direct": "direct"}


def plain_key(module: torch.nn.Module, x: torch.Tensor) -> tuple | None:
    """A convolution's shape if it has one group, else None."""
    if isinstance(module, torch.nn.Conv2d) and module.groups == 1:
        return (module.in_channels, module.out_channels, module.kernel_size, module.stride[0], module.padding,
                x.shape[-2], x.shape[-1])
    return None


def row(name: str, batch: int, key: tuple, layer: torch.nn.Module, x: torch.Tensor, args, machine: dict) -> str:
    """One convolution's line: each algorithm and ONNX Runtime, timed interleaved."""
    calls, strategy = {}, ""
    for column, algorithm in ALGORITHMS.items():
        compiled = wafer.compile(layer, (x,), target="cpu", threads=args.threads, conv_algorithm=algorithm, **machine)
        calls[column] = lambda c=compiled, a=x.numpy(): c(a)
        if column == "default":
            strategy = next(s for s in compiled.compile_report.strategies if "conv" in s or "matmul" in s)
    calls["ort"] = onnx_session(layer, (x,), args.threads)
    ms, _ = interleave(calls, args.budget)
    (cin, cout, (kh, kw), stride, (ph, pw), h, w) = key
    description = f"Conv2d({cin}, {cout}, {kh}x{kw}, {stride}, {ph}x{pw}) at {h}x{w}"
    return (f"{name:14} {batch:5} {description:46} {strategy[:30]:30} "
            + " ".join(f"{ms[c] * 1e3:8.3f}" for c in ("default", "im2col", "direct", "ort"))
            + f" {ms['default'] / min(ms['im2col'], ms['direct']):8.2f} {ms['default'] / ms['ort']:8.2f}")


def standalone_layers(specs: str, batches: list[int]):
    """(name, batch, key, layer + ReLU, an input) for each `in,out,kernel,size[,padding]`
    of `specs` (';'-separated)."""
    for spec in filter(None, specs.split(";")):
        cin, cout, kernel, size, padding = ([int(v) for v in spec.split(",")] + [0])[:5]
        for batch in batches:
            torch.manual_seed(0)
            layer = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, kernel, padding=padding), torch.nn.ReLU()).eval()
            key = (cin, cout, (kernel, kernel), 1, (padding, padding), size, size)
            yield "-", batch, key, layer, torch.randn(batch, cin, size, size)


def main() -> None:
    args, machine = layer_bench_options(__doc__, "squeezenet1_1,inception_v3,convnext_tiny",
                                        layers="extra convolutions, 'in,out,kernel,size[,padding];...'")
    batches = [int(b) for b in args.batches.split(",")]
    print(f"{'model':14} {'batch':>5} {'layer':46} {'default':30} {'default':>8} {'im2col':>8} {'direct':>8} "
          f"{'ort':>8} {'def/best':>8} {'def/ort':>8}")
    models = [name for name in args.models.split(",") if name]
    for layer in (*distinct_layers(models, batches, plain_key), *standalone_layers(args.layers, batches)):
        print(row(*layer, args, machine), flush=True)


if __name__ == "__main__":
    main()
