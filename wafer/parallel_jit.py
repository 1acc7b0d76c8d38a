"""JIT-compile a module's kernels on every core the process may use.

LLVM's optimizer and code generator take most of a model's JIT time, one
function after another in one engine. The kernels wafer-outline-kernels made
are independent functions that only the glue calls: each share of them goes
to an engine of its own, built from a thread through MLIR's C API (ctypes lets
go of the GIL for the call; the Python binding holds it). An engine links what
it compiles at once, so what kernels call in the module (the heap's allocator,
the assert hook's wrapper) is compiled before them, in an engine of its own;
the glue comes last, linked to them all.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

from torch_mlir import _mlir_libs, ir
from torch_mlir.dialects import llvm
from torch_mlir.execution_engine import ExecutionEngine

from .context import multithreaded
from .diagnostics import WaferError, unlinked
from .symbols import OUTLINED_KERNEL


class _StringRef(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("length", ctypes.c_size_t)]


def _string_ref(text: str) -> _StringRef:
    data = text.encode()
    return _StringRef(data, len(data))


_CAPI = ctypes.CDLL(os.path.join(os.path.dirname(_mlir_libs.__file__), "libTorchMLIRAggregateCAPI.so"))
_CAPI.mlirExecutionEngineCreate.restype = ctypes.c_void_p
# (module, opt level, number of libraries, libraries, dump object code, position-independent code)
_CAPI.mlirExecutionEngineCreate.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                            ctypes.POINTER(_StringRef), ctypes.c_bool, ctypes.c_bool]
_CAPI.mlirExecutionEngineLookup.restype = ctypes.c_void_p
_CAPI.mlirExecutionEngineLookup.argtypes = [ctypes.c_void_p, _StringRef]
_CAPI.mlirExecutionEngineRegisterSymbol.argtypes = [ctypes.c_void_p, _StringRef, ctypes.c_void_p]

_CAPSULE_NAME = ctypes.pythonapi.PyCapsule_GetName
_CAPSULE_NAME.restype, _CAPSULE_NAME.argtypes = ctypes.c_char_p, [ctypes.py_object]
_CAPSULE_POINTER = ctypes.pythonapi.PyCapsule_GetPointer
_CAPSULE_POINTER.restype, _CAPSULE_POINTER.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
_NEW_CAPSULE = ctypes.pythonapi.PyCapsule_New
_NEW_CAPSULE.restype, _NEW_CAPSULE.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


def _pointer(capsule) -> int:
    return _CAPSULE_POINTER(capsule, _CAPSULE_NAME(capsule))


# The capsule an ExecutionEngine is rebuilt from is named after the package the bindings live in
# (`torch_mlir.`), as a module's capsule is.
_ENGINE_CAPSULE = b"execution_engine.ExecutionEngine._CAPIPtr"


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0))


@contextlib.contextmanager
def kernels_compiled_apart(module: ir.Module, opt_level: int, shared_libs: list[str], runtime: dict[str, int],
                           workers: int) -> Iterator[tuple[list[ExecutionEngine], dict[str, int]]]:
    """Compile the module's kernels in up to `workers` engines at once. Within the
    block each kernel, and what kernels refer to (the heap's allocator and its
    counter, the assert hook's wrapper and messages), is a declaration in `module`,
    and the block gets the engines (which own the code) and the address of each
    symbol they define, for the engine that compiles the rest. Afterwards the module
    is as it was. `runtime` holds the addresses of what the runtime provides.
    """
    symbols = _Symbols(module)
    shares = _shares(symbols, workers)
    if len(shares) < 2:
        yield [], {}
        return
    support = symbols.closure(set().union(*(symbols.uses(kernel) for share in shares for kernel in share)))
    with module.context, ir.Location.unknown():
        moved = _MovedSymbols(symbols)
        try:
            engines, addresses = _compile([moved.into_new_module(sorted(support))], opt_level, shared_libs,
                                          runtime) if support else ([], {})
            kernel_engines, kernel_addresses = _compile([moved.into_new_module(share) for share in shares],
                                                        opt_level, shared_libs, runtime | addresses)
            yield engines + kernel_engines, addresses | kernel_addresses
        finally:
            moved.restore()


class _Symbols:
    """The functions and globals of a module, by name, and what each refers to."""

    def __init__(self, module: ir.Module):
        self.ops: dict[str, ir.Operation] = {}
        for op in module.body.operations:
            if op.operation.name in ("llvm.func", "llvm.mlir.global"):
                self.ops[ir.StringAttr(op.attributes["sym_name"]).value] = op.operation
        self._uses: dict[str, set[str]] = {}
        self._sizes: dict[str, int] = {}

    def defines(self, name: str) -> bool:
        return _is_definition(self.ops[name])

    def kernels(self) -> list[str]:
        """wafer-outline-kernels' functions."""
        return [name for name in self.ops
                if name.removeprefix(OUTLINED_KERNEL).isdigit() and self.defines(name)]

    def uses(self, name: str) -> set[str]:
        """The functions @name calls and the globals it takes the address of."""
        if name not in self._uses:
            uses, size = set(), 0

            def visit(op: ir.Operation) -> ir.WalkResult:
                nonlocal size
                size += 1
                for attribute in ("callee", "global_name"):  # llvm.call, llvm.mlir.addressof
                    if attribute in op.attributes:
                        uses.add(ir.FlatSymbolRefAttr(op.attributes[attribute]).value)
                return ir.WalkResult.ADVANCE

            self.ops[name].walk(visit)
            self._uses[name], self._sizes[name] = uses, size
        return self._uses[name]

    def size(self, name: str) -> int:
        """@name's number of ops: what LLVM's time grows with."""
        self.uses(name)
        return self._sizes[name]

    def closure(self, names: set[str]) -> set[str]:
        """The definitions among `names`, those they refer to, and so on."""
        closed, pending = set(), list(names)
        while pending:
            name = pending.pop()
            if name not in closed and self.defines(name):
                closed.add(name)
                pending.extend(self.uses(name))
        return closed


class _MovedSymbols:
    """Definitions moved out of a module into new ones, each leaving a declaration,
    until `restore` puts them back."""

    def __init__(self, symbols: _Symbols):
        self._symbols = symbols
        self._moved: list[tuple[ir.Operation, ir.Operation, ir.Attribute | None]] = []
        self._modules: list[ir.Module] = []  # a module erases what it holds when collected

    def into_new_module(self, names: list[str]) -> ir.Module:
        """A module of the definitions `names`, with external linkage (an engine looks up
        only those), and a declaration of each other symbol they refer to."""
        target = ir.Module.create()
        with ir.InsertionPoint(target.body):
            for name in sorted(set().union(*map(self._symbols.uses, names)) - set(names)):
                _declare(self._symbols.ops[name])
        for name in names:
            op = self._symbols.ops[name]
            with ir.InsertionPoint(op):
                declaration = _declare(op)
            linkage = op.attributes["linkage"] if "linkage" in op.attributes else None
            op.attributes["linkage"] = ir.Attribute.parse("#llvm.linkage<external>")
            target.body.append(op)
            self._moved.append((op, declaration, linkage))
        self._modules.append(target)
        return target

    def restore(self) -> None:
        for op, declaration, linkage in self._moved:
            op.move_before(declaration)
            declaration.erase()
            if linkage is None:
                del op.attributes["linkage"]
            else:
                op.attributes["linkage"] = linkage


def _is_definition(symbol: ir.Operation) -> bool:
    """A function with a body, or a global with an initial value (not an external declaration)."""
    return len(symbol.regions[0].blocks) > 0 or "value" in symbol.attributes


def _declare(symbol: ir.Operation) -> ir.Operation:
    """An external declaration of a function or global, at the current insertion point."""
    name = ir.StringAttr(symbol.attributes["sym_name"]).value
    if symbol.name == "llvm.func":
        return llvm.LLVMFuncOp(name, symbol.attributes["function_type"]).operation
    return llvm.GlobalOp(symbol.attributes["global_type"], name,
                         ir.Attribute.parse("#llvm.linkage<external>")).operation


def _compile(modules: list[ir.Module], opt_level: int, shared_libs: list[str],
             symbols: dict[str, int]) -> tuple[list[ExecutionEngine], dict[str, int]]:
    """An engine for each module, built at once from threads and linked to `symbols`,
    and the address of each symbol the modules define, and of each function's packed
    wrapper (`_mlir_<name>`, what the runtime looks up)."""
    names = [[name for op in module.body.operations if _is_definition(op.operation)
              for name in _defined_names(op)] for module in modules]
    libraries = (_StringRef * len(shared_libs))(*map(_string_ref, shared_libs))

    def build(index: int) -> tuple[int, list[int]]:
        engine = _CAPI.mlirExecutionEngineCreate(_pointer(modules[index]._CAPIPtr), opt_level, len(shared_libs),
                                                 libraries, False, False)
        if not engine:
            return 0, []
        for symbol, address in symbols.items():
            _CAPI.mlirExecutionEngineRegisterSymbol(engine, _string_ref(symbol), address)
        # The engine compiles, and links, on the first lookup.
        return engine, [_CAPI.mlirExecutionEngineLookup(engine, _string_ref(name)) for name in names[index]]

    # Translation creates attributes in the modules' context from several threads: it must lock.
    with multithreaded(modules[0].context), ThreadPoolExecutor(len(modules)) as pool:
        built = list(pool.map(build, range(len(modules))))
    capsule_name = _CAPSULE_NAME(modules[0]._CAPIPtr).removesuffix(b"ir.Module._CAPIPtr") + _ENGINE_CAPSULE
    engines = [ExecutionEngine._CAPICreate(_NEW_CAPSULE(engine, capsule_name, None)) for engine, _ in built if engine]
    if len(engines) < len(modules):
        raise WaferError("error: LLVM could not translate the kernels for the JIT")
    addresses = {}
    for module_names, (_, module_addresses) in zip(names, built):
        for name, address in zip(module_names, module_addresses):
            if not address:
                raise unlinked(f"the JIT could not link @{name}")
            addresses[name] = address
    return engines, addresses


def _defined_names(op: ir.Operation) -> list[str]:
    name = ir.StringAttr(op.attributes["sym_name"]).value
    return [name, f"_mlir_{name}"] if op.name == "llvm.func" else [name]


def _shares(symbols: _Symbols, workers: int) -> list[list[str]]:
    """Split the kernels into at most `workers` shares of about equal size, largest first."""
    kernels = symbols.kernels()
    loads = [(0, index, []) for index in range(min(workers, len(kernels)))]
    for name in sorted(kernels, key=lambda kernel: -symbols.size(kernel)):
        load, index, share = heapq.heappop(loads)
        share.append(name)
        heapq.heappush(loads, (load + symbols.size(name), index, share))
    return [share for _, _, share in sorted(loads, key=lambda entry: entry[1])]
