// RUN: wafer-opt %s -p 'wafer-vectorize-copies{machine=avx512},func.func(canonicalize)' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-vectorize-copies{machine=avx512 max-row=16},func.func(canonicalize)' | filecheck %s --check-prefix=SHORT

// A padded input is copied a row of 28 at a time: one vector load and store.
// CHECK-LABEL: func.func @pad_rows
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %c28 step %c1
// CHECK: vector.transfer_read {{.*}} {in_bounds = [true, true, true, true]} {{.*}}, vector<1x1x1x28xf32>
// CHECK-NEXT: vector.transfer_write {{.*}} : vector<1x1x1x28xf32>
// CHECK-NOT: memref.copy
// With max-row=16 a row of 28 has no divisor of 16 lanes or more: it stays a copy.
// SHORT-LABEL: func.func @pad_rows
// SHORT: memref.copy
func.func @pad_rows(%a: memref<2x1x28x28xf32>, %b: memref<2x1x32x32xf32>) {
  %s = memref.subview %b[0, 0, 2, 2] [2, 1, 28, 28] [1, 1, 1, 1] : memref<2x1x32x32xf32> to memref<2x1x28x28xf32, strided<[1024, 1024, 32, 1], offset: 66>>
  memref.copy %a, %s : memref<2x1x28x28xf32> to memref<2x1x28x28xf32, strided<[1024, 1024, 32, 1], offset: 66>>
  return
}

// A long row is split into equal vectors; linalg.copy (an unpack's) too.
// CHECK-LABEL: func.func @long_rows
// CHECK: scf.for %{{.*}} = %c0 to %c3136 step %c784
// CHECK: vector.transfer_read {{.*}} : memref<1x784xf32, {{.*}}>, vector<1x784xf32>
// CHECK-NOT: linalg.copy
// SHORT-LABEL: func.func @long_rows
// SHORT: scf.for %{{.*}} = %c0 to %c3136 step %c16
// SHORT: vector<1x16xf32>
func.func @long_rows(%a: memref<2x3136xf32>, %b: memref<2x3136xf32>) {
  linalg.copy ins(%a : memref<2x3136xf32>) outs(%b : memref<2x3136xf32>)
  return
}

// Copies without a contiguous static row are left to the scalar lowering.
// CHECK-LABEL: func.func @left_alone
// CHECK: memref.copy %{{.*}} : memref<4x8xf32, strided<[1, 4]>> to memref<4x8xf32>
// CHECK: memref.copy %{{.*}} : memref<?xf32> to memref<?xf32>
// CHECK-NOT: vector.transfer_read
func.func @left_alone(%a: memref<4x8xf32, strided<[1, 4]>>, %b: memref<4x8xf32>, %c: memref<?xf32>, %d: memref<?xf32>) {
  memref.copy %a, %b : memref<4x8xf32, strided<[1, 4]>> to memref<4x8xf32>
  memref.copy %c, %d : memref<?xf32> to memref<?xf32>
  return
}
