"""A small CNN through Wafer: the graph it imports, what the CPU pipeline fused
and how it laid out memory, where a call's time goes, and the CPU next to the
simulated wafer.

    python examples/pytorch_integration_example.py [--batch 1] [--size 32] [--repeat 20]
"""

import argparse
import collections
import statistics
import time

import torch
from torch import nn

import wafer


class SmallCnn(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * (size // 4) ** 2, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=32, help="image height and width, a multiple of 4")
    parser.add_argument("--repeat", type=int, default=20, help="timed CPU calls")
    args = parser.parse_args()
    torch.manual_seed(0)
    model, x = SmallCnn(args.size).eval(), torch.randn(args.batch, 3, args.size, args.size)
    with torch.no_grad():
        expected = model(x)

    cpu = wafer.compile(model, (x,), target="cpu", threads=1, profile=True)  # profile: time each kernel
    imported = cpu.compile_report.stages[0].ops_after  # the "import" stage: the module torch-mlir made
    print("imported graph:", ", ".join(f"{n} {op}" for op, n in sorted(imported.items()) if op.startswith("linalg.")))
    print("\nCPU pipeline: what each stage did, the strategies the fusion and memory passes chose")
    print(cpu.compile_report.table())

    wse = wafer.compile(model, (x,), target="wse", machine="small")
    for name, compiled in (("cpu", cpu), ("wse", wse)):
        print(f"max |{name} - torch| = {(compiled(x) - expected).abs().max():.2e}")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        cpu(x)
        times.append(time.perf_counter() - start)
    latency = statistics.median(times)
    profile = cpu.executable.profile("forward", x.numpy(), repeat=args.repeat)
    print(f"\nwhere a CPU call's time goes ({args.repeat} calls):\n{profile.table()}")

    report = wse.report
    regions = collections.Counter(op.kind for op in report.ops)
    rows = [
        ("target", "latency", "GFLOP/s", "memory", "fused into"),
        ("cpu", f"{latency * 1e3:.3f} ms", f"{report.flops / latency / 1e9:.2f}",
         f"{cpu.last_peak_bytes / 2**20:.2f} MB heap peak", f"{len(profile.kernels)} kernels"),
        ("wse", f"{report.cycles:,.0f} cycles ({report.seconds * 1e6:.2f} us)", f"{report.flops_per_second / 1e9:.2f}",
         f"{report.sram_high_water_max:,} B SRAM per PE",
         f"{sum(regions.values())} regions: " + ", ".join(f"{n} {kind}" for kind, n in regions.items())),
    ]
    print(f"\n{report.flops:,.0f} FLOPs per call (as the wse cost model counts them)")
    for row in rows:
        print("  ".join(f"{cell:<{width}}" for cell, width in zip(row, (7, 30, 9, 26, 0))))


if __name__ == "__main__":
    main()
