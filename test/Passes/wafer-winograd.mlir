// RUN: wafer-opt %s -p 'wafer-winograd{machine=avx512 min-channels=1},canonicalize,cse' | filecheck %s

// A 3x3 stride-1 convolution (8 filters, one channel, 8x32 output) becomes
// Winograd F(2x2,3x3) over blocks of 4 tile rows (16 tiles a row): in each
// scf.forall iteration, 4x4 input patches are transformed 16 tiles at a time
// (a patch's stride-2 columns are the deinterleaved lanes of a 32-lane row
// load) and written in the kernel's 32-wide panels, multiplied by the filters
// transformed at compile time (16 matrices of 8x1) and transformed back, each
// row of 2x2 output tiles interleaved into an output row and added to the init
// (the bias).
// CHECK-LABEL: func.func @conv
// CHECK-SAME: winograd F(2x2,3x3) conv: blocks of 4 tile rows (64 tiles)
// CHECK: %[[U:.*]] = arith.constant dense<{{.*}}> : tensor<16x8x1xf32>
// CHECK: scf.forall (%[[N:.*]]) in (2) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<2x8x8x32xf32>)
// CHECK: %[[ROW:.*]] = vector.transfer_read %{{.*}}[%[[N]], %{{.*}}, %{{.*}}, %c0], %{{.*}} : tensor<2x1x10x34xf32>, vector<32xf32>
// CHECK-NEXT: vector.deinterleave %[[ROW]] : vector<32xf32> -> vector<16xf32>
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<16x2x1x32xf32>
// CHECK: linalg.generic {{.*}} ins(%[[U]], %{{.*}} : tensor<16x8x1xf32>, tensor<16x2x1x32xf32>) outs(%{{.*}} : tensor<16x8x2x32xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] : tensor<16x8x2x32xf32> into tensor<16x8x64xf32>
// CHECK: vector.interleave %{{.*}}, %{{.*}} : vector<16xf32> -> vector<32xf32>
// CHECK: vector.transfer_write {{.*}} : vector<32xf32>, tensor<1x8x8x32xf32>
// CHECK: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[N]], 0, 0, 0] [1, 8, 8, 32]
// CHECK-NOT: linalg.conv_2d_nchw_fchw
func.func @conv(%x: tensor<2x1x10x34xf32>, %init: tensor<2x8x8x32xf32>) -> tensor<2x8x8x32xf32> {
  %w = arith.constant dense<[-0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50]> : tensor<72xf32>
  %w4 = tensor.expand_shape %w [[0, 1, 2, 3]] output_shape [8, 1, 3, 3] : tensor<72xf32> into tensor<8x1x3x3xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w4 : tensor<2x1x10x34xf32>, tensor<8x1x3x3xf32>) outs(%init : tensor<2x8x8x32xf32>) -> tensor<2x8x8x32xf32>
  return %r : tensor<2x8x8x32xf32>
}

// Strided convolutions are left to wafer-direct-conv and wafer-im2col.
// CHECK-LABEL: func.func @strided
// CHECK-NOT: winograd
// CHECK: linalg.conv_2d_nchw_fchw
func.func @strided(%x: tensor<2x1x17x17xf32>, %init: tensor<2x8x8x8xf32>) -> tensor<2x8x8x8xf32> {
  %w = arith.constant dense<[-0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50]> : tensor<72xf32>
  %w4 = tensor.expand_shape %w [[0, 1, 2, 3]] output_shape [8, 1, 3, 3] : tensor<72xf32> into tensor<8x1x3x3xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
      ins(%x, %w4 : tensor<2x1x17x17xf32>, tensor<8x1x3x3xf32>) outs(%init : tensor<2x8x8x8xf32>) -> tensor<2x8x8x8xf32>
  return %r : tensor<2x8x8x8xf32>
}

// An odd 7x32 output: 4 tile rows, the last a half one. Its fourth input row is
// past the 9-row image: read at the last row and replaced by zeros. The result
// gets one row of padding below, for the half tile row's second output row, and
// is sliced back to 7 rows (one block: canonicalize folds its loop away).
// CHECK-LABEL: func.func @odd_rows
// CHECK-SAME: winograd F(2x2,3x3) conv: blocks of 4 tile rows (64 tiles)
// CHECK: %[[PADDED:.*]] = tensor.pad %arg1 low[0, 0, 0, 0] high[0, 0, 1, 0]
// CHECK: arith.minui %{{.*}}, %c8 : index
// CHECK: arith.cmpi ult, %{{.*}}, %c9 : index
// CHECK: arith.select %{{.*}}, %{{.*}}, %{{.*}} : vector<32xf32>
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %[[PADDED]]) -> (tensor<1x8x8x32xf32>)
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 8, 7, 32] [1, 1, 1, 1] : tensor<1x8x8x32xf32> to tensor<1x8x7x32xf32>
func.func @odd_rows(%x: tensor<1x1x9x34xf32>, %init: tensor<1x8x7x32xf32>) -> tensor<1x8x7x32xf32> {
  %w = arith.constant dense<[-0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50]> : tensor<72xf32>
  %w4 = tensor.expand_shape %w [[0, 1, 2, 3]] output_shape [8, 1, 3, 3] : tensor<72xf32> into tensor<8x1x3x3xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w4 : tensor<1x1x9x34xf32>, tensor<8x1x3x3xf32>) outs(%init : tensor<1x8x7x32xf32>) -> tensor<1x8x7x32xf32>
  return %r : tensor<1x8x7x32xf32>
}

// The same odd 7x32 output from a broadcast bias, as torch-mlir imports a
// convolution's bias: each output vector starts from its filter's bias, read
// as a scalar and broadcast. The broadcast is never materialized, padded or
// read back: the loop writes into a fresh padded tensor.
// CHECK-LABEL: func.func @bias_rows
// CHECK-NOT: tensor.pad
// CHECK-NOT: linalg.broadcast
// CHECK: %[[FRESH:.*]] = tensor.empty() : tensor<1x8x8x32xf32>
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %[[FRESH]]) -> (tensor<1x8x8x32xf32>)
// CHECK: %[[B:.*]] = tensor.extract %arg1[%{{.*}}] : tensor<8xf32>
// CHECK: %[[SPLAT:.*]] = vector.broadcast %[[B]] : f32 to vector<32xf32>
// CHECK: arith.addf %[[SPLAT]], %{{.*}} : vector<32xf32>
// CHECK-NOT: vector.transfer_read %{{.*}} : tensor<1x8x8x32xf32>
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 8, 7, 32] [1, 1, 1, 1] : tensor<1x8x8x32xf32> to tensor<1x8x7x32xf32>
func.func @bias_rows(%x: tensor<1x1x9x34xf32>, %bias: tensor<8xf32>) -> tensor<1x8x7x32xf32> {
  %w = arith.constant dense<[-0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50, -0.25, 0.00, 0.25, 0.50, 0.75, -0.75, -0.50]> : tensor<72xf32>
  %w4 = tensor.expand_shape %w [[0, 1, 2, 3]] output_shape [8, 1, 3, 3] : tensor<72xf32> into tensor<8x1x3x3xf32>
  %e = tensor.empty() : tensor<1x8x7x32xf32>
  %init = linalg.broadcast ins(%bias : tensor<8xf32>) outs(%e : tensor<1x8x7x32xf32>) dimensions = [0, 2, 3]
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w4 : tensor<1x1x9x34xf32>, tensor<8x1x3x3xf32>) outs(%init : tensor<1x8x7x32xf32>) -> tensor<1x8x7x32xf32>
  return %r : tensor<1x8x7x32xf32>
}
