// RUN: wafer-opt %s --split-input-file -p 'wafer-direct-conv{machine=avx512 conv-algorithm=direct},canonicalize,cse' | filecheck %s

// A 1x1 convolution to 48 filters (three AVX-512 vectors, blocks of one) over a 7x7 image runs along
// its filters with its 49 pixels as one row: blocks of 13 pixels and a last one
// of 10 (13 and 10 accumulators), where rows of 7 would make blocks of 7, fewer
// than the 8 FMA chains that hide the latency. The input is read as [1, 2, 1, 49]
// and the result reshaped back to the image.
// CHECK-LABEL: func.func @pointwise_7x7
// CHECK-SAME: "direct conv along filters: 16 filters x 1x13 and 1x10 pixels in registers
// CHECK: tensor.collapse_shape %arg0 {{\[}}[0], [1], [2, 3]] : tensor<1x2x7x7xf32> into tensor<1x2x49xf32>
// CHECK: tensor.expand_shape {{.*}} output_shape [1, 2, 1, 49] : tensor<1x2x49xf32> into tensor<1x2x1x49xf32>
// CHECK: %[[ROW:.*]] = scf.forall {{.*}} -> (tensor<1x48x1x49xf32>)
// CHECK-COUNT-13: vector.fma {{.*}} : vector<16xf32>
// CHECK-COUNT-10: vector.fma {{.*}} : vector<16xf32>
// CHECK: tensor.collapse_shape %[[ROW]] {{\[}}[0], [1], [2, 3]] : tensor<1x48x1x49xf32> into tensor<1x48x49xf32>
// CHECK: tensor.expand_shape {{.*}} output_shape [1, 48, 7, 7] : tensor<1x48x49xf32> into tensor<1x48x7x7xf32>
// CHECK-NOT: linalg.conv_2d_nchw_fchw
func.func @pointwise_7x7(%x: tensor<1x2x7x7xf32>) -> tensor<1x48x7x7xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[-0.75]], [[-0.50]]], [[[-0.50]], [[-0.25]]], [[[-0.25]], [[0.00]]], [[[0.00]], [[0.25]]], [[[0.25]], [[0.50]]], [[[0.50]], [[-0.50]]], [[[0.75]], [[-0.25]]], [[[-0.75]], [[0.00]]], [[[-0.50]], [[0.25]]], [[[-0.25]], [[0.50]]], [[[0.00]], [[-0.50]]], [[[0.25]], [[-0.25]]], [[[0.50]], [[0.00]]], [[[0.75]], [[0.25]]], [[[-0.75]], [[0.50]]], [[[-0.50]], [[-0.50]]], [[[-0.25]], [[-0.25]]], [[[0.00]], [[0.00]]], [[[0.25]], [[0.25]]], [[[0.50]], [[0.50]]], [[[0.75]], [[-0.50]]], [[[-0.75]], [[-0.25]]], [[[-0.50]], [[0.00]]], [[[-0.25]], [[0.25]]], [[[0.00]], [[0.50]]], [[[0.25]], [[-0.50]]], [[[0.50]], [[-0.25]]], [[[0.75]], [[0.00]]], [[[-0.75]], [[0.25]]], [[[-0.50]], [[0.50]]], [[[-0.25]], [[-0.50]]], [[[0.00]], [[-0.25]]], [[[0.25]], [[0.00]]], [[[0.50]], [[0.25]]], [[[0.75]], [[0.50]]], [[[-0.75]], [[-0.50]]], [[[-0.50]], [[-0.25]]], [[[-0.25]], [[0.00]]], [[[0.00]], [[0.25]]], [[[0.25]], [[0.50]]], [[[0.50]], [[-0.50]]], [[[0.75]], [[-0.25]]], [[[-0.75]], [[0.00]]], [[[-0.50]], [[0.25]]], [[[-0.25]], [[0.50]]], [[[0.00]], [[-0.50]]], [[[0.25]], [[-0.25]]], [[[0.50]], [[0.00]]]]> : tensor<48x2x1x1xf32>
  %empty = tensor.empty() : tensor<1x48x7x7xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x48x7x7xf32>) -> tensor<1x48x7x7xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
         ins(%x, %w : tensor<1x2x7x7xf32>, tensor<48x2x1x1xf32>) outs(%init : tensor<1x48x7x7xf32>) -> tensor<1x48x7x7xf32>
  return %y : tensor<1x48x7x7xf32>
}

// -----

