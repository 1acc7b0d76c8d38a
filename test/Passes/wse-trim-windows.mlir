// A window that reads only a prefix of its input (a 1x1 pooling in ceil mode on a
// padded input) reads a slice of that prefix instead; an input read whole is kept.
// RUN: wafer-opt %s -p 'func.func(linalg-generalize-named-ops),wse-trim-windows,func.func(linalg-fold-unit-extent-dims)' | filecheck %s

// CHECK-LABEL: func.func @max_pool_1x1_ceil
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x5x6xf32>
// CHECK: %[[SLICE:.*]] = tensor.extract_slice %[[X]][0, 0, 0, 0] [2, 3, 4, 5] [1, 1, 1, 1] : tensor<2x3x5x6xf32> to tensor<2x3x4x5xf32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[SLICE]]
func.func @max_pool_1x1_ceil(%x: tensor<2x3x5x6xf32>, %init: tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xf32> {
  %k = tensor.empty() : tensor<1x1xf32>
  %y = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
    ins(%x, %k : tensor<2x3x5x6xf32>, tensor<1x1xf32>) outs(%init : tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xf32>
  return %y : tensor<2x3x4x5xf32>
}

// CHECK-LABEL: func.func @max_pool_2x2_whole
// CHECK-NOT: tensor.extract_slice
func.func @max_pool_2x2_whole(%x: tensor<1x2x6x6xf32>, %init: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %k = tensor.empty() : tensor<2x2xf32>
  %y = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
    ins(%x, %k : tensor<1x2x6x6xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  return %y : tensor<1x2x3x3xf32>
}
