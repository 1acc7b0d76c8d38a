"""wafer-count-heap: count the heap bytes compiled code holds, live and at peak."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from ..symbols import HEAP_COUNTERS
from .pass_base import PassFailure, WaferPass

_ALLOC, _ALIGNED_ALLOC, _FREE = (
    "_mlir_memref_to_llvm_alloc", "_mlir_memref_to_llvm_aligned_alloc", "_mlir_memref_to_llvm_free",
)

# The counters are {live, peak}. Every block counts with its usable size, the
# bytes malloc really set aside, so that free takes back exactly what alloc
# added. Atomic: OpenMP workers allocate their tiles' temporaries at once.
_COUNTING_ALLOCATOR = f"""
llvm.mlir.global internal @wafer_heap(dense<0> : tensor<2xi64>) : !llvm.array<2 x i64>
llvm.func @{HEAP_COUNTERS}() -> !llvm.ptr {{
  %0 = llvm.mlir.addressof @wafer_heap : !llvm.ptr
  llvm.return %0 : !llvm.ptr
}}
llvm.func @malloc_usable_size(!llvm.ptr) -> i64
llvm.func @wafer_heap_add(%block: !llvm.ptr) -> !llvm.ptr {{
  %bytes = llvm.call @malloc_usable_size(%block) : (!llvm.ptr) -> i64
  %live = llvm.mlir.addressof @wafer_heap : !llvm.ptr
  %before = llvm.atomicrmw add %live, %bytes monotonic : !llvm.ptr, i64
  %after = llvm.add %before, %bytes : i64
  %peak = llvm.getelementptr %live[0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<2 x i64>
  %0 = llvm.atomicrmw max %peak, %after monotonic : !llvm.ptr, i64
  llvm.return %block : !llvm.ptr
}}
llvm.func @{_ALLOC}(%size: i64) -> !llvm.ptr {{
  %block = llvm.call @malloc(%size) : (i64) -> !llvm.ptr
  %0 = llvm.call @wafer_heap_add(%block) : (!llvm.ptr) -> !llvm.ptr
  llvm.return %0 : !llvm.ptr
}}
llvm.func @{_ALIGNED_ALLOC}(%alignment: i64, %size: i64) -> !llvm.ptr {{
  %block = llvm.call @aligned_alloc(%alignment, %size) : (i64, i64) -> !llvm.ptr
  %0 = llvm.call @wafer_heap_add(%block) : (!llvm.ptr) -> !llvm.ptr
  llvm.return %0 : !llvm.ptr
}}
llvm.func @{_FREE}(%block: !llvm.ptr) {{
  %bytes = llvm.call @malloc_usable_size(%block) : (!llvm.ptr) -> i64
  %live = llvm.mlir.addressof @wafer_heap : !llvm.ptr
  %0 = llvm.atomicrmw sub %live, %bytes monotonic : !llvm.ptr, i64
  llvm.call @free(%block) : (!llvm.ptr) -> ()
  llvm.return
}}
"""

_LIBC = {
    "malloc": "llvm.func @malloc(i64) -> !llvm.ptr",
    "aligned_alloc": "llvm.func @aligned_alloc(i64, i64) -> !llvm.ptr",
    "free": "llvm.func @free(!llvm.ptr)",
}


@dataclass(frozen=True)
class CountHeap(WaferPass):
    """Define the allocation functions `finalize-memref-to-llvm{use-generic-functions}`
    calls, as malloc and free that keep a running count of live heap bytes and
    its peak, which `@wafer_heap_counters()` points to.

    The runtime resets the peak before a call and reads it after, so every
    call reports its peak temporary memory (results too, where the compiled
    code allocates them), at the cost of two atomic adds per allocation.
    Runs on the LLVM dialect, after the last memref lowering has declared
    the functions.
    """

    name = "wafer-count-heap"
    summary = "Count live and peak heap bytes in the generic memref allocation functions"

    def apply(self, module: ir.Operation) -> None:
        body = module.regions[0].blocks[0]
        symbols = {
            ir.StringAttr(op.attributes["sym_name"]).value: op
            for op in body.operations
            if "sym_name" in op.attributes
        }
        for name in (_ALLOC, _ALIGNED_ALLOC, _FREE, HEAP_COUNTERS, "wafer_heap", "wafer_heap_add",
                     "malloc_usable_size"):
            op = symbols.get(name)
            if op is None:
                continue
            if op.operation.name != "llvm.func" or op.regions[0].blocks:
                raise PassFailure(op.location, f"'{name}' is already defined: wafer-count-heap defines it")
            op.operation.erase()
        text = _COUNTING_ALLOCATOR + "\n".join(
            declaration for name, declaration in _LIBC.items() if name not in symbols
        )
        definitions = ir.Module.parse(text)  # alive until its ops have moved out
        for op in list(definitions.body.operations):
            body.append(op)
