// RUN: wafer-opt %s -p 'wafer-fold-zero-trip' | filecheck %s

// A matmul with K = 0 never runs its body: its result is its init (the bias).
// CHECK-LABEL: func.func @empty_reduction
// CHECK-NOT: linalg.matmul
// CHECK: return %arg2 : tensor<3x4xf32>
func.func @empty_reduction(%a: tensor<3x0xf32>, %b: tensor<0x4xf32>, %bias: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<3x0xf32>, tensor<0x4xf32>) outs(%bias : tensor<3x4xf32>) -> tensor<3x4xf32>
  return %r : tensor<3x4xf32>
}

// A zero-channel convolution's output is its init too.
// CHECK-LABEL: func.func @zero_channels
// CHECK-NOT: linalg.conv_2d_nchw_fchw
// CHECK: return %arg2
func.func @zero_channels(%x: tensor<1x0x5x5xf32>, %w: tensor<2x0x3x3xf32>, %init: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %r = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x0x5x5xf32>, tensor<2x0x3x3xf32>) outs(%init : tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  return %r : tensor<1x2x3x3xf32>
}

// Non-empty inputs, and a fill (whose input is a scalar), are left alone.
// CHECK-LABEL: func.func @nonempty
// CHECK: linalg.fill
// CHECK: linalg.matmul
func.func @nonempty(%a: tensor<3x2xf32>, %b: tensor<2x4xf32>) -> tensor<3x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x4xf32>) -> tensor<3x4xf32>
  %r = linalg.matmul ins(%a, %b : tensor<3x2xf32>, tensor<2x4xf32>) outs(%f : tensor<3x4xf32>) -> tensor<3x4xf32>
  return %r : tensor<3x4xf32>
}
