// RUN: wafer-opt %s -p wafer-fold-broadcast | filecheck %s

// torch-mlir's `x @ W` for a 3-D x: the weight copied to every batch entry.
// CHECK-DAG: #[[$A:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d0, d3)>
// CHECK-DAG: #[[$W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[$C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ROWS:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$WEIGHT:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>

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

// A Linear on a [1, 7, 7, 16] input: torch-mlir broadcasts W to [1, 7, 16, 8]
// and collapses its leading 1 into the batch. The batches become the rows of one matmul.
// CHECK-LABEL: func.func @stacked_rows
// CHECK-SAME: (%[[X:.*]]: tensor<7x7x16xf32>, %[[W:.*]]: tensor<16x8xf32>, %[[INIT:.*]]: tensor<7x7x8xf32>)
// CHECK-NOT: linalg.batch_matmul
// CHECK-DAG: %[[A:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<7x7x16xf32> into tensor<49x16xf32>
// CHECK-DAG: %[[C:.*]] = tensor.collapse_shape %[[INIT]] {{\[}}[0, 1], [2]] : tensor<7x7x8xf32> into tensor<49x8xf32>
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[$ROWS]], #[[$WEIGHT]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[A]], %[[W]] : tensor<49x16xf32>, tensor<16x8xf32>) outs(%[[C]] : tensor<49x8xf32>)
// CHECK: %[[R:.*]] = tensor.expand_shape %[[P]] {{\[}}[0, 1], [2]] output_shape [7, 7, 8]
// CHECK: return %[[R]]
func.func @stacked_rows(%x: tensor<7x7x16xf32>, %w: tensor<16x8xf32>, %init: tensor<7x7x8xf32>) -> tensor<7x7x8xf32> {
  %eb = tensor.empty() : tensor<1x7x16x8xf32>
  %wb = linalg.generic {indexing_maps = [affine_map<(a, b, k, n) -> (k, n)>, affine_map<(a, b, k, n) -> (a, b, k, n)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%w : tensor<16x8xf32>) outs(%eb : tensor<1x7x16x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<1x7x16x8xf32>
  %wc = tensor.collapse_shape %wb [[0, 1], [2], [3]] : tensor<1x7x16x8xf32> into tensor<7x16x8xf32>
  %r = linalg.batch_matmul ins(%x, %wc : tensor<7x7x16xf32>, tensor<7x16x8xf32>) outs(%init : tensor<7x7x8xf32>) -> tensor<7x7x8xf32>
  return %r : tensor<7x7x8xf32>
}
