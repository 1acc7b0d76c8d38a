"""Call JIT-compiled functions with numpy arrays.

Functions are lowered with `llvm.emit_c_interface`: each memref crosses the
boundary as a pointer to a descriptor (allocated, aligned, offset, sizes,
strides). Static results are arguments too (the `cpu` pipeline's
out-params): numpy arrays allocated here, which the compiled code writes.
Dynamically shaped results are allocated by the compiled code through the
counting allocator of wafer-count-heap; the ownership-based deallocation
pipeline guarantees each returned buffer is owned by the caller, so it is
copied into numpy and freed here through the same allocator, which then
holds what it held before the call.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import site
import sys
import threading

import numpy as np
from torch_mlir import ir
from torch_mlir.execution_engine import ExecutionEngine

from .diagnostics import WaferError, unlinked
from .external_constants import externalize_constants
from .kernel_profile import KernelProfile, KernelTimers
from .parallel_jit import available_cores, kernels_compiled_apart
from .signatures import Executable, Signature, TensorSpec
from .symbols import ASSERT_FAILED, ASSERT_PENDING, HEAP_COUNTERS

_LIBC = ctypes.CDLL(None)
# glibc hands freed blocks above 128 KB straight back to the OS, so every call
# page-faults its packed operands and results in again (a quarter of a 1024^3
# matmul's time). Keep them in the heap for the next call instead.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LIBC.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
_LIBC.mallopt(_M_TRIM_THRESHOLD, 1 << 30)

_ASSERT_FAILED_HOOK = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
_ASSERT_PENDING_HOOK = ctypes.CFUNCTYPE(ctypes.c_bool)


@functools.lru_cache(maxsize=None)  # one class per rank: ctypes caches pointer types forever
def _descriptor_type(rank: int) -> type[ctypes.Structure]:
    """A memref descriptor; the element type only matters to the compiled code,
    so both pointers are plain addresses (cheaper to set than typed pointers)."""
    fields = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p), ("offset", ctypes.c_longlong)]
    if rank:
        fields += [("shape", ctypes.c_longlong * rank), ("strides", ctypes.c_longlong * rank)]
    return type(f"MemRef{rank}D", (ctypes.Structure,), {"_fields_": fields})


@functools.lru_cache(maxsize=None)  # one class per result list, for the same reason
def _results_type(descriptors: tuple[type[ctypes.Structure], ...]) -> type[ctypes.Structure]:
    """The struct a function with several results fills in: one descriptor each."""
    fields = [(f"r{i}", t) for i, t in enumerate(descriptors)]
    return type("Results", (ctypes.Structure,), {"_fields_": fields})


_PACKED_ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_FREE = "_mlir_memref_to_llvm_free"


class _CallFrame:
    """The ctypes structures one call of a function passes, built once per function
    (and thread) and reused: a descriptor per argument, the result descriptors
    (one struct of them for several results), and the C interface's array of
    pointers to pointers to them. A call writes only the argument addresses, and
    the shapes of dynamic arguments; building them anew took ~5 us a call.

    With `out_params` (buffer-results-to-out-params) the results are arguments
    too, after the inputs: the caller allocates them and the compiled code
    writes them in place, so nothing is copied or freed after the call.
    """

    def __init__(self, entry, free_entry, signature: Signature, out_params: bool):
        self.entry = entry
        self.signature = signature
        self.out_params = out_params
        # The packed argument array of a call to free(), whose one argument is rewritten.
        self._freed = ctypes.c_void_p()
        self._free_args = (ctypes.c_void_p * 1)(ctypes.addressof(self._freed))
        self._free_entry = free_entry
        specs = signature.args + signature.results if out_params else signature.args
        self.args = [_descriptor_type(len(spec.shape))() for spec in specs]
        for descriptor, spec in zip(self.args, specs):
            if spec.shape and None not in spec.shape:  # row-major: _check_args made it contiguous
                descriptor.shape[:] = spec.shape
                descriptor.strides[:] = _row_major(spec.shape)
        self.dynamic = [i for i, spec in enumerate(specs) if None in spec.shape]
        self.scalar_results = any(spec.scalar for spec in signature.results)
        types = () if out_params else tuple(_descriptor_type(len(spec.shape)) for spec in signature.results)
        self.results = types[0]() if len(types) == 1 else _results_type(types)() if types else None
        # Results the caller allocated are held for the whole call.
        self.result_bytes = sum(math.prod(spec.shape) * spec.dtype.itemsize
                                for spec in signature.results) if out_params else 0
        structs = ([self.results] if self.results is not None else []) + self.args
        self._pointers = [ctypes.pointer(struct) for struct in structs]  # kept alive with the array
        self.packed = (ctypes.c_void_p * len(structs))(*[ctypes.addressof(p) for p in self._pointers])

    def set_arguments(self, arrays: list[np.ndarray]) -> None:
        for descriptor, array in zip(self.args, arrays):
            descriptor.allocated = descriptor.aligned = _address(array)
        for i in self.dynamic:
            array = arrays[i]
            self.args[i].shape[:] = array.shape
            self.args[i].strides[:] = [s // array.itemsize for s in array.strides]

    def free(self, address: int) -> None:
        """Free a result buffer with the compiled code's own (counting) free."""
        self._freed.value = address
        self._free_entry(self._free_args)

    def result_descriptors(self) -> list[ctypes.Structure]:
        if self.results is None:
            return []
        if len(self.signature.results) == 1:
            return [self.results]
        return [getattr(self.results, f"r{i}") for i in range(len(self.signature.results))]


