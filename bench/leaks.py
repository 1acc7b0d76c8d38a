"""Does Wafer leak? Resident memory over many compiles and many calls in one process.

    python bench/leaks.py [--compiles 300] [--calls 10000] [--wse-compiles 50]

Four cases, each after its own warm-up (the first compile loads torch.export,
the importer and the JIT; the first calls fault in the heap):

    compile mlp (cpu)   wafer.compile of the bundled MLP, `--compiles` times
    call mlp (cpu)      one compiled MLP called `--calls` times with torch tensors
    call lenet (cpu)    the same for the bundled LeNet
    compile mlp (wse)   wafer.compile(..., target="wse"), `--wse-compiles` times

Each compiled model is dropped before the next compile. Resident memory
(/proc/self/statm) is read after a gc.collect() at the end of the warm-up and
at `--checkpoints` evenly spaced points. The columns:

    start MB    resident memory after the warm-up
    k/N MB      resident memory after k of the N iterations
    growth MB   last checkpoint minus start
    B/iter      that growth per iteration, in bytes
    objects     growth in the objects the garbage collector tracks, per iteration
    flat        B/iter under the case's limit: 50 KB a compile (15 MB over 300),
                100 B a call (1 MB over 10,000)

Exits 1 when a case is not flat.

What grows, and why it is not Wafer's: each torch.export keeps the source of
the GraphModules it generates (seven for the MLP) in torch.fx's eval cache
and in linecache for the life of the process, ~20 KB of Python objects and
~22 gc-tracked objects a compile (about 7 KB of resident memory). Dropping
those entries after each compile leaves resident memory flat; compiling the
MLP's linalg text with `wafer.compile_mlir` grows neither.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

import wafer
from wafer.examples.models import EXAMPLES

COMPILE_LIMIT_BYTES = 50 * 1024
CALL_LIMIT_BYTES = 100
COMPILE_WARMUP = 5
CALL_WARMUP = 200


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measurement:
    """Resident memory and gc-tracked objects at each checkpoint of one case."""

    case: str
    iterations: int
    limit_bytes: int
    resident: list[int] = field(default_factory=list)
    objects: list[int] = field(default_factory=list)

    def record(self) -> None:
        gc.collect()  # cyclic garbage is not a leak: count what survives a collection
        self.resident.append(resident_bytes())
        self.objects.append(len(gc.get_objects()))

    @property
    def growth_per_iteration(self) -> float:
        return (self.resident[-1] - self.resident[0]) / self.iterations

    @property
    def flat(self) -> bool:
        return self.growth_per_iteration < self.limit_bytes


def measure(case: str, step, iterations: int, warmup: int, checkpoints: int, limit_bytes: int) -> Measurement:
    """Run `step` `warmup` times, then `iterations` times, recording at each checkpoint."""
    for _ in tqdm(range(warmup), desc=f"{case} warm-up", leave=False):
        step()
    measurement = Measurement(case, iterations, limit_bytes)
    measurement.record()
    marks = {round(iterations * k / checkpoints) for k in range(1, checkpoints + 1)}
    for done in tqdm(range(1, iterations + 1), desc=case, leave=False):
        step()
        if done in marks:
            measurement.record()
    return measurement


def readable(size: int) -> str:
    return f"{size // 1024} KB" if size >= 1024 else f"{size} B"


def table(measurements: list[Measurement], checkpoints: int) -> str:
    marks = [f"{k}/{checkpoints} MB" for k in range(1, checkpoints + 1)]
    header = (f"{'case':18} {'N':>6} {'start MB':>9} " + " ".join(f"{m:>8}" for m in marks)
              + f" {'growth MB':>9} {'B/iter':>8} {'objects':>8}  flat")
    lines = [header]
    for m in measurements:
        mb = [f"{r / 2**20:8.1f}" for r in m.resident]
        objects = (m.objects[-1] - m.objects[0]) / m.iterations
        lines.append(f"{m.case:18} {m.iterations:6} {mb[0]:>9} " + " ".join(mb[1:])
                     + f" {(m.resident[-1] - m.resident[0]) / 2**20:9.2f} {m.growth_per_iteration:8.0f}"
                     + f" {objects:8.2f}  {'yes' if m.flat else 'NO'} (< {readable(m.limit_bytes)})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compiles", type=int, default=300, help="CPU compiles of the MLP (default: 300)")
    parser.add_argument("--calls", type=int, default=10_000, help="calls of each compiled model (default: 10000)")
    parser.add_argument("--wse-compiles", type=int, default=50, help="WSE compiles of the MLP (default: 50)")
    parser.add_argument("--checkpoints", type=int, default=5, help="resident-memory readings per case (default: 5)")
    args = parser.parse_args(argv)

    mlp, mlp_inputs = EXAMPLES["mlp"].build()
    lenet, lenet_inputs = EXAMPLES["lenet"].build()
    compiled_mlp = wafer.compile(mlp, mlp_inputs, target="cpu")
    compiled_lenet = wafer.compile(lenet, lenet_inputs, target="cpu")
    cases = [
        ("compile mlp (cpu)", lambda: wafer.compile(mlp, mlp_inputs, target="cpu"),
         args.compiles, COMPILE_WARMUP, COMPILE_LIMIT_BYTES),
        ("call mlp (cpu)", lambda: compiled_mlp(*mlp_inputs), args.calls, CALL_WARMUP, CALL_LIMIT_BYTES),
        ("call lenet (cpu)", lambda: compiled_lenet(*lenet_inputs), args.calls, CALL_WARMUP, CALL_LIMIT_BYTES),
        ("compile mlp (wse)", lambda: wafer.compile(mlp, mlp_inputs, target="wse"),
         args.wse_compiles, COMPILE_WARMUP, COMPILE_LIMIT_BYTES),
    ]
    with torch.no_grad():
        measurements = [measure(case, step, count, warmup, args.checkpoints, limit)
                        for case, step, count, warmup, limit in cases if count > 0]
    print(table(measurements, args.checkpoints))
    return 0 if all(m.flat for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
