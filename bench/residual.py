"""Residual blocks with their last contraction accumulating onto the residual, and with the residual added after it.

    python bench/residual.py [--models resnet50,regnet_x_800mf] [--batches 1,8] [--threads 1]
                             [--machine host] [--budget 0.5]

Each distinct residual block of the torchvision models (ResNet's basic and
bottleneck blocks, RegNet's: one per type, channels in, channels out and input
size), behind a ReLU so that its input is a temporary as in the model, is
compiled twice and timed interleaved: as Wafer compiles it (wafer-pack-matmul's
`accumulate_onto_residual` starts the last contraction from the residual and
writes its sums over it) and with that rewrite off (the residual added in the
contraction's epilogue, into a new buffer). Columns:

    block           the block's type, channels in -> out, and input height and width
    batch           images per call
    epilogue, onto  median ms per call, the residual added after and accumulated onto
    onto/epilogue   below 1: accumulating onto the residual is faster
    peak MB         each one's peak memory of a call (temporaries and result)
"""

from __future__ import annotations

from unittest import mock

from common import checked_times, first_calls, layer_bench_options, print_layer_rows  # first: sets GOMP_SPINCOUNT
import torch

import wafer
from wafer.passes import pack_matmul
from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # before torchvision is imported


def residual_blocks(name: str) -> list[tuple[str, torch.nn.Module, tuple[int, ...]]]:
    """(description, block, input shape at batch 1) of each distinct residual
    block of the torchvision model `name`, in the model's order."""
    import torchvision.models
    from torchvision.models.regnet import ResBottleneckBlock
    from torchvision.models.resnet import BasicBlock, Bottleneck

    def describe(module, x, output):
        if isinstance(module, (BasicBlock, Bottleneck, ResBottleneckBlock)):
            return f"{type(module).__name__} {x.shape[1]}->{output.shape[1]} at {x.shape[2]}x{x.shape[3]}"
        return None

    model = getattr(torchvision.models, name)(weights=None).eval()
    found = first_calls(model, torch.randn(1, 3, 224, 224), describe)
    return [(key, module, shape) for key, (module, shape) in found.items()]


def row(description: str, block: torch.nn.Module, shape: tuple[int, ...], batch: int, threads: int,
        budget: float, options: dict) -> str:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.ReLU(), block).eval()
    x = torch.randn(batch, *shape[1:])
    onto = wafer.compile(model, (x,), threads=threads, **options)
    with mock.patch.object(pack_matmul, "accumulate_onto_residual", lambda op: None):
        epilogue = wafer.compile(model, (x,), threads=threads, **options)
    times = checked_times(model, x, {"epilogue": epilogue, "onto": onto}, budget, atol=1e-3)
    peaks = [c.executable.last_peak_bytes / 2**20 for c in (epilogue, onto)]
    return (f"{description:36} {batch:5} {times['epilogue'] * 1e3:9.3f} {times['onto'] * 1e3:9.3f} "
            f"{times['onto'] / times['epilogue']:13.3f} {peaks[0]:9.1f} {peaks[1]:9.1f}")


def main() -> None:
    args, options = layer_bench_options(__doc__, "resnet50,regnet_x_800mf")
    blocks = [block for name in args.models.split(",") for block in residual_blocks(name)]
    print_layer_rows(f"{'block':36} {'batch':>5} {'epilogue':>9} {'onto':>9} {'onto/epilogue':>13} "
                     f"{'peak MB':>9} {'peak MB':>9}", blocks, args, options, row)


if __name__ == "__main__":
    main()
