"""How many rows of register blocks read weights streamed from L3 faster with
K whole than in blocks, measured on this host.

`matmul_plan.k_tiled` loops a deep K in blocks so that a cache tile's B
panels stay in L2 while its rows of register blocks go by. Weights bigger
than L2 come from L3 on every call anyway: read by only a few rows of
blocks, the blocks save little and interleave the tile's panels in runs of
one block's rows. Which of the two reads faster, and up to how many rows, is
a property of the memory system, not of the ISA: K whole won up to four rows
on a Zen 5, won at one row and tied at two to four (by shape) on a Zen 4, and
lost already at two on an Intel AVX-512 Xeon (bench/kernel_tiles.py prints
both for the host). So a linear layer whose weights outgrow L2 is compiled
both ways, at 1, 2 and 4 rows of blocks, and timed interleaved, only when a
contraction asks (the weights of a batch-8 classifier head, an LLM's decode).
The answer is kept per CPU (the tuning database's key) in
`measurements_path()`: the probe runs once a machine, not once a process.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from .atomic_file import write_atomically
from .passes.cpu_target import F32_BYTES, CpuTarget, host, host_flags
from .passes.kernel_defaults import STREAMED_PROBE_ROWS
from .tuning.database import MIN_GAIN, cpu_key
from .tuning.measure import ContractionBench, Workload, time_interleaved
from .tuning.signature import ContractionSignature
from .tuning.space import default_choice

# Deep enough for blocks of 128 and 256, shallow enough to compile in a blink.
DEPTH = 2048
# Weights this many times L2 (at most halfway from L2 to L3): from L3 on every call.
L2_MULTIPLE = 4
BUDGET_S = 0.3
MEASUREMENTS = "host-measurements.json"
# An option value that keeps K whole at every probed row count.
WHOLE = STREAMED_PROBE_ROWS[-1]


def measurements_path() -> Path:
    """Where measurements of this machine are kept: $WAFER_CACHE_DIR, else
    $XDG_CACHE_HOME/wafer, else ~/.cache/wafer."""
    if os.environ.get("WAFER_CACHE_DIR"):
        return Path(os.environ["WAFER_CACHE_DIR"]) / MEASUREMENTS
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wafer" / MEASUREMENTS


@functools.cache
def streamed_b_rows() -> int:
    """This host's `measure_streamed_b_rows`, as recorded for its CPU, else
    measured and recorded (where the file cannot be written, for this process only)."""
    path, key = measurements_path(), cpu_key(host(), host_flags())
    recorded = _recorded(path)
    if isinstance(recorded.get(key), int):
        return recorded[key]
    recorded[key] = measure_streamed_b_rows(host())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps({"streamed_b_rows": recorded}, indent=1) + "\n")
    except OSError:
        pass
    return recorded[key]


def _recorded(path: Path) -> dict:
    """The file's {CPU key: rows}; empty where it is missing or not such a file."""
    try:
        table = json.loads(path.read_text())["streamed_b_rows"]
    except (OSError, ValueError, TypeError, KeyError):
        return {}
    return table if isinstance(table, dict) else {}


def measure_streamed_b_rows(cpu: CpuTarget) -> int:
    """The most rows of `STREAMED_PROBE_ROWS`, from one up, at which K in blocks
    did not beat K whole by the tuner's `MIN_GAIN` over weights streamed from L3
    (a tie is noise, and at model level whole won the ties: see
    bench/kernel_tiles.py); 0 where blocks won at one row, or where the host
    has no cache beyond L2 (nothing streams from it)."""
    if cpu.last_level_bytes <= cpu.l2_bytes:
        return 0
    most = 0
    for rows in STREAMED_PROBE_ROWS:
        whole_ms, blocks_ms = probe(cpu, rows)
        if blocks_ms < (1 - MIN_GAIN) * whole_ms:
            break
        most = rows
    return most


def probe(cpu: CpuTarget, rows: int) -> tuple[float, float]:
    """Median ms of the probe's linear layer at `rows` rows of register blocks, K whole and in blocks."""
    bench = ContractionBench(Workload(probe_signature(cpu, rows)))
    choice = default_choice(cpu)
    calls = {"whole": bench.compile(choice, streamed_b_rows=WHOLE),
             "blocks": bench.compile(choice, streamed_b_rows=0)}
    seconds = time_interleaved(calls, BUDGET_S)
    return 1e3 * seconds["whole"], 1e3 * seconds["blocks"]


def probe_signature(cpu: CpuTarget, rows: int) -> ContractionSignature:
    """A single-threaded linear layer of `rows` rows of `cpu`'s register blocks
    whose weights outgrow L2 and fit L3, `DEPTH` deep, N whole register blocks wide."""
    mr, nr = cpu.register_tile
    weight_bytes = min(L2_MULTIPLE * cpu.l2_bytes, (cpu.l2_bytes + cpu.last_level_bytes) // 2)
    n = weight_bytes // (F32_BYTES * DEPTH) // nr * nr
    return ContractionSignature(1, rows * mr, n, DEPTH, True, 1)
