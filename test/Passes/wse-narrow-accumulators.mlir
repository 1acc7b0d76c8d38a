// RUN: wafer-opt %s -p wse-narrow-accumulators | filecheck %s

// A 16-bit matmul as torch-mlir imports it: f16 operands, a zero-filled f32
// accumulator, a truncation after. Narrowed, the fill and the product are f16
// and the consumer reads the product as it is.
// CHECK-LABEL: func.func @matmul
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f16
// CHECK: %[[FILL:.*]] = linalg.fill ins(%[[ZERO]] : f16) outs(%{{.*}} : tensor<4x8xf16>)
// CHECK: %[[MM:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<4x16xf16>, tensor<16x8xf16>) outs(%[[FILL]] : tensor<4x8xf16>) -> tensor<4x8xf16>
// CHECK: linalg.generic {{.*}} ins(%[[MM]] : tensor<4x8xf16>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f16, %{{.*}}: f16):
// CHECK-NEXT: linalg.yield %[[IN]] : f16
func.func @matmul(%a: tensor<4x16xf16>, %b: tensor<16x8xf16>) -> tensor<4x8xf16> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %c = linalg.matmul ins(%a, %b : tensor<4x16xf16>, tensor<16x8xf16>) outs(%init : tensor<4x8xf32>) -> tensor<4x8xf32>
  %e16 = tensor.empty() : tensor<4x8xf16>
  %t = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%c : tensor<4x8xf32>) outs(%e16 : tensor<4x8xf16>) {
  ^bb0(%in: f32, %out: f16):
    %r = arith.truncf %in : f32 to f16
    linalg.yield %r : f16
  } -> tensor<4x8xf16>
  return %t : tensor<4x8xf16>
}

// A convolution whose init is its f16 bias, widened then broadcast: the bias
// is broadcast as it is. A consumer that computes in f32 reads an extension.
// CHECK-LABEL: func.func @conv_with_bias
// CHECK: %[[BIAS:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<3xf16>) outs(%{{.*}} : tensor<3xf16>)
// CHECK: %[[INIT:.*]] = linalg.broadcast ins(%[[BIAS]] : tensor<3xf16>) outs(%{{.*}} : tensor<1x3x4x4xf16>)
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {{.*}} outs(%[[INIT]] : tensor<1x3x4x4xf16>) -> tensor<1x3x4x4xf16>
// CHECK: linalg.generic {{.*}} ins(%[[CONV]] : tensor<1x3x4x4xf16>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f16, %{{.*}}: f32):
// CHECK-NEXT: %[[WIDE:.*]] = arith.extf %[[IN]] : f16 to f32
// CHECK-NEXT: math.exp %[[WIDE]] : f32
func.func @conv_with_bias(%x: tensor<1x2x6x6xf16>, %f: tensor<3x2x3x3xf16>, %bias: tensor<3xf16>) -> tensor<1x3x4x4xf32> {
  %eb = tensor.empty() : tensor<3xf32>
  %wide = linalg.generic {indexing_maps = [affine_map<(c) -> (c)>, affine_map<(c) -> (c)>],
                          iterator_types = ["parallel"]}
      ins(%bias : tensor<3xf16>) outs(%eb : tensor<3xf32>) {
  ^bb0(%in: f16, %out: f32):
    %w = arith.extf %in : f16 to f32
    linalg.yield %w : f32
  } -> tensor<3xf32>
  %e = tensor.empty() : tensor<1x3x4x4xf32>
  %init = linalg.broadcast ins(%wide : tensor<3xf32>) outs(%e : tensor<1x3x4x4xf32>) dimensions = [0, 2, 3]
  %c = linalg.conv_2d_nchw_fchw ins(%x, %f : tensor<1x2x6x6xf16>, tensor<3x2x3x3xf16>) outs(%init : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %exp = linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (n, c, h, w)>],
                         iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c : tensor<1x3x4x4xf32>) outs(%e : tensor<1x3x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<1x3x4x4xf32>
  return %exp : tensor<1x3x4x4xf32>
}

// A product returned as f32 is widened back after it; a sum of f32 values
// (softmax's, after its own widening) is no 16-bit product and stays.
// CHECK-LABEL: func.func @returned_and_f32_sum
// CHECK: %[[MM:.*]] = linalg.matmul {{.*}} -> tensor<2x2xf16>
// CHECK: %[[BACK:.*]] = linalg.generic {{.*}} ins(%[[MM]] : tensor<2x2xf16>) outs(%{{.*}} : tensor<2x2xf32>)
// CHECK: arith.extf
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<2x2xf32>) outs(%{{.*}} : tensor<2xf32>)
// CHECK: return %[[BACK]], %[[SUM]]
func.func @returned_and_f32_sum(%a: tensor<2x2xf16>, %s: tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<2xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %c = linalg.matmul ins(%a, %a : tensor<2x2xf16>, tensor<2x2xf16>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  %e1 = tensor.empty() : tensor<2xf32>
  %init1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2xf32>) -> tensor<2xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%s : tensor<2x2xf32>) outs(%init1 : tensor<2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<2xf32>
  return %c, %sum : tensor<2x2xf32>, tensor<2xf32>
}
