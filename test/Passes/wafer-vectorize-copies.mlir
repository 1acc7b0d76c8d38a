// RUN: wafer-opt %s -p 'wafer-vectorize-copies{machine=avx512},func.func(canonicalize)' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-vectorize-copies{machine=avx512 max-row=16},func.func(canonicalize)' | filecheck %s --check-prefix=SHORT
// RUN: wafer-opt %s -p 'wafer-vectorize-copies{machine=avx512 threads=2},func.func(canonicalize)' | filecheck %s --check-prefix=THREADS

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

// At threads=2 a big copy in a function that runs parallel loops is shared by
// the threads along its outermost dim of at least two planes: 3 images, 2 and 1.
// One in a function with no parallel loop (kept serial as too short to wake
// the workers) and a small one stay on one thread.
// CHECK-LABEL: func.func @padded_images
// CHECK-NOT: scf.parallel (%{{.*}}) = (%c0) to (%c2)
// THREADS-LABEL: func.func @padded_images
// THREADS: scf.parallel (%[[SHARE:.*]]) = (%c0) to (%c2) step (%c1)
// THREADS: affine.min #{{.*}}(%[[SHARE]])
// THREADS: scf.for
// THREADS: vector.transfer_write {{.*}} : vector<1x1x1x55xf32>
// THREADS: scf.reduce
// THREADS: scf.parallel
// THREADS-NOT: scf.parallel
// THREADS-LABEL: func.func @serial_call
// THREADS-NOT: scf.parallel
func.func @padded_images(%a: memref<3x16x55x55xf32>, %b: memref<3x16x57x57xf32>, %c: memref<64xf32>,
                         %d: memref<4x16xf32>, %e: memref<4x16xf32>) {
  %s = memref.subview %b[0, 0, 1, 1] [3, 16, 55, 55] [1, 1, 1, 1] : memref<3x16x57x57xf32> to memref<3x16x55x55xf32, strided<[51984, 3249, 57, 1], offset: 58>>
  memref.copy %a, %s : memref<3x16x55x55xf32> to memref<3x16x55x55xf32, strided<[51984, 3249, 57, 1], offset: 58>>
  memref.copy %d, %e : memref<4x16xf32> to memref<4x16xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %z = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    memref.store %z, %c[%i] : memref<64xf32>
    scf.reduce
  }
  return
}
func.func @serial_call(%a: memref<3x16x55x55xf32>, %b: memref<3x16x55x55xf32>) {
  memref.copy %a, %b : memref<3x16x55x55xf32> to memref<3x16x55x55xf32>
  return
}
