"""Whole models with wafer-channels-last on and off, side by side, and its depthwise kernels alone.

    python bench/channels_last.py [--models mobilenet_v2,efficientnet_b0,convnext_tiny]
                                  [--batches 1,8] [--threads 1,2] [--budget 8] [--layers]
                                  [--heads 512:1000:13,320:1280:7,...]

Each model is compiled with `cpu{channels-last=true}` (the default) and
`=false`, checked against each other, and timed interleaved. Columns:

    model, batch, threads
    chains      convolutions the pass ran channels-last (1x1 + depthwise)
    off, on     median ms per call with the pass off and on
    on/off      below 1: channels-last is faster
    compile s   compile seconds off / on

With --layers, each distinct depthwise convolution of the models, alone in its
own layout (NCHW for wafer-depthwise-conv, NHWC for wafer-depthwise-nhwc, no
transposes), at batch 1 and one thread: where the NHWC kernel itself wins and
loses, apart from the layout around it.

With --heads, classifier heads (1x1 convolution channels:classes at size x
size, ReLU, global average pool) at each batch and thread count, the pass off
and on: `nhwc` says whether it ran the head channels-last (results up to the
L2 per image).
"""

from __future__ import annotations

import argparse
import time

from common import interleave  # first: it sets GOMP_SPINCOUNT before torch loads
import numpy as np
import torch

import wafer
from wafer.passes.cpu_target import host
from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # before torchvision is imported


def model_row(name: str, batch: int, threads: int, budget: float) -> str:
    from zoo import build

    torch.set_num_threads(threads)
    model, inputs = build(name, batch)
    arrays = [x.numpy() for x in inputs]
    compiled, seconds = {}, {}
    for on in (False, True):
        start = time.perf_counter()
        compiled[on] = wafer.compile(model, inputs, threads=threads, channels_last=on)
        seconds[on] = time.perf_counter() - start
    np.testing.assert_allclose(compiled[True](*arrays), compiled[False](*arrays), rtol=1e-3, atol=1e-4)
    times, _ = interleave({on: (lambda c=c: c(*arrays)) for on, c in compiled.items()}, budget)
    chains = sum(s.startswith("channels-last") for s in compiled[True].compile_report.strategies)
    return (f"{name:16} {batch:5} {threads:7} {chains:6} {times[False] * 1e3:9.3f} {times[True] * 1e3:9.3f} "
            f"{times[True] / times[False]:6.2f} {seconds[False]:6.1f} / {seconds[True]:.1f}")


# Heads of SqueezeNet, MobileNet/EfficientNet, ResNet-50's last block, and larger images.
HEADS = "512:1000:13,320:1280:7,512:2048:7,256:1024:14,128:512:28,64:256:56"


def head_row(channels: int, classes: int, size: int, batch: int, threads: int, budget: float) -> str:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(channels, classes, 1), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    x = torch.randn(batch, channels, size, size)
    compiled = {on: wafer.compile(model, (x,), threads=threads, channels_last=on) for on in (False, True)}
    array = x.numpy()
    np.testing.assert_allclose(compiled[True](array), compiled[False](array), rtol=1e-4, atol=1e-5)
    times, _ = interleave({on: (lambda c=c: c(array)) for on, c in compiled.items()}, budget)
    nhwc = "channels-last 1x1 conv" in compiled[True].compile_report.strategies
    return (f"{channels:>5}->{classes:<5} {size:4} {batch:5} {threads:7} {'yes' if nhwc else 'no':>5} "
            f"{times[False] * 1e3:9.3f} {times[True] * 1e3:9.3f} {times[True] / times[False]:6.2f}")


def depthwise_layers(names: list[str]) -> list[tuple[int, int, int, int]]:
    """(channels, size, kernel, stride) of each distinct depthwise convolution of the models, at batch 1."""
    from zoo import build

    found = []

    def record(module, args, _):
        if isinstance(module, torch.nn.Conv2d) and module.groups == module.in_channels > 1:
            key = (module.in_channels, args[0].shape[-1], module.kernel_size[0], module.stride[0])
            if key not in found:
                found.append(key)

    for name in names:
        model, inputs = build(name, 1)
        hooks = [m.register_forward_hook(record) for m in model.modules()]
        with torch.no_grad():
            model(*inputs)
        for hook in hooks:
            hook.remove()
    return found


