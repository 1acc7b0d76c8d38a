// RUN: wafer-opt %s -p wafer-fold-broadcast | filecheck %s

// torch-mlir's `x @ W` for a 3-D x: the weight copied to every batch entry.
// CHECK-DAG: #[[$A:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d0, d3)>
// CHECK-DAG: #[[$W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[$C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// CHECK-LABEL: func.func @projection
// CHECK-SAME: (%[[X:.*]]: tensor<3x5x8xf32>, %[[W:.*]]: tensor<16x8xf32>, %[[INIT:.*]]: tensor<5x3x16xf32>)
// CHECK-NOT: linalg.transpose
// CHECK-NOT: linalg.batch_matmul
// CHECK: linalg.generic {indexing_maps = [#[[$A]], #[[$W]], #[[$C]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]], %[[W]] : tensor<3x5x8xf32>, tensor<16x8xf32>) outs(%[[INIT]] : tensor<5x3x16xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f32, %[[IN_W:.*]]: f32, %[[OUT:.*]]: f32):
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[IN]], %[[IN_W]] : f32
// CHECK-NEXT: %[[S:.*]] = arith.addf %[[OUT]], %[[P]] : f32
// CHECK-NEXT: linalg.yield %[[S]] : f32
func.func @projection(%x: tensor<3x5x8xf32>, %w: tensor<16x8xf32>, %init: tensor<5x3x16xf32>) -> tensor<5x3x16xf32> {
  %ex = tensor.empty() : tensor<5x3x8xf32>
  %xt = linalg.transpose ins(%x : tensor<3x5x8xf32>) outs(%ex : tensor<5x3x8xf32>) permutation = [1, 0, 2]
  %ew = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%ew : tensor<8x16xf32>) permutation = [1, 0]
  %eb = tensor.empty() : tensor<5x8x16xf32>
  %wb = linalg.generic {indexing_maps = [affine_map<(b, k, n) -> (k, n)>, affine_map<(b, k, n) -> (b, k, n)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%wt : tensor<8x16xf32>) outs(%eb : tensor<5x8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<5x8x16xf32>
  %r = linalg.batch_matmul ins(%xt, %wb : tensor<5x3x8xf32>, tensor<5x8x16xf32>) outs(%init : tensor<5x3x16xf32>) -> tensor<5x3x16xf32>
  return %r : tensor<5x3x16xf32>
}

// Without a broadcast operand the batch_matmul and its transposes stay.
// CHECK-LABEL: func.func @no_broadcast
// CHECK: linalg.transpose
// CHECK: linalg.batch_matmul ins
func.func @no_broadcast(%x: tensor<3x5x8xf32>, %w: tensor<5x8x16xf32>, %init: tensor<5x3x16xf32>) -> tensor<5x3x16xf32> {
  %ex = tensor.empty() : tensor<5x3x8xf32>
  %xt = linalg.transpose ins(%x : tensor<3x5x8xf32>) outs(%ex : tensor<5x3x8xf32>) permutation = [1, 0, 2]
  %r = linalg.batch_matmul ins(%xt, %w : tensor<5x3x8xf32>, tensor<5x8x16xf32>) outs(%init : tensor<5x3x16xf32>) -> tensor<5x3x16xf32>
  return %r : tensor<5x3x16xf32>
}

// A generic that computes (not only copies) is no broadcast.
// CHECK-LABEL: func.func @scaled_weight
// CHECK: arith.mulf
// CHECK: linalg.batch_matmul ins
func.func @scaled_weight(%x: tensor<5x3x8xf32>, %w: tensor<8x16xf32>, %init: tensor<5x3x16xf32>) -> tensor<5x3x16xf32> {
  %eb = tensor.empty() : tensor<5x8x16xf32>
  %wb = linalg.generic {indexing_maps = [affine_map<(b, k, n) -> (k, n)>, affine_map<(b, k, n) -> (b, k, n)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%w : tensor<8x16xf32>) outs(%eb : tensor<5x8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.mulf %in, %in : f32
    linalg.yield %s : f32
  } -> tensor<5x8x16xf32>
  %r = linalg.batch_matmul ins(%x, %wb : tensor<5x3x8xf32>, tensor<5x8x16xf32>) outs(%init : tensor<5x3x16xf32>) -> tensor<5x3x16xf32>
  return %r : tensor<5x3x16xf32>
}
