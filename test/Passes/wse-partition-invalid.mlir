// wse-partition errors, at the op: what neither a region nor the streams
// between regions can run fails at compile time.
// RUN: wafer-opt %s -p wse-partition --split-input-file --verify-diagnostics

func.func @unsupported(%x: f32) -> tensor<2xf32> {
  // expected-error@+1 {{'tensor.from_elements' is not supported by the wse target}}
  %t = tensor.from_elements %x, %x : tensor<2xf32>
  return %t : tensor<2xf32>
}

// -----

func.func @named(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error@+1 {{'linalg.matmul' must be generalized before wse-partition}}
  %r = linalg.matmul ins(%a, %b : tensor<2x3xf32>, tensor<3x4xf32>) outs(%c : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}
