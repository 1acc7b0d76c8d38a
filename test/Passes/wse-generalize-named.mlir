// RUN: wafer-opt %s -p wse-generalize-named | filecheck %s
// RUN: wafer-opt %s -p 'wse-generalize-named{keep=matmul}' | filecheck %s --check-prefix=MATMUL

// Fills, matmuls and everything but convolutions become generics; the
// convolution stays named, so that elementwise fusion cannot put the ReLU
// before it into its windows.
// CHECK-LABEL: func.func @conv_after_relu
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.matmul
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-NOT: linalg.conv
// With keep=matmul, the matmul stays named and the convolution does not.
// MATMUL-LABEL: func.func @conv_after_relu
// MATMUL-NOT: linalg.conv_2d_nchw_fchw
// MATMUL: linalg.matmul
func.func @conv_after_relu(%x: tensor<1x2x6x6xf32>, %f: tensor<3x2x3x3xf32>, %a: tensor<4x4xf32>) -> (tensor<1x3x4x4xf32>, tensor<4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x3x4x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw ins(%x, %f : tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32>) outs(%init : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %e2 = tensor.empty() : tensor<4x4xf32>
  %init2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %m = linalg.matmul ins(%a, %a : tensor<4x4xf32>, tensor<4x4xf32>) outs(%init2 : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %c, %m : tensor<1x3x4x4xf32>, tensor<4x4xf32>
}
