// RUN: wafer-opt %s -p 'wafer-pack-matmul{machine=avx512 parallel-flops=4000000},wafer-lower-contractions,canonicalize,cse' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-pack-matmul{machine=avx512 register-tile=4,16 k-unroll=2},wafer-lower-contractions,canonicalize,cse' | filecheck %s --check-prefix=SMALL
// RUN: wafer-opt %s -p 'wafer-pack-matmul{machine=avx2},wafer-lower-contractions,canonicalize,cse' | filecheck %s --check-prefix=AVX2
// RUN: wafer-opt %s -p 'wafer-pack-matmul{machine=avx512}' | filecheck %s --check-prefix=LATE
// RUN: not wafer-opt %s -p 'wafer-pack-matmul{register-tile=x}' 2>&1 | filecheck %s --check-prefix=ERR
// RUN: not wafer-opt %s -p 'wafer-pack-matmul{machine=avx1024}' 2>&1 | filecheck %s --check-prefix=TARGET
// (parallel-flops=4000000: the serial forms checked here; the default splits some of them.)

// ERR-NOT: Traceback
// ERR: error: option wafer-pack-matmul{register-tile}: cannot read 'x' as list of int
// TARGET-NOT: Traceback
// TARGET: error: unknown CPU machine 'avx1024' (known: host, avx512, avx2, sse, neon)

// AVX2's 16 registers hold a 4x16 block (8 accumulators) and its K blocks are
// twice as deep for the same half of L1.
// AVX2-LABEL: func.func @odd_sizes
// AVX2-SAME: register block 4x16, k unroll 5
// AVX2: vector.fma %{{.*}} : vector<16xf32>

// 23x57x65 leaves a remainder everywhere: A and C are padded to 24 rows (7-row
// blocks would pad more), B and C to 64 columns, the K loop steps by 5 (the
// largest divisor of 65 up to 8), and the accumulator block is read once before the K loop and
// written once after it; inside it, only broadcast FMAs. Packing A
// transposes 8x5 blocks with one shuffle each; packing B copies rows of 16.
// CHECK-LABEL: func.func @odd_sizes
// The K step stays one contraction until the lower stage (wafer-lower-contractions):
// LATE-LABEL: func.func @odd_sizes
// LATE: scf.for %{{.*}} = %{{.*}} to %c65 step %c5 iter_args(%{{.*}}) -> (vector<8x32xf32>)
// LATE: vector.transfer_read {{.*}} : tensor<5x8xf32>, vector<5x8xf32>
// LATE-NEXT: vector.transfer_read {{.*}} : tensor<5x32xf32>, vector<5x32xf32>
// LATE-NEXT: vector.contract {{.*}} : vector<5x8xf32>, vector<5x32xf32> into vector<8x32xf32>
// LATE-NOT: vector.fma
// LATE-LABEL: func.func
// CHECK-SAME: wafer.strategy = ["packed matmul 23x57x65: register block 8x32, k unroll 5, cache tile 24x64, serial"]
// CHECK: tensor.pad %{{.*}} low[0, 0] high[1, 0]
// CHECK: scf.for %{{.*}} = %c0 to %c65 step %c5 iter_args(%{{.*}}) -> (tensor<3x65x8xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<1x8x5xf32>, vector<8x5xf32>
// CHECK: vector.shuffle {{.*}} : vector<40xf32>, vector<40xf32>
// CHECK: tensor.pad %{{.*}} low[0, 0] high[0, 7]
// CHECK: vector.transfer_read {{.*}} : tensor<5x1x16xf32>, vector<5x1x16xf32>
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c65 step %c5 iter_args(%{{.*}} = %[[ACC]]) -> (vector<8x32xf32>)
// CHECK-NOT: vector.transfer_write
// CHECK: vector.fma %{{.*}} : vector<32xf32>
// CHECK: scf.yield %{{.*}} : vector<8x32xf32>
// CHECK: vector.transfer_write %{{.*}} : vector<8x32xf32>, tensor<8x32xf32>
// CHECK: %[[SLICE:.*]] = tensor.extract_slice %{{.*}}[0, 0] [23, 57] [1, 1] : tensor<24x64xf32> to tensor<23x57xf32>
// The unpack's copy of that slice into %c is the identity on values: the slice is the result.
// CHECK-NEXT: return %[[SLICE]] : tensor<23x57xf32>
// With k-unroll=2 no divisor of 65 fits, so the step is its smallest
// divisor, 5, never 1 (which would lose the FMA contraction).
// SMALL-LABEL: func.func @odd_sizes
// SMALL-SAME: register block 4x16, k unroll 5
// SMALL: vector.fma %{{.*}} : vector<16xf32>
func.func @odd_sizes(%a: tensor<23x65xf32>, %b: tensor<65x57xf32>, %c: tensor<23x57xf32>) -> tensor<23x57xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<23x65xf32>, tensor<65x57xf32>) outs(%c : tensor<23x57xf32>) -> tensor<23x57xf32>
  return %r : tensor<23x57xf32>
}

