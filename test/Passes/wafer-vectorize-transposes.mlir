// RUN: wafer-opt %s -p 'wafer-vectorize-transposes{machine=avx512},func.func(canonicalize,cse)' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-vectorize-transposes{machine=avx2},func.func(canonicalize,cse)' | filecheck %s --check-prefix=AVX2

// An oriented convolution's C (13x13 pixels by 1024 padded filters) back to
// NCHW: blocks of 16 filters by a 13-pixel row, each read as 13 vectors of
// 16 (one line each) and transposed by one shuffle. Big enough for threads.
// CHECK-LABEL: func.func @oriented_out
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 64, 13)
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x13x16xf32>, vector<13x16xf32>
// CHECK: vector.shuffle
// CHECK: vector.transfer_write {{.*}} : vector<16x1x13xf32>, tensor<1x16x1x13xf32>
// CHECK-NOT: wafer.serial
// CHECK-NOT: linalg.transpose
// AVX2-LABEL: func.func @oriented_out
// AVX2: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 128, 13)
// AVX2: vector<13x8xf32>
func.func @oriented_out(%c: tensor<2x13x13x1024xf32>) -> tensor<2x1024x13x13xf32> {
  %e = tensor.empty() : tensor<2x1024x13x13xf32>
  %t = linalg.transpose ins(%c : tensor<2x13x13x1024xf32>) outs(%e : tensor<2x1024x13x13xf32>) permutation = [0, 3, 1, 2]
  return %t : tensor<2x1024x13x13xf32>
}

// Small: the blocks (6 by 7 on AVX2, divisors of 12 and 7) loop serially.
// AVX2-LABEL: func.func @small
// AVX2: scf.forall (%{{.*}}) in (2)
// AVX2: vector.transfer_read {{.*}} : tensor<7x6xf32>, vector<7x6xf32>
// AVX2: vector.shuffle %{{.*}}, %{{.*}} [0, 6, 12, 18, 24, 30, 36, 1, 7,
// AVX2: vector.transfer_write {{.*}} : vector<6x7xf32>, tensor<6x7xf32>
// AVX2: {wafer.serial}
func.func @small(%c: tensor<7x12xf32>) -> tensor<12x7xf32> {
  %e = tensor.empty() : tensor<12x7xf32>
  %t = linalg.transpose ins(%c : tensor<7x12xf32>) outs(%e : tensor<12x7xf32>) permutation = [1, 0]
  return %t : tensor<12x7xf32>
}

// Left alone: a transpose that keeps the innermost dim copies whole rows, and
// one whose result rows (37, a prime) have no divisor from 4 up.
// CHECK-LABEL: func.func @rows_kept
// CHECK: linalg.transpose
// CHECK-LABEL: func.func @no_block
// CHECK: linalg.transpose
func.func @rows_kept(%c: tensor<4x8x16xf32>) -> tensor<8x4x16xf32> {
  %e = tensor.empty() : tensor<8x4x16xf32>
  %t = linalg.transpose ins(%c : tensor<4x8x16xf32>) outs(%e : tensor<8x4x16xf32>) permutation = [1, 0, 2]
  return %t : tensor<8x4x16xf32>
}
func.func @no_block(%c: tensor<2x37x1024xf32>) -> tensor<2x1024x37xf32> {
  %e = tensor.empty() : tensor<2x1024x37xf32>
  %t = linalg.transpose ins(%c : tensor<2x37x1024xf32>) outs(%e : tensor<2x1024x37xf32>) permutation = [0, 2, 1]
  return %t : tensor<2x1024x37xf32>
}

// Left alone: a transpose of bools. A memref of i1 holds a byte per element,
// but LLVM loads and stores a vector of i1 as bits, so vector transfers of
// the blocks would read and write the wrong bytes (a comparison's result
// permuted came back half wrong).
// CHECK-LABEL: func.func @bools
// CHECK-NOT: vector.transfer_read
// CHECK: linalg.transpose
func.func @bools(%c: tensor<3x4x7xi1>) -> tensor<7x3x4xi1> {
  %e = tensor.empty() : tensor<7x3x4xi1>
  %t = linalg.transpose ins(%c : tensor<3x4x7xi1>) outs(%e : tensor<7x3x4xi1>) permutation = [2, 0, 1]
  return %t : tensor<7x3x4xi1>
}
