// RUN: wafer-opt %s -p 'wafer-pack-matmul{machine=avx512 parallel-flops=4000000 streamed-b-rows=0},wafer-zero-accumulators,canonicalize,cse' | filecheck %s
// (parallel-flops=4000000: the serial forms checked here; the default splits some of them.
// streamed-b-rows=0: @deep's weights, streamed from L3, in K blocks whatever this host measured.)

// A serial kernel's C is zero-filled and its register blocks each read their
// accumulators from it before a K loop over all of K: they start from a zero
// vector instead, and C is not filled.
// CHECK-LABEL: func.func @shallow
// CHECK-SAME: cache tile 64x128, serial
// CHECK-NOT: linalg.fill
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c4
// CHECK: scf.for %{{.*}} = %c0 to %c8 step %c1
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1
// CHECK-NOT: vector.transfer_read {{.*}} vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c8 iter_args(%{{.*}} = %[[ZERO]]) -> (vector<8x32xf32>)
func.func @shallow(%b: tensor<32x512xf32>) -> tensor<64x512xf32> {
  %a = arith.constant dense<0.5> : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x512xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<64x512xf32>) -> tensor<64x512xf32>
  %r = linalg.matmul ins(%a, %b : tensor<64x32xf32>, tensor<32x512xf32>) outs(%c : tensor<64x512xf32>) -> tensor<64x512xf32>
  return %r : tensor<64x512xf32>
}

// Parallel cache tiles zero their own tile (wafer-pack-matmul moves the fill
// into the loop): the same.
// CHECK-LABEL: func.func @parallel
// CHECK-NOT: linalg.fill
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK: scf.forall
// CHECK-NOT: vector.transfer_read {{.*}} vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}} = %[[ZERO]]) -> (vector<8x32xf32>)
func.func @parallel(%b: tensor<64x4096xf32>) -> tensor<256x4096xf32> {
  %a = arith.constant dense<0.5> : tensor<256x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<256x4096xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<256x4096xf32>) -> tensor<256x4096xf32>
  %r = linalg.matmul ins(%a, %b : tensor<256x64xf32>, tensor<64x4096xf32>) outs(%c : tensor<256x4096xf32>) -> tensor<256x4096xf32>
  return %r : tensor<256x4096xf32>
}

// An init that is no zero fill, and a K split in blocks inside the tile (each
// block's sums added to the blocks' before): the tile is read after the K loop,
// which starts from zeros, and added to its sums.
// CHECK-LABEL: func.func @accumulating
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK: %[[SUMS:.*]] = scf.for %{{.*}} iter_args(%{{.*}} = %[[ZERO]]) -> (vector<8x32xf32>)
// CHECK: vector.contract
// CHECK: scf.yield
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: %[[TOTAL:.*]] = arith.addf %[[ACC]], %[[SUMS]] : vector<8x32xf32>
// CHECK: vector.transfer_write %[[TOTAL]]
// CHECK-LABEL: func.func @deep
// CHECK-SAME: k tile 128
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK: linalg.fill
// CHECK: %[[SUMS:.*]] = scf.for %{{.*}} iter_args(%{{.*}} = %[[ZERO]]) -> (vector<8x32xf32>)
// CHECK: vector.contract
// CHECK: scf.yield
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: arith.addf %[[ACC]], %[[SUMS]] : vector<8x32xf32>
func.func @accumulating(%b: tensor<32x512xf32>, %c: tensor<64x512xf32>) -> tensor<64x512xf32> {
  %a = arith.constant dense<0.5> : tensor<64x32xf32>
  %r = linalg.matmul ins(%a, %b : tensor<64x32xf32>, tensor<32x512xf32>) outs(%c : tensor<64x512xf32>) -> tensor<64x512xf32>
  return %r : tensor<64x512xf32>
}
func.func @deep(%b: tensor<4608x512xf32>) -> tensor<64x512xf32> {
  %a = arith.constant dense<0.5> : tensor<64x4608xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x512xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<64x512xf32>) -> tensor<64x512xf32>
  %r = linalg.matmul ins(%a, %b : tensor<64x4608xf32>, tensor<4608x512xf32>) outs(%c : tensor<64x512xf32>) -> tensor<64x512xf32>
  return %r : tensor<64x512xf32>
}
