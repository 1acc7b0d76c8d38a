"""The JIT compiles shares of the kernels in engines of their own, from threads, and the glue
linked to them (wafer/parallel_jit.py)."""

import contextlib

import numpy as np
import pytest
import torch
from test_bad_calls import INDEX, INDEXING, TABLE, Indexed
from torch_mlir import ir
from torch_reference import compile_checked

import wafer
from wafer.compiler import lower_for_cpu
from wafer.frontend import import_model
from wafer.parallel_jit import kernels_compiled_apart
from wafer.symbols import ASSERT_FAILED, OUTLINED_KERNEL

WORKERS = 3  # more than this host may have: the split does not depend on the cores


def _convolutions() -> tuple[torch.nn.Module, tuple[torch.Tensor]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(32768, 10))
    return model.eval(), (torch.randn(1, 16, 32, 32),)


@pytest.fixture
def apart(monkeypatch) -> dict[str, int]:
    """Compile with WORKERS shares, whatever the host has; what the shares' engines
    defined fills the dict."""
    monkeypatch.setattr(wafer.cpu_runtime, "available_cores", lambda: WORKERS)
    defined = {}

    @contextlib.contextmanager
    def recorded(*args):
        with kernels_compiled_apart(*args) as (engines, symbols):
            defined.update(symbols)
            yield engines, symbols

    monkeypatch.setattr(wafer.cpu_runtime, "kernels_compiled_apart", recorded)
    return defined


def _lowered(threads: int):
    model, inputs = _convolutions()
    module = import_model(model, inputs)
    lower_for_cpu(module, threads=threads, wake_instructions=0)  # parallel, however short
    return module


def _kernel_bodies(module) -> list[str]:
    return [str(op) for op in module.body.operations if op.operation.name == "llvm.func"
            and ir.StringAttr(op.attributes["sym_name"]).value.startswith(OUTLINED_KERNEL)
            and len(op.regions[0].blocks)]


def test_each_kernel_is_a_declaration_in_the_block_and_back_after_it():
    """Two threads give convolutions that allocate per-thread scratch: the heap's allocator
    goes to an engine of its own, that the kernels' engines link to."""
    module = _lowered(threads=2)
    before = str(module)
    kernels = len(_kernel_bodies(module))
    assert any("_mlir_memref_to_llvm_alloc" in body for body in _kernel_bodies(module))
    with kernels_compiled_apart(module, 2, [wafer.cpu_runtime.openmp_runtime()], {}, WORKERS) as (engines, symbols):
        assert not _kernel_bodies(module)
        assert len(engines) == WORKERS + 1
        assert sum(name.removeprefix(OUTLINED_KERNEL).isdigit() for name in symbols) == kernels
        assert "_mlir_memref_to_llvm_alloc" in symbols and "wafer_heap" in symbols
        assert all(symbols.values())
    assert str(module) == before


def test_one_worker_compiles_everything_in_one_engine():
    module = _lowered(threads=1)
    before = str(module)
    with kernels_compiled_apart(module, 2, [], {}, 1) as (engines, symbols):
        assert engines == [] and symbols == {}
        assert str(module) == before


def test_the_heap_the_kernels_allocate_from_is_the_one_the_runtime_counts(apart):
    """With two threads, the convolutions allocate scratch per thread: the allocator and
    its counters are compiled apart, and the glue reads those counters, not a copy. A
    call's peak holds the scratch (how many threads' at once depends on their timing)
    besides the arena and the result, and all of it is freed."""
    model, inputs = _convolutions()
    compiled = compile_checked(model, inputs, threads=2, wake_instructions=0)
    assert "wafer_heap" in apart and any(name.removeprefix(OUTLINED_KERNEL).isdigit() for name in apart)
    compiled(*inputs)
    result_bytes = 10 * 4
    assert compiled.last_peak_bytes > compiled.compile_report.arena_bytes["forward"] + result_bytes
    assert compiled.executable.held_bytes == 0


@pytest.mark.parametrize("name", ["gather", "embedding"])
def test_a_runtime_check_in_a_kernel_compiled_apart_raises(apart, name):
    """The assert hook's wrapper, called from the kernels, is compiled apart too, and
    linked to the runtime's hook."""
    compiled = wafer.compile(Indexed(INDEXING[name]), (TABLE, INDEX))
    assert ASSERT_FAILED in apart
    with pytest.raises(wafer.WaferError, match=r"\(a runtime check in @forward\)"):
        compiled(TABLE, torch.full_like(INDEX, TABLE.shape[0]))
    torch.testing.assert_close(torch.as_tensor(np.asarray(compiled(TABLE, INDEX))), INDEXING[name](TABLE, INDEX))
