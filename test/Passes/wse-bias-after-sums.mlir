// A sum whose init is a broadcast bias starts from zero and adds the bias after,
// so that PEs summing parts of k can combine their partial sums; a max pool over a
// broadcast, whose parts do not start from a sum's identity either way, and a
// depthwise convolution, whose k is never split, are kept.
// RUN: wafer-opt %s -p 'wse-bias-after-sums' | filecheck %s

// CHECK-LABEL: func.func @conv_with_bias
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x5x5xf32>, %[[W:.*]]: tensor<4x8x3x3xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZERO]] : f32)
// CHECK: %[[SUMS:.*]] = linalg.conv_2d_nchw_fchw
// CHECK-SAME: ins(%[[X]], %[[W]] : {{.*}}) outs(%[[FILL]] : tensor<1x4x3x3xf32>)
// CHECK: %[[ADD:.*]] = linalg.generic
// CHECK-SAME: ins(%[[SUMS]], %[[B]] : tensor<1x4x3x3xf32>, tensor<4xf32>)
// CHECK: arith.addf
// CHECK-NOT: linalg.broadcast
// CHECK: return %[[ADD]]
func.func @conv_with_bias(%x: tensor<1x8x5x5xf32>, %w: tensor<4x8x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x3x3xf32> {
  %e = tensor.empty() : tensor<1x4x3x3xf32>
  %init = linalg.broadcast ins(%b : tensor<4xf32>) outs(%e : tensor<1x4x3x3xf32>) dimensions = [0, 2, 3]
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
    ins(%x, %w : tensor<1x8x5x5xf32>, tensor<4x8x3x3xf32>) outs(%init : tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  return %y : tensor<1x4x3x3xf32>
}

// CHECK-LABEL: func.func @matmul_with_bias
// CHECK: linalg.fill
// CHECK: linalg.matmul
// CHECK: linalg.generic
// CHECK: arith.addf
func.func @matmul_with_bias(%a: tensor<6x16xf32>, %w: tensor<16x4xf32>, %b: tensor<4xf32>) -> tensor<6x4xf32> {
  %e = tensor.empty() : tensor<6x4xf32>
  %init = linalg.broadcast ins(%b : tensor<4xf32>) outs(%e : tensor<6x4xf32>) dimensions = [0]
  %y = linalg.matmul ins(%a, %w : tensor<6x16xf32>, tensor<16x4xf32>) outs(%init : tensor<6x4xf32>) -> tensor<6x4xf32>
  return %y : tensor<6x4xf32>
}

// CHECK-LABEL: func.func @max_pool_over_broadcast
// CHECK: linalg.broadcast
// CHECK: linalg.pooling_nchw_max
// CHECK-NOT: arith.addf
func.func @max_pool_over_broadcast(%x: tensor<1x2x4x4xf32>, %b: tensor<2xf32>) -> tensor<1x2x2x2xf32> {
  %k = tensor.empty() : tensor<2x2xf32>
  %e = tensor.empty() : tensor<1x2x2x2xf32>
  %init = linalg.broadcast ins(%b : tensor<2xf32>) outs(%e : tensor<1x2x2x2xf32>) dimensions = [0, 2, 3]
  %y = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
    ins(%x, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// A depthwise convolution sums no channels: its k (the window) is never split.
// CHECK-LABEL: func.func @depthwise_with_bias
// CHECK: linalg.broadcast
// CHECK: linalg.depthwise_conv_2d_nchw_chw
// CHECK-NOT: arith.addf
func.func @depthwise_with_bias(%x: tensor<1x8x5x5xf32>, %w: tensor<8x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x3x3xf32> {
  %e = tensor.empty() : tensor<1x8x3x3xf32>
  %init = linalg.broadcast ins(%b : tensor<8xf32>) outs(%e : tensor<1x8x3x3xf32>) dimensions = [0, 2, 3]
  %y = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
    ins(%x, %w : tensor<1x8x5x5xf32>, tensor<8x3x3xf32>) outs(%init : tensor<1x8x3x3xf32>) -> tensor<1x8x3x3xf32>
  return %y : tensor<1x8x3x3xf32>
}
