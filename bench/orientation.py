"""Both orientations of each contraction of real models' convolutions and linears, side by side.

    python bench/orientation.py [--models resnet18,mobilenet_v2] [--batches 1,8] [--threads 1]
                                [--machine avx2] [--budget 0.5]

wafer-orient-contractions swaps a contraction's A and B when that saves
more of the packed kernel's padded work and copies into B panels than
transposing C costs. This measures whether
the swap pays: every distinct convolution (groups 1) and linear layer of the
models, at each batch, compiled alone with its ReLU, with the pass on
(`cpu{orient=true}`) and off, timed interleaved. wafer-direct-conv is off,
so the convolutions it would take stay im2col contractions. `--machine avx2`
compiles AVX2 code. Columns:

    layer       Conv2d(in, out, kernel, stride) at its input's height x width, or Linear(in, out)
    saving %    padded work and panel copies the swap saves, as a share of the padded work
                (the pass swaps when that outweighs transposing C)
    swapped     whether the pass swapped it
    off, on     median ms with the pass off and on
    on/off      below 1: the pass's choice is faster
"""

from __future__ import annotations

# common first: it sets GOMP_SPINCOUNT before torch loads
from common import distinct_layers, interleave, layer_bench_options
import torch

import wafer
from wafer.passes.cpu_target import resolve
from wafer.passes.orient_contractions import OrientContractions, padded_work, swap_saving
from wafer.passes.matmul_contraction import match_contraction
from wafer.passes.pass_base import find_ops

MODELS = ("resnet18", "mobilenet_v2", "efficientnet_b0", "squeezenet1_1", "convnext_tiny")


def layer_key(module: torch.nn.Module, x: torch.Tensor) -> tuple | None:
    """A conv (groups 1) or linear layer's shape, or None for other layers."""
    if isinstance(module, torch.nn.Conv2d) and module.groups == 1:
        return ("Conv2d", module.in_channels, module.out_channels, module.kernel_size[0], module.stride[0],
                x.shape[-2], x.shape[-1])
    if isinstance(module, torch.nn.Linear):
        return ("Linear", module.in_features, module.out_features, tuple(x.shape[:-1]))
    return None


def saving(model: torch.nn.Module, x: torch.Tensor, options: dict) -> float:
    """What the swap saves of the layer's contraction, in percent of its padded work."""
    module = wafer.frontend.import_model(model, (x,))
    from wafer.compiler import run_stages
    from wafer.pipelines.cpu import CpuPipeline

    pipeline = CpuPipeline.from_keywords(orient=False, **options)
    stages = [(n, t) for n, t in pipeline.stages() if n in ("verify", "simplify")]
    run_stages(module, stages + [("contractions", pipeline.contraction_passes())])
    cpu = resolve(options.get("machine", "host"))
    for op in find_ops(module.operation, lambda op: True):
        contraction = match_contraction(op.opview)
        if contraction is not None:
            return 100 * swap_saving(contraction, cpu, OrientContractions.copy_cost) / padded_work(contraction, cpu)
    return 0.0


def main() -> None:
    args, machine = layer_bench_options(__doc__, "resnet18,mobilenet_v2,efficientnet_b0")
    # The orientation is im2col's: convolutions wafer-direct-conv would take stay contractions.
    options = {"direct_conv": False, **machine}
    print(f"{'model':15} {'batch':>5} {'layer':36} {'saving %':>8} {'swapped':>7} {'off ms':>8} {'on ms':>8} {'on/off':>6}")
    batches = [int(b) for b in args.batches.split(",")]
    for name, batch, key, layer, x in distinct_layers(args.models.split(","), batches, layer_key):
        compiled = {orient: wafer.compile(layer, (x,), target="cpu", threads=args.threads, orient=orient, **options)
                    for orient in (False, True)}
        strategy = compiled[True].compile_report.table()
        times, _ = interleave({o: (lambda c=c, a=x.numpy(): c(a)) for o, c in compiled.items()}, args.budget)
        description = f"{key[0]}{key[1:]}"
        print(f"{name:15} {batch:5} {description:36} {saving(layer, x, options):8.1f} "
              f"{'yes' if 'oriented' in strategy else 'no':>7} {times[False] * 1e3:8.3f} "
              f"{times[True] * 1e3:8.3f} {times[True] / times[False]:6.2f}", flush=True)


if __name__ == "__main__":
    main()
