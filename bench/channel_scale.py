"""Squeeze-excite's gated 1x1 convolutions with their gates folded into the filters and with the image scaled.

    python bench/channel_scale.py [--models efficientnet_b0,regnet_y_800mf,mobilenet_v3_large]
                                  [--batches 1,16] [--threads 1] [--machine host] [--budget 0.5]

Each distinct 1x1 convolution that reads a squeeze-excite block's output in
the models (C channels in, F filters, an HxW image) is compiled alone behind
its gate, once with wafer-fold-channel-scale folding the gates into the filters
and once with the gated image computed, and timed interleaved. Columns:

    C, F, HW        the convolution's channels, filters and pixels
    F/HW            filters per pixel, what the pass's rule reads
    image, folded   median ms per call, the image scaled and the gates folded
    folded/image    below 1: folding is faster
    rule            what wafer-fold-channel-scale picks
"""

from __future__ import annotations

import math

from common import checked_times, layer_bench_options, print_layer_rows  # first: it sets GOMP_SPINCOUNT before torch loads
import torch

import wafer
from wafer.passes import fold_channel_scale
from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # before torchvision is imported


class GatedProjection(torch.nn.Module):
    """A squeeze-excite gate over the image, then the 1x1 convolution that reads it."""

    def __init__(self, channels: int, filters: int):
        super().__init__()
        from torchvision.ops.misc import SqueezeExcitation

        self.gate = SqueezeExcitation(channels, max(1, channels // 4))
        self.project = torch.nn.Conv2d(channels, filters, 1)

    def forward(self, x):
        return self.project(self.gate(x))


def gated_convolutions(name: str) -> list[tuple[int, int, int]]:
    """(channels, filters, pixels) of each distinct 1x1 convolution that reads a
    squeeze-excite block's output in the torchvision model `name`."""
    import torchvision.models
    from torchvision.ops.misc import SqueezeExcitation

    model = getattr(torchvision.models, name)(weights=None).eval()
    gated, found = [], []

    def gate_output(module, args, output):
        gated.append(output)

    def convolution(module, args, output):
        x = args[0]
        if module.kernel_size == (1, 1) and any(x is g for g in gated):
            key = (module.in_channels, module.out_channels, x.shape[2] * x.shape[3])
            if key not in found:
                found.append(key)

    hooks = [m.register_forward_hook(gate_output if isinstance(m, SqueezeExcitation) else convolution)
             for m in model.modules() if isinstance(m, (SqueezeExcitation, torch.nn.Conv2d))]
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    for hook in hooks:
        hook.remove()
    return found


def compile_with_rule(model, inputs, fraction: float, **options):
    """`model` compiled with the pass folding where F/HW is at most `fraction`."""
    rule = fold_channel_scale.FOLD_MAX_FILTERS_PER_PIXEL
    fold_channel_scale.FOLD_MAX_FILTERS_PER_PIXEL = fraction
    try:
        return wafer.compile(model, inputs, **options)
    finally:
        fold_channel_scale.FOLD_MAX_FILTERS_PER_PIXEL = rule


def row(channels: int, filters: int, pixels: int, batch: int, threads: int, budget: float, options: dict) -> str:
    torch.manual_seed(0)
    side = math.isqrt(pixels)
    model, x = GatedProjection(channels, filters).eval(), torch.randn(batch, channels, side, side)
    image = compile_with_rule(model, (x,), 0.0, threads=threads, **options)
    folded = compile_with_rule(model, (x,), math.inf, threads=threads, **options)
    times = checked_times(model, x, {"image": image, "folded": folded}, budget, atol=1e-4)
    ratio = filters / pixels
    rule = "fold" if ratio <= fold_channel_scale.FOLD_MAX_FILTERS_PER_PIXEL else "scale image"
    return (f"{channels:6} {filters:6} {pixels:6} {ratio:6.3f} {batch:5} {times['image'] * 1e3:9.3f} "
            f"{times['folded'] * 1e3:9.3f} {times['folded'] / times['image']:12.3f}  {rule}")


def main() -> None:
    args, options = layer_bench_options(__doc__, "efficientnet_b0,regnet_y_800mf,mobilenet_v3_large")
    layers = sorted({key for name in args.models.split(",") for key in gated_convolutions(name)},
                    key=lambda key: key[1] / key[2])
    print_layer_rows(f"{'C':>6} {'F':>6} {'HW':>6} {'F/HW':>6} {'batch':>5} {'image ms':>9} {'folded ms':>9} "
                     f"{'folded/image':>12}  rule", layers, args, options, row)


if __name__ == "__main__":
    main()
