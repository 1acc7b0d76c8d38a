// RUN: wafer-opt %s -p 'wafer-stack-loop-temporaries{max-bytes=4096}' | filecheck %s

// A parallel loop's small temporaries go on the stack, in an alloca scope per
// iteration, their deallocs gone; one past max-bytes stays a malloc, and so do
// the temporaries of serial code (wafer-plan-buffers places those).
// CHECK-LABEL: func.func @rows
// CHECK: memref.alloc() : memref<4096xf32>
// CHECK: scf.parallel
// CHECK-NEXT: memref.alloca_scope {
// CHECK-NEXT: %[[ROW:.*]] = memref.alloca() {alignment = 64 : i64} : memref<768xf32>
// CHECK-NEXT: %[[MOMENT:.*]] = memref.alloca() : memref<1xf32>
// CHECK: memref.alloc() : memref<2048xf32>
// CHECK: memref.dealloc %{{.*}} : memref<2048xf32>
// CHECK-NOT: memref.dealloc %[[ROW]]
// CHECK-NOT: memref.dealloc %[[MOMENT]]
// CHECK: }
// CHECK-NEXT: scf.reduce
func.func @rows(%x: memref<8x768xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %serial = memref.alloc() : memref<4096xf32>
  memref.dealloc %serial : memref<4096xf32>
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    %row = memref.alloc() {alignment = 64 : i64} : memref<768xf32>
    %moment = memref.alloc() : memref<1xf32>
    %big = memref.alloc() : memref<2048xf32>
    %v = memref.load %x[%i, %c0] : memref<8x768xf32>
    memref.store %v, %row[%c0] : memref<768xf32>
    memref.store %v, %moment[%c0] : memref<1xf32>
    memref.store %v, %big[%c0] : memref<2048xf32>
    memref.dealloc %big : memref<2048xf32>
    memref.dealloc %moment : memref<1xf32>
    memref.dealloc %row : memref<768xf32>
    scf.reduce
  }
  return
}