// Weights read transposed (W[n, k], as wafer-fold-transpose leaves them) are
// already panel-major: packing needs no outer transpose. One row gets a
// 1x256 block rather than 8 rows of padding.
// CHECK-LABEL: func.func @linear_one_row
// CHECK-SAME: register block 1x256
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [2, 256, 784] : tensor<512x784xf32> into tensor<2x256x784xf32>
// Packing this 1.6 MB weight at run time is big enough to share over threads.
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 98, 16) shared_outs(%{{.*}}) -> (tensor<2x784x256xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: vector.fma %{{.*}} : vector<256xf32>
func.func @linear_one_row(%a: tensor<1x784xf32>, %w: tensor<512x784xf32>, %c: tensor<1x512xf32>) -> tensor<1x512xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : tensor<1x784xf32>, tensor<512x784xf32>) outs(%c : tensor<1x512xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x512xf32>
  return %r : tensor<1x512xf32>
}

// A per-call A that needs no padding is not packed: the kernel reads each
// 8x8 block of it in place, from the rows reshaped to [M/8, 8, K] (no pack,
// no transposing shuffles), and broadcasts from there.
// CHECK-LABEL: func.func @rows_read_in_place
// CHECK: %[[ROWS:.*]] = tensor.expand_shape %arg0 {{\[\[}}0, 1], [2]] output_shape [2, 8, 64]
// CHECK-NOT: vector.shuffle
// CHECK-NOT: tensor<2x64x8xf32>
// CHECK: tensor.extract_slice %[[ROWS]][%{{.*}}, 0, %{{.*}}] [1, 8, 8]
// CHECK-NOT: vector.shuffle
// CHECK: vector.fma %{{.*}} : vector<32xf32>
func.func @rows_read_in_place(%a: tensor<16x64xf32>, %b: tensor<64x32xf32>, %c: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x32xf32>) outs(%c : tensor<16x32xf32>) -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}

// A batch matmul keeps its batch dim outermost in every packed operand.
// CHECK-LABEL: func.func @batched
// CHECK-SAME: packed matmul 4x16x64x32
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1
// CHECK: vector.fma
func.func @batched(%a: tensor<4x16x32xf32>, %b: tensor<4x32x64xf32>, %c: tensor<4x16x64xf32>) -> tensor<4x16x64xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<4x16x32xf32>, tensor<4x32x64xf32>) outs(%c : tensor<4x16x64xf32>) -> tensor<4x16x64xf32>
  return %r : tensor<4x16x64xf32>
}

// Not packed: dynamic shapes, integer matmuls, and generics that are not a
// multiply-accumulate keep their op and get no strategy.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: wafer.strategy
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<8x8xf32>)
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x8xi32>, tensor<8x8xi32>)
// CHECK: linalg.generic
// CHECK: arith.maximumf
func.func @left_alone(%a: tensor<?x8xf32>, %b: tensor<8x8xf32>, %c: tensor<?x8xf32>,
                      %i: tensor<8x8xi32>, %ci: tensor<8x8xi32>, %x: tensor<8x8xf32>, %cx: tensor<8x8xf32>)
    -> (tensor<?x8xf32>, tensor<8x8xi32>, tensor<8x8xf32>) {
  %r = linalg.matmul ins(%a, %b : tensor<?x8xf32>, tensor<8x8xf32>) outs(%c : tensor<?x8xf32>) -> tensor<?x8xf32>
  %ri = linalg.matmul ins(%i, %i : tensor<8x8xi32>, tensor<8x8xi32>) outs(%ci : tensor<8x8xi32>) -> tensor<8x8xi32>
  %rx = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %x : tensor<8x8xf32>, tensor<8x8xf32>) outs(%cx : tensor<8x8xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.maximumf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x8xf32>
  return %r, %ri, %rx : tensor<?x8xf32>, tensor<8x8xi32>, tensor<8x8xf32>
}

