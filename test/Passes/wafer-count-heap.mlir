// RUN: wafer-opt %s --split-input-file --verify-diagnostics -p wafer-count-heap | filecheck %s

// The generic allocation functions finalize-memref-to-llvm declared get
// bodies: malloc and free around an atomic count of live bytes and its peak,
// which @wafer_heap_counters() points to.
// CHECK-LABEL: llvm.func @f
// CHECK: llvm.mlir.global internal @wafer_heap(dense<0> : tensor<2xi64>)
// CHECK: llvm.func @wafer_heap_counters() -> !llvm.ptr {
// CHECK-NEXT: llvm.mlir.addressof @wafer_heap
// CHECK: llvm.func @wafer_heap_add(%[[BLOCK:.*]]: !llvm.ptr) -> !llvm.ptr {
// CHECK-NEXT: %[[BYTES:.*]] = llvm.call @malloc_usable_size(%[[BLOCK]])
// CHECK-NEXT: %[[LIVE:.*]] = llvm.mlir.addressof @wafer_heap
// CHECK-NEXT: %[[BEFORE:.*]] = llvm.atomicrmw add %[[LIVE]], %[[BYTES]] monotonic
// CHECK-NEXT: %[[AFTER:.*]] = llvm.add %[[BEFORE]], %[[BYTES]]
// CHECK-NEXT: %[[PEAK:.*]] = llvm.getelementptr %[[LIVE]][0, 1]
// CHECK-NEXT: llvm.atomicrmw max %[[PEAK]], %[[AFTER]] monotonic
// CHECK: llvm.func @_mlir_memref_to_llvm_alloc(%[[SIZE:.*]]: i64) -> !llvm.ptr {
// CHECK-NEXT: %[[P:.*]] = llvm.call @malloc(%[[SIZE]])
// CHECK-NEXT: llvm.call @wafer_heap_add(%[[P]])
// CHECK: llvm.func @_mlir_memref_to_llvm_free(%[[Q:.*]]: !llvm.ptr) {
// CHECK-NEXT: %[[N:.*]] = llvm.call @malloc_usable_size(%[[Q]])
// CHECK-NEXT: %[[L:.*]] = llvm.mlir.addressof @wafer_heap
// CHECK-NEXT: llvm.atomicrmw sub %[[L]], %[[N]] monotonic
// CHECK-NEXT: llvm.call @free(%[[Q]])
llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
llvm.func @f(%n: i64) {
  %p = llvm.call @_mlir_memref_to_llvm_alloc(%n) : (i64) -> !llvm.ptr
  llvm.call @_mlir_memref_to_llvm_free(%p) : (!llvm.ptr) -> ()
  llvm.return
}

// -----

// An allocator the module already defines is not replaced behind its back.
// expected-error @+1 {{'_mlir_memref_to_llvm_alloc' is already defined: wafer-count-heap defines it}}
llvm.func @_mlir_memref_to_llvm_alloc(%size: i64) -> !llvm.ptr {
  %p = llvm.call @malloc(%size) : (i64) -> !llvm.ptr
  llvm.return %p : !llvm.ptr
}
llvm.func @malloc(i64) -> !llvm.ptr
