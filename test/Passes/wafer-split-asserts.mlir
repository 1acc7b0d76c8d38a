// RUN: wafer-opt %s -p 'wafer-split-asserts,canonicalize' | filecheck %s

// Batch norm as torch-mlir emits it: the check on the per-channel variance
// runs once per activation inside the normalizing op. It moves to an op over
// the 3x1x1 variance alone; the normalizing op keeps only its arithmetic.
// CHECK-LABEL: func.func @batch_norm
// CHECK: linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg1 : tensor<3x1x1xf32>)
// CHECK: math.sqrt
// CHECK-NEXT: arith.cmpf one
// CHECK-NEXT: cf.assert %{{.*}}, "zero variance"
// CHECK-NEXT: linalg.yield
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<2x3x5x7xf32>, tensor<3x1x1xf32>)
// CHECK-NOT: cf.assert
// CHECK: arith.divf
// CHECK: return
func.func @batch_norm(%x: tensor<2x3x5x7xf32>, %var: tensor<3x1x1xf32>) -> tensor<2x3x5x7xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<2x3x5x7xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (c, 0, 0)>, affine_map<(n, c, h, w) -> (n, c, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %var : tensor<2x3x5x7xf32>, tensor<3x1x1xf32>) outs(%e : tensor<2x3x5x7xf32>) {
  ^bb0(%a: f32, %v: f32, %o: f32):
    %s = math.sqrt %v : f32
    %ok = arith.cmpf one, %s, %zero : f32
    cf.assert %ok, "zero variance"
    %inv = arith.divf %one, %s : f32
    %y = arith.mulf %a, %inv : f32
    linalg.yield %y : f32
  } -> tensor<2x3x5x7xf32>
  return %r : tensor<2x3x5x7xf32>
}

// Left alone: the condition reads inputs through two different maps.
// CHECK-LABEL: func.func @mixed_maps
// CHECK: linalg.generic
// CHECK: cf.assert
// CHECK-NEXT: linalg.yield %{{.*}} : f32
func.func @mixed_maps(%x: tensor<4x5xf32>, %b: tensor<5xf32>) -> tensor<4x5xf32> {
  %e = tensor.empty() : tensor<4x5xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : tensor<4x5xf32>, tensor<5xf32>) outs(%e : tensor<4x5xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %ok = arith.cmpf one, %a, %c : f32
    cf.assert %ok, "equal"
    linalg.yield %a : f32
  } -> tensor<4x5xf32>
  return %r : tensor<4x5xf32>
}