// Over 14x14, rows of 14 pixels make blocks as full as one row of 196 would
// (blocks of 16 and a last of 4): the image keeps its rows.
// CHECK-LABEL: func.func @pointwise_14x14
// CHECK-SAME: "direct conv along filters: 16 filters x 1x14 pixels in registers
// CHECK-NOT: tensor.collapse_shape
// CHECK: scf.forall {{.*}} -> (tensor<1x48x14x14xf32>)
func.func @pointwise_14x14(%x: tensor<1x2x14x14xf32>) -> tensor<1x48x14x14xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[-0.75]], [[-0.50]]], [[[-0.50]], [[-0.25]]], [[[-0.25]], [[0.00]]], [[[0.00]], [[0.25]]], [[[0.25]], [[0.50]]], [[[0.50]], [[-0.50]]], [[[0.75]], [[-0.25]]], [[[-0.75]], [[0.00]]], [[[-0.50]], [[0.25]]], [[[-0.25]], [[0.50]]], [[[0.00]], [[-0.50]]], [[[0.25]], [[-0.25]]], [[[0.50]], [[0.00]]], [[[0.75]], [[0.25]]], [[[-0.75]], [[0.50]]], [[[-0.50]], [[-0.50]]], [[[-0.25]], [[-0.25]]], [[[0.00]], [[0.00]]], [[[0.25]], [[0.25]]], [[[0.50]], [[0.50]]], [[[0.75]], [[-0.50]]], [[[-0.75]], [[-0.25]]], [[[-0.50]], [[0.00]]], [[[-0.25]], [[0.25]]], [[[0.00]], [[0.50]]], [[[0.25]], [[-0.50]]], [[[0.50]], [[-0.25]]], [[[0.75]], [[0.00]]], [[[-0.75]], [[0.25]]], [[[-0.50]], [[0.50]]], [[[-0.25]], [[-0.50]]], [[[0.00]], [[-0.25]]], [[[0.25]], [[0.00]]], [[[0.50]], [[0.25]]], [[[0.75]], [[0.50]]], [[[-0.75]], [[-0.50]]], [[[-0.50]], [[-0.25]]], [[[-0.25]], [[0.00]]], [[[0.00]], [[0.25]]], [[[0.25]], [[0.50]]], [[[0.50]], [[-0.50]]], [[[0.75]], [[-0.25]]], [[[-0.75]], [[0.00]]], [[[-0.50]], [[0.25]]], [[[-0.25]], [[0.50]]], [[[0.00]], [[-0.50]]], [[[0.25]], [[-0.25]]], [[[0.50]], [[0.00]]]]> : tensor<48x2x1x1xf32>
  %empty = tensor.empty() : tensor<1x48x14x14xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x48x14x14xf32>) -> tensor<1x48x14x14xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
         ins(%x, %w : tensor<1x2x14x14xf32>, tensor<48x2x1x1xf32>) outs(%init : tensor<1x48x14x14xf32>) -> tensor<1x48x14x14xf32>
  return %y : tensor<1x48x14x14xf32>
}

// -----

// An output that starts from values other than a fill or a bias (here an
// argument) is reshaped to the row like the image.
// CHECK-LABEL: func.func @pointwise_onto_values
// CHECK-SAME: "direct conv along filters: 16 filters x 1x13 and 1x10 pixels in registers
// CHECK: %[[INIT:.*]] = tensor.collapse_shape %arg1 {{\[}}[0], [1], [2, 3]] : tensor<1x48x7x7xf32> into tensor<1x48x49xf32>
// CHECK: %[[ROW_INIT:.*]] = tensor.expand_shape %[[INIT]] {{.*}} into tensor<1x48x1x49xf32>
// CHECK: scf.forall {{.*}} shared_outs(%{{.*}} = %[[ROW_INIT]]) -> (tensor<1x48x1x49xf32>)
func.func @pointwise_onto_values(%x: tensor<1x2x7x7xf32>, %init: tensor<1x48x7x7xf32>) -> tensor<1x48x7x7xf32> {
  %w = arith.constant dense<[[[[-0.75]], [[-0.50]]], [[[-0.50]], [[-0.25]]], [[[-0.25]], [[0.00]]], [[[0.00]], [[0.25]]], [[[0.25]], [[0.50]]], [[[0.50]], [[-0.50]]], [[[0.75]], [[-0.25]]], [[[-0.75]], [[0.00]]], [[[-0.50]], [[0.25]]], [[[-0.25]], [[0.50]]], [[[0.00]], [[-0.50]]], [[[0.25]], [[-0.25]]], [[[0.50]], [[0.00]]], [[[0.75]], [[0.25]]], [[[-0.75]], [[0.50]]], [[[-0.50]], [[-0.50]]], [[[-0.25]], [[-0.25]]], [[[0.00]], [[0.00]]], [[[0.25]], [[0.25]]], [[[0.50]], [[0.50]]], [[[0.75]], [[-0.50]]], [[[-0.75]], [[-0.25]]], [[[-0.50]], [[0.00]]], [[[-0.25]], [[0.25]]], [[[0.00]], [[0.50]]], [[[0.25]], [[-0.50]]], [[[0.50]], [[-0.25]]], [[[0.75]], [[0.00]]], [[[-0.75]], [[0.25]]], [[[-0.50]], [[0.50]]], [[[-0.25]], [[-0.50]]], [[[0.00]], [[-0.25]]], [[[0.25]], [[0.00]]], [[[0.50]], [[0.25]]], [[[0.75]], [[0.50]]], [[[-0.75]], [[-0.50]]], [[[-0.50]], [[-0.25]]], [[[-0.25]], [[0.00]]], [[[0.00]], [[0.25]]], [[[0.25]], [[0.50]]], [[[0.50]], [[-0.50]]], [[[0.75]], [[-0.25]]], [[[-0.75]], [[0.00]]], [[[-0.50]], [[0.25]]], [[[-0.25]], [[0.50]]], [[[0.00]], [[-0.50]]], [[[0.25]], [[-0.25]]], [[[0.50]], [[0.00]]]]> : tensor<48x2x1x1xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
         ins(%x, %w : tensor<1x2x7x7xf32>, tensor<48x2x1x1xf32>) outs(%init : tensor<1x48x7x7xf32>) -> tensor<1x48x7x7xf32>
  return %y : tensor<1x48x7x7xf32>
}