// A constant weight is packed at compile time: the packed layout is a new
// constant, and no transpose of the weight is left to run on every call.
// Here W^T = [[1, 2], [3, 4], [5, 6]] (K=3, N=2) becomes one 3x16 panel,
// columns padded with zeros. It is a blob over the array the pass packed,
// which the JIT reads in place (its data is checked at the end of the file).
// CHECK-LABEL: func.func @constant_weight
// CHECK: arith.constant dense_resource<[[PACKED:packed[_0-9]*]]> : tensor<1x3x16xf32>
// CHECK-NOT: tensor<3x1x16xf32>
// CHECK: vector.fma
func.func @constant_weight(%a: tensor<16x3xf32>, %c: tensor<16x2xf32>) -> tensor<16x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %r = linalg.matmul ins(%a, %w : tensor<16x3xf32>, tensor<3x2xf32>) outs(%c : tensor<16x2xf32>) -> tensor<16x2xf32>
  return %r : tensor<16x2xf32>
}

// torch-mlir leaves unit dims and split heads in attention projections: here
// two m loops (16 and a unit one) and two k loops (4 heads of 8). The longest
// of each role is packed and vectorized; the other k loop steps around the
// K loop, so the accumulator is still read once per head, not once per k.
// CHECK-LABEL: func.func @split_dims
// CHECK-SAME: packed matmul 16x32x32: register block 8x32, k unroll 8
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1
// CHECK: vector.transfer_read {{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: vector.fma
func.func @split_dims(%a: tensor<16x1x4x8xf32>, %b: tensor<32x4x8xf32>, %c: tensor<16x1x32xf32>) -> tensor<16x1x32xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(m, u, n, h, k) -> (m, u, h, k)>, affine_map<(m, u, n, h, k) -> (n, h, k)>, affine_map<(m, u, n, h, k) -> (m, u, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%a, %b : tensor<16x1x4x8xf32>, tensor<32x4x8xf32>) outs(%c : tensor<16x1x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x1x32xf32>
  return %r : tensor<16x1x32xf32>
}

// In parallel cache tiles too, the accumulator is read before the K loop,
// carried through it in registers and written once after it.
// CHECK-LABEL: func.func @parallel_tiles
// CHECK-NOT: k block
// CHECK: scf.forall
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c128 step %c8 iter_args(%{{.*}} = %[[ACC]]) -> (vector<8x32xf32>)
// CHECK-NOT: vector.transfer_write
// CHECK: scf.yield %{{.*}} : vector<8x32xf32>
// CHECK: vector.transfer_write %{{.*}} : vector<8x32xf32>, tensor<8x32xf32>
func.func @parallel_tiles(%a: tensor<64x128xf32>, %b: tensor<128x512xf32>, %c: tensor<64x512xf32>) -> tensor<64x512xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<64x128xf32>, tensor<128x512xf32>) outs(%c : tensor<64x512xf32>) -> tensor<64x512xf32>
  return %r : tensor<64x512xf32>
}

// A B packed per call, under more than 128 K steps and more than one row of
// cache tiles, is packed one K block at a time: a loop over the blocks packs
// B's 128 rows into panels of their own, and each cache tile (all of N)
// packs its rows of A for the block, so no packed copy of a whole operand
// exists. The tile's register blocks go a row of blocks at a time.
// CHECK-LABEL: func.func @k_blocks
// CHECK-SAME: cache tile 64x256, k block 128
// CHECK: scf.for %{{.*}} = %c0 to %c512 step %c128 iter_args(%{{.*}} = %{{.*}}) -> (tensor<16x8x8x32xf32>)
// CHECK: tensor.empty() : tensor<8x128x32xf32>
// CHECK: scf.forall (%{{.*}}) in (2)
// CHECK: tensor.empty() : tensor<8x128x8xf32>
// CHECK: tensor.extract_slice %{{.*}}[%{{.*}}, 0, 0, 0] [8, 8, 8, 32]
// CHECK: scf.for %[[ROW:.*]] = %c0 to %c8 step %c1
// CHECK: scf.for %[[COL:.*]] = %c0 to %c8 step %c1
// CHECK: tensor.extract_slice %{{.*}}[%[[ROW]], 0, %[[COL]], 0] [1, 8, 1, 32]
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c8 iter_args
// CHECK: vector.fma
func.func @k_blocks(%a: tensor<128x512xf32>, %b: tensor<512x256xf32>, %c: tensor<128x256xf32>) -> tensor<128x256xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<128x512xf32>, tensor<512x256xf32>) outs(%c : tensor<128x256xf32>) -> tensor<128x256xf32>
  return %r : tensor<128x256xf32>
}