def _address(array: np.ndarray) -> int:
    """The address of a C-contiguous array's data: through the buffer protocol
    (0.3 us), else, for a read-only or empty array, `__array_interface__` (1 us)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    except (TypeError, ValueError):
        return array.__array_interface__["data"][0]


def _copy_result(descriptor: ctypes.Structure, spec: TensorSpec) -> np.ndarray:
    """Copy a returned buffer into numpy.

    Results are row-major (identity layouts at the function boundary), so a
    static shape is read from the signature, not from the descriptor.
    """
    static = None not in spec.shape
    shape = spec.shape if static else tuple(descriptor.shape)
    count = math.prod(shape)
    address = descriptor.aligned or 0
    itemsize = spec.dtype.itemsize
    strides = None if static or not shape else tuple(descriptor.strides)
    if count and address and (strides is None or strides == _row_major(shape)):
        result = np.empty(shape, dtype=spec.dtype)
        ctypes.memmove(result.__array_interface__["data"][0], address + descriptor.offset * itemsize,
                       count * itemsize)
    elif count and address:
        base = address + descriptor.offset * itemsize
        extent = 1 + sum((d - 1) * s for d, s in zip(shape, strides) if d)  # a dynamic, strided result
        flat = np.frombuffer((ctypes.c_uint8 * (extent * itemsize)).from_address(base), dtype=spec.dtype)
        result = np.array(np.lib.stride_tricks.as_strided(
            flat, shape=shape, strides=tuple(s * itemsize for s in strides)), copy=True)
    else:
        result = np.zeros(shape, dtype=spec.dtype)
    return result


def _row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return tuple(reversed(strides))


def openmp_runtime() -> str:
    """The OpenMP runtime that parallel loops call (`__kmpc_fork_call`).

    The intel-openmp wheel puts libiomp5.so in the environment's lib folder.
    Idle workers sleep at once rather than spin for 200 ms after each
    parallel loop, so they do not steal the cores from whatever runs between
    two calls (the caller's own framework, another backend being timed);
    within a call, wafer-warm-threads keeps them spinning between loops.
    """
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, site.getuserbase())):
        path = os.path.join(prefix, "lib", "libiomp5.so")
        if os.path.exists(path):
            os.environ.setdefault("KMP_BLOCKTIME", "0")
            return path
    raise WaferError("error: threads > 1 needs the OpenMP runtime libiomp5.so from the intel-openmp "
                     "package (pip install intel-openmp), or compile with threads=1")


class CpuExecutable(Executable):
    """A JIT-compiled module; `exe.fn(*arrays)` or `exe.invoke("fn", *arrays)`.

    After each call `last_peak_bytes` holds the most memory the call held at
    once: its temporaries (the function's arena, `arena_bytes`, and what it
    allocated besides, as malloc sized it) and its results; `held_bytes` is
    the heap memory compiled code still holds (0 unless it leaks).
    With `out_params` (the module went through buffer-results-to-out-params)
    each function takes its results as arguments after its inputs; they are
    numpy arrays allocated here, and count in the peak for the whole call.

    LLVM runs at -O2: the kernels arrive as explicit vector code, and side by
    side -O3 ran no faster (LeNet, MLP, the ResNet block and the transformer
    were equal or slower) while its JIT took up to twice as long (LeNet 0.6 s
    against 0.3 s).
    """

    def __init__(self, llvm_module: ir.Module, signatures: dict[str, Signature], opt_level: int = 2,
                 openmp: bool = False, out_params: bool = False, arena_bytes: dict[str, int] | None = None):
        super().__init__(signatures)
        self._out_params = out_params
        self._arena_bytes = arena_bytes or {}
        shared_libs = [openmp_runtime()] if openmp else []
        # The weights the code reads in place: held for as long as the engine.
        self.bound_constants = externalize_constants(llvm_module)
        # What wafer-lower-assert calls: a failed cf.assert records its message and
        # returns early, instead of abort() killing the interpreter.
        self._failed_asserts: list[str] = []
        failed = self._failed_asserts
        self._hooks = (  # the engines keep raw pointers: the callbacks must live as long
            _ASSERT_FAILED_HOOK(lambda message: failed.append(message.decode(errors="replace"))),
            _ASSERT_PENDING_HOOK(lambda: bool(failed)),
        )
        runtime = {f"_mlir_ciface_{symbol}": ctypes.cast(hook, ctypes.c_void_p).value
                   for symbol, hook in zip((ASSERT_FAILED, ASSERT_PENDING), self._hooks)}
        runtime |= {symbol: array.ctypes.data for symbol, array in self.bound_constants.items()}
        with kernels_compiled_apart(llvm_module, opt_level, shared_libs, runtime,
                                    available_cores()) as (engines, compiled):
            self._kernel_engines = engines  # they own the kernels' code
            self._engine = ExecutionEngine(llvm_module, opt_level=opt_level, shared_libs=shared_libs)
        for symbol, address in (runtime | compiled).items():
            self._engine.raw_register_runtime(symbol, ctypes.c_void_p(address))
        self._frames = threading.local()
        # What wafer-profile-kernels calls, when the module was compiled with profile=True.
        self._kernel_timers = KernelTimers.register(llvm_module, self._engine)
        self._heap = (ctypes.c_int64 * 2).from_address(self._packed_call(HEAP_COUNTERS, ctypes.c_void_p).value)
        self._free_entry = _PACKED_ENTRY(self._lookup(_FREE))
        self.last_peak_bytes = 0

    @property
    def held_bytes(self) -> int:
        return self._heap[0]

    def _lookup(self, symbol: str) -> int:
        """The address of a compiled function. The JIT links lazily, on the first
        lookup; when linking fails (code that calls a runtime function no
        library defines) it prints why and returns 0, which must not be called."""
        address = self._engine.raw_lookup(symbol)
        if not address:
            raise unlinked(f"the JIT could not link @{symbol}")
        return address

    def _packed_call(self, name: str, result_type):
        """Call a function without arguments through its packed wrapper and return its result."""
        result = result_type()
        _PACKED_ENTRY(self._lookup(name))(ctypes.byref(ctypes.pointer(result)))
        return result

    def profile(self, name: str, *args, repeat: int = 10) -> KernelProfile:
        """Call @name `repeat` times and time each call and each of its kernels
        (a module compiled with profile=True); `.table()` and `.save_trace(path)` show them."""
        if self._kernel_timers is None:
            raise WaferError("error: no kernel timers in this module: compile it with profile=True")
        return self._kernel_timers.profile(name, lambda: self.invoke(name, *args), repeat)

    def invoke(self, name: str, *args):
        signature, arrays = self.checked_call(name, args)
        frame = self._frame(name, signature)
        outputs = [np.empty(spec.shape, spec.dtype) for spec in signature.results] if frame.out_params else []
        frame.set_arguments(arrays + outputs)
        live, peak = 0, 1
        held = self._heap[peak] = self._heap[live]
        self._failed_asserts.clear()
        frame.entry(frame.packed)
        if self._failed_asserts:  # raised before the poison results are read
            raise WaferError(f"{self._failed_asserts[0]} (a runtime check in @{name})")
        if not frame.out_params:
            descriptors = frame.result_descriptors()
            outputs = [_copy_result(d, spec) for d, spec in zip(descriptors, signature.results)]
            for address in {d.allocated for d in descriptors if d.allocated}:  # one buffer may be two results
                frame.free(address)
        self.last_peak_bytes = self._heap[peak] - held + self._arena_bytes.get(name, 0) + frame.result_bytes
        if frame.scalar_results:
            outputs = [o[()] if spec.scalar else o for o, spec in zip(outputs, signature.results)]
        return outputs[0] if len(outputs) == 1 else tuple(outputs) if outputs else None

    def _frame(self, name: str, signature: Signature) -> _CallFrame:
        """This thread's call frame of @name: the entry point is looked up once (the
        engine's own `invoke` builds a new ctypes prototype on every call, ~40 us),
        and threads calling at once each write their own descriptors."""
        frames = self._frames.__dict__
        frame = frames.get(name)
        if frame is None:
            entry = _PACKED_ENTRY(self._lookup("_mlir_ciface_" + name))
            frame = frames[name] = _CallFrame(entry, self._free_entry, signature, self._out_params)
        return frame

