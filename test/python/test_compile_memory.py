"""Compiling a model over and over does not grow the process.

A compiled MLP holds ~3 MB (its 2.6 MB of weights, which the JIT-compiled code
reads in place, and the code), so keeping each of COMPILES compiles alive
would grow resident memory by ~120 MB. The bound, 12 MB, is four of them,
and several times what a run that leaks nothing grows by (1-2.6 MB): the heap
grows in steps of ~1.5 MB, and each torch.export keeps the source of the
GraphModules it generates in torch.fx's eval cache and in linecache for good
(under 10 KB of resident memory a compile; see bench/leaks.py).

Small leaks of Python objects hide in that slack, so Wafer's own compiler and
runtime are counted in objects the garbage collector tracks, compiling the
MLP's linalg text with `compile_mlir`: torch.export's retained sources are
~22 objects a compile that Wafer does not control.
"""

import gc
import logging
import os

import pytest

import wafer
from wafer.examples.models import EXAMPLES
from wafer.frontend import import_model

WARMUP = 5  # the first compiles load torch.export, the importer and the JIT, and grow the heap
COMPILES = 40
BOUND_BYTES = 12 * 2**20
OBJECT_COMPILES = 20


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def mlp():
    return EXAMPLES["mlp"].build()


def test_resident_memory_does_not_grow_over_compiles(mlp, monkeypatch):
    # pytest's log capture keeps every record of a test until it ends, and it reaches
    # torch.export's structured-trace logger: ~60 KB of records a compile that
    # a process outside pytest never holds.
    monkeypatch.setattr(logging.getLogger("torch.__trace"), "disabled", True)
    model, inputs = mlp
    for _ in range(WARMUP):
        wafer.compile(model, inputs, target="cpu")
    gc.collect()
    before = resident_bytes()
    for _ in range(COMPILES):
        wafer.compile(model, inputs, target="cpu")
    gc.collect()
    grown = resident_bytes() - before
    assert grown < BOUND_BYTES, f"resident memory grew by {grown / 2**20:.1f} MB over {COMPILES} compiles"


def test_no_python_objects_accumulate_over_compiles(mlp):
    linalg = str(import_model(*mlp))
    for _ in range(WARMUP):
        wafer.compile_mlir(linalg, target="cpu")
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(OBJECT_COMPILES):
        wafer.compile_mlir(linalg, target="cpu")
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < OBJECT_COMPILES // 4, f"{grown} more live objects after {OBJECT_COMPILES} compiles"