// A B already in 32-wide panels [N/32][K][32] (as wafer-winograd writes its
// transformed input) is packed into the same order of values: the pack is
// a reshape that adds a unit dim, not a copy.
// CHECK-LABEL: func.func @panels_in_place
// CHECK-NOT: linalg.pack
// CHECK: tensor.expand_shape %arg1 {{\[\[}}0, 1], [2], [3]] output_shape [4, 1, 128, 32] : tensor<4x128x32xf32> into tensor<4x1x128x32xf32>
// CHECK-NOT: tensor<4x1x128x32xf32>, vector
// CHECK: vector.fma
func.func @panels_in_place(%a: tensor<64x128xf32>, %b: tensor<4x128x32xf32>, %c: tensor<64x4x32xf32>) -> tensor<64x4x32xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(m, p, l, k) -> (m, k)>, affine_map<(m, p, l, k) -> (p, k, l)>, affine_map<(m, p, l, k) -> (m, p, l)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<64x128xf32>, tensor<4x128x32xf32>) outs(%c : tensor<64x4x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x4x32xf32>
  return %r : tensor<64x4x32xf32>
}

// The zero fill of a parallel kernel's accumulator moves into each cache
// tile, where it writes what the tile's K loop reads next.
// CHECK-LABEL: func.func @zero_init
// CHECK-NOT: linalg.fill
// CHECK: scf.forall (%{{.*}}) in (4) shared_outs(%{{.*}}) -> (tensor<8x8x16x32xf32>)
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<8x8x4x32xf32>) -> tensor<8x8x4x32xf32>
// CHECK: vector.fma
func.func @zero_init(%a: tensor<64x128xf32>, %b: tensor<128x512xf32>) -> tensor<64x512xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x512xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<64x512xf32>) -> tensor<64x512xf32>
  %r = linalg.matmul ins(%a, %b : tensor<64x128xf32>, tensor<128x512xf32>) outs(%c : tensor<64x512xf32>) -> tensor<64x512xf32>
  return %r : tensor<64x512xf32>
}

// Register blocks that tile C exactly need no packed C: the kernel
// accumulates into C itself, reshaped to [M/8][8][N/32][32], and the bias
// reads the result in place, with no unpack between them.
// CHECK-LABEL: func.func @bias_in_place
// CHECK-NOT: linalg.unpack
// CHECK-NOT: linalg.transpose
// CHECK: %[[C:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (tensor<2x8x2x32xf32>)
// CHECK: vector.fma
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[C]] {{\[\[}}0, 1], [2, 3]] : tensor<2x8x2x32xf32> into tensor<16x64xf32>
// CHECK: linalg.generic {{.*}} ins(%[[FLAT]], %{{.*}} : tensor<16x64xf32>, tensor<64xf32>)
func.func @bias_in_place(%a: tensor<16x128xf32>, %b: tensor<128x64xf32>, %bias: tensor<64xf32>) -> tensor<16x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %m = linalg.matmul ins(%a, %b : tensor<16x128xf32>, tensor<128x64xf32>) outs(%c : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%m, %bias : tensor<16x64xf32>, tensor<64xf32>) outs(%e : tensor<16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// The packed weight of @constant_weight, after the blob's alignment: 1.0, 2.0, zeros, 3.0, 4.0, 0.0, ...
// CHECK-LABEL: dialect_resources
// CHECK: [[PACKED]]: "0x{{[0-9A-F]+}}0000803F00000040{{(00000000)+}}000040400000804000000000
