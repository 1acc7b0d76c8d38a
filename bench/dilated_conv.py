"""Dilated convolutions of atrous segmentation nets: kept dilated, and on their phases, against ONNX Runtime.

    python bench/dilated_conv.py [--models fcn_resnet50,deeplabv3_resnet50] [--image-size 512]
                                 [--batches 1] [--threads 1] [--machine host] [--budget 0.5]

Each distinct dilated convolution of the torchvision segmentation models (their
ResNet backbones' 3x3 convolutions at rates 2 and 4, DeepLab's ASPP at 12, 24
and 36: one per channels, filters, rate and input size), behind a ReLU, is
compiled twice and timed interleaved with ONNX Runtime: as Wafer compiles it
(wafer-dilated-conv-phases computes it on its phases where wafer-winograd's
rule says Winograd pays there) and with that pass off (the convolution keeps
its dilation: im2col, or the taps that read inside the image, region by
region). Columns:

    conv            channels -> filters, rate, input height and width
    ort, dilated, wafer
                    median ms per call: ONNX Runtime, the pass off, as compiled
    wafer/dilated   below 1: the phases are faster
    wafer/ort       below 1: Wafer is faster
    strategy        the first strategy the compiled convolution reports
"""

from __future__ import annotations

from unittest import mock

from common import (  # first: sets GOMP_SPINCOUNT
    first_calls, interleave, layer_bench_options, onnx_session, print_layer_rows)
import torch

import wafer
from wafer.passes.dilated_conv_phases import DilatedConvPhases
from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # before torchvision is imported
IMAGE_SIZE = 512  # torchvision's segmentation references evaluate at 520; the 1/8 maps are then 64x64 or 65x65


def dilated_convs(name: str, size: int) -> list[tuple[str, torch.nn.Module, tuple[int, ...]]]:
    """(description, convolution, input shape at batch 1) of each distinct dilated
    convolution of the torchvision segmentation model `name` on `size`-wide images."""
    import torchvision.models.segmentation

    def describe(module, x, output):
        if isinstance(module, torch.nn.Conv2d) and module.dilation != (1, 1):
            return f"{x.shape[1]}->{output.shape[1]} rate {module.dilation[0]} at {x.shape[2]}x{x.shape[3]}"
        return None

    model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None).eval()
    found = first_calls(model, torch.randn(1, 3, size, size), describe)
    return [(key, module, shape) for key, (module, shape) in found.items()]


def row(description: str, conv: torch.nn.Module, shape: tuple[int, ...], batch: int, threads: int,
        budget: float, options: dict) -> str:
    torch.manual_seed(0)
    model = torch.nn.Sequential(conv, torch.nn.ReLU()).eval()
    x = torch.randn(batch, *shape[1:])
    array = x.numpy()
    phases = wafer.compile(model, (x,), threads=threads, **options)
    with mock.patch.object(DilatedConvPhases, "apply", lambda self, module: None):
        dilated = wafer.compile(model, (x,), threads=threads, **options)
    with torch.no_grad():
        expected = model(x)
    for compiled in (phases, dilated):
        torch.testing.assert_close(torch.as_tensor(compiled(array)), expected, rtol=1e-3, atol=1e-3)
    times, _ = interleave({"ort": onnx_session(model, (x,), threads), "dilated": lambda: dilated(array),
                           "wafer": lambda: phases(array)}, budget)
    strategy = phases.compile_report.strategies[0]
    return (f"{description:30} {batch:5} {times['ort'] * 1e3:9.3f} {times['dilated'] * 1e3:9.3f} "
            f"{times['wafer'] * 1e3:9.3f} {times['wafer'] / times['dilated']:13.3f} "
            f"{times['wafer'] / times['ort']:9.3f}  {strategy}")


def main() -> None:
    args, options = layer_bench_options(__doc__, "fcn_resnet50,deeplabv3_resnet50", image_size=IMAGE_SIZE)
    convs = {key: (key, conv, shape) for name in args.models.split(",")
             for key, conv, shape in dilated_convs(name, args.image_size)}
    print_layer_rows(f"{'conv':30} {'batch':>5} {'ort':>9} {'dilated':>9} {'wafer':>9} {'wafer/dilated':>13} "
                     f"{'wafer/ort':>9}  strategy", list(convs.values()), args, options, row)


if __name__ == "__main__":
    main()