def depthwise_module(channels: int, size: int, kernel: int, stride: int, channels_last: bool) -> str:
    """A zero-padded depthwise convolution in one layout, as linalg (what the kernels see)."""
    pad, out = kernel // 2, (size + 2 * (kernel // 2) - kernel) // stride + 1
    if channels_last:
        x, padded, w, y = (f"1x{size}x{size}x{channels}", f"1x{size + 2 * pad}x{size + 2 * pad}x{channels}",
                           f"{kernel}x{kernel}x{channels}", f"1x{out}x{out}x{channels}")
        low, op, vec = f"[0, {pad}, {pad}, 0]", "depthwise_conv_2d_nhwc_hwc", "tensor"
    else:
        x, padded, w, y = (f"1x{channels}x{size}x{size}", f"1x{channels}x{size + 2 * pad}x{size + 2 * pad}",
                           f"{channels}x{kernel}x{kernel}", f"1x{channels}x{out}x{out}")
        low, op, vec = f"[0, 0, {pad}, {pad}]", "depthwise_conv_2d_nchw_chw", "vector"
    return f"""
func.func @forward(%x: tensor<{x}xf32>, %w: tensor<{w}xf32>) -> tensor<{y}xf32> {{
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low{low} high{low} {{
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  }} : tensor<{x}xf32> to tensor<{padded}xf32>
  %e = tensor.empty() : tensor<{y}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<{y}xf32>) -> tensor<{y}xf32>
  %r = linalg.{op} {{dilations = dense<1> : {vec}<2xi64>, strides = dense<{stride}> : {vec}<2xi64>}}
      ins(%p, %w : tensor<{padded}xf32>, tensor<{w}xf32>) outs(%init : tensor<{y}xf32>) -> tensor<{y}xf32>
  return %r : tensor<{y}xf32>
}}"""


def layer_row(channels: int, size: int, kernel: int, stride: int, budget: float) -> str:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, channels, size, size), dtype=np.float32)
    w = rng.standard_normal((channels, kernel, kernel), dtype=np.float32)
    nchw = wafer.compile_mlir(depthwise_module(channels, size, kernel, stride, False), threads=1)
    nhwc = wafer.compile_mlir(depthwise_module(channels, size, kernel, stride, True), threads=1)
    x_last, w_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(w.transpose(1, 2, 0))
    np.testing.assert_allclose(nhwc.forward(x_last, w_last).transpose(0, 3, 1, 2), nchw.forward(x, w),
                               rtol=1e-4, atol=1e-4)
    times, _ = interleave({"nchw": lambda: nchw.forward(x, w), "nhwc": lambda: nhwc.forward(x_last, w_last)}, budget)
    (tile,) = [s for s in nhwc.compile_report.strategies if s.startswith("depthwise nhwc")]
    return (f"{channels:8} {size:5} {kernel}x{kernel}/{stride} {times['nchw'] * 1e3:9.3f} {times['nhwc'] * 1e3:9.3f} "
            f"{times['nhwc'] / times['nchw']:6.2f}  {tile}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mobilenet_v2,efficientnet_b0,convnext_tiny")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=8.0, help="seconds of timed calls per row")
    parser.add_argument("--layers", action="store_true", help="time the depthwise kernels alone too")
    parser.add_argument("--heads", nargs="?", const=HEADS, help="time classifier heads channels:classes:size instead")
    args = parser.parse_args()
    names = args.models.split(",")
    print(host().describe())
    batches, threads = [int(b) for b in args.batches.split(",")], [int(t) for t in args.threads.split(",")]
    if args.heads:
        print(f"{'head':11} {'size':>4} {'batch':>5} {'threads':>7} {'nhwc':>5} {'off ms':>9} {'on ms':>9} "
              f"{'on/off':>6}")
        for head in args.heads.split(","):
            for batch in batches:
                for count in threads:
                    torch.set_num_threads(count)
                    print(head_row(*(int(v) for v in head.split(":")), batch, count, args.budget), flush=True)
        return
    print(f"{'model':16} {'batch':>5} {'threads':>7} {'chains':>6} {'off ms':>9} {'on ms':>9} {'on/off':>6} compile s")
    for name in names:
        for batch in batches:
            for count in threads:
                print(model_row(name, batch, count, args.budget), flush=True)
    if args.layers:
        torch.set_num_threads(1)
        print(f"\n{'channels':>8} {'size':>5} {'filter':6} {'NCHW ms':>9} {'NHWC ms':>9} {'ratio':>6}  NHWC tile")
        for layer in depthwise_layers(names):
            print(layer_row(*layer, budget=args.budget / 4), flush=True)


if __name__ == "__main__":
    main()
