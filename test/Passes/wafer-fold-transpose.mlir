// RUN: wafer-opt %s -p wafer-fold-transpose,canonicalize | filecheck %s

// CHECK-DAG: #[[$A:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$WT:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$C:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>

// CHECK-LABEL: func.func @linear_weight
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>, %[[W:.*]]: tensor<16x8xf32>, %[[INIT:.*]]: tensor<4x16xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: linalg.matmul indexing_maps = [#[[$A]], #[[$WT]], #[[$C]]] ins(%[[X]], %[[W]] : tensor<4x8xf32>, tensor<16x8xf32>) outs(%[[INIT]] : tensor<4x16xf32>)
func.func @linear_weight(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %init: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %e = tensor.empty() : tensor<8x16xf32>
  %t = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%e : tensor<8x16xf32>) permutation = [1, 0]
  %r = linalg.matmul ins(%x, %t : tensor<4x8xf32>, tensor<8x16xf32>) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// A batch_matmul reads its batch dim first in every operand: a transpose that
// moves the batch dim stays.
// CHECK-LABEL: func.func @batch_dim_moved
// CHECK: linalg.transpose
// CHECK: linalg.batch_matmul ins
func.func @batch_dim_moved(%x: tensor<2x4x8xf32>, %w: tensor<8x2x16xf32>, %init: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %e = tensor.empty() : tensor<2x8x16xf32>
  %t = linalg.transpose ins(%w : tensor<8x2x16xf32>) outs(%e : tensor<2x8x16xf32>) permutation = [1, 0, 2]
  %r = linalg.batch_matmul ins(%x, %t : tensor<2x4x8xf32>, tensor<2x8x16xf32>) outs(%init : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  return %r : tensor<2x4x16xf32>
}

// CHECK-LABEL: func.func @batch_keys_transposed
// CHECK-NOT: linalg.transpose
// CHECK: linalg.batch_matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%{{.*}}, %{{.*}} : tensor<2x4x8xf32>, tensor<2x16x8xf32>)
func.func @batch_keys_transposed(%q: tensor<2x4x8xf32>, %k: tensor<2x16x8xf32>, %init: tensor<2x4x16xf32>) -> tensor<2x4x16xf32> {
  %e = tensor.empty() : tensor<2x8x16xf32>
  %t = linalg.transpose ins(%k : tensor<2x16x8xf32>) outs(%e : tensor<2x8x16xf32>) permutation = [0, 2, 1]
  %r = linalg.batch_matmul ins(%q, %t : tensor<2x4x8xf32>, tensor<2x8x16xf32>) outs(%init : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  return %r : tensor<2x4x16xf32>
}

// Attention's K^T as torch-mlir imports it: the transpose of K's last two
// dims, then its batch and heads collapsed. K is read in place, collapsed alike.
// CHECK-LABEL: func.func @heads_collapsed_after_transpose
// CHECK-SAME: (%[[Q:.*]]: tensor<2x3x4x8xf32>, %[[K:.*]]: tensor<2x3x16x8xf32>
// CHECK-NOT: linalg.transpose
// CHECK-DAG: %[[QC:.*]] = tensor.collapse_shape %[[Q]] {{\[}}[0, 1], [2], [3]] : tensor<2x3x4x8xf32> into tensor<6x4x8xf32>
// CHECK-DAG: %[[KC:.*]] = tensor.collapse_shape %[[K]] {{\[}}[0, 1], [2], [3]] : tensor<2x3x16x8xf32> into tensor<6x16x8xf32>
// CHECK: linalg.batch_matmul indexing_maps = [#{{.*}}, #[[$KT:.*]], #{{.*}}] ins(%[[QC]], %[[KC]] : tensor<6x4x8xf32>, tensor<6x16x8xf32>)
func.func @heads_collapsed_after_transpose(%q: tensor<2x3x4x8xf32>, %k: tensor<2x3x16x8xf32>,
                                           %init: tensor<6x4x16xf32>) -> tensor<6x4x16xf32> {
  %e = tensor.empty() : tensor<2x3x8x16xf32>
  %t = linalg.transpose ins(%k : tensor<2x3x16x8xf32>) outs(%e : tensor<2x3x8x16xf32>) permutation = [0, 1, 3, 2]
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x3x4x8xf32> into tensor<6x4x8xf32>
  %kc = tensor.collapse_shape %t [[0, 1], [2], [3]] : tensor<2x3x8x16xf32> into tensor<6x8x16xf32>
  %r = linalg.batch_matmul ins(%qc, %kc : tensor<6x4x8xf32>, tensor<6x8x16xf32>) outs(%init : tensor<6x4x16xf32>) -> tensor<6x4x16xf32>
  return %r : tensor<6x4x16xf32>
}

// A collapse that merges two dims the transpose swapped reads no run of K's
// dims in order: the transpose stays.
// CHECK-LABEL: func.func @collapse_across_the_transpose
// CHECK: linalg.transpose
// CHECK: linalg.batch_matmul ins
func.func @collapse_across_the_transpose(%q: tensor<2x4x12xf32>, %k: tensor<2x4x3x8xf32>,
                                         %init: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %e = tensor.empty() : tensor<2x3x4x8xf32>
  %t = linalg.transpose ins(%k : tensor<2x4x3x8xf32>) outs(%e : tensor<2x3x4x8xf32>) permutation = [0, 2, 1, 3]
  %kc = tensor.collapse_shape %t [[0], [1, 2], [3]] : tensor<2x3x4x8xf32> into tensor<2x12x8xf32>
  %r = linalg.batch_matmul ins(%q, %kc : tensor<2x4x12xf32>, tensor<2x12x8xf32>) outs(%init : tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %r : tensor<2x4x8xf32>
}

// The heads moved behind the tokens, then merged with them: dims 2 and 3 of
// K, a run in order, so K is read in place.
// CHECK-LABEL: func.func @run_of_dims_collapsed
// CHECK-NOT: linalg.transpose
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : tensor<2x8x3x4xf32> into tensor<2x8x12xf32>
// CHECK: linalg.batch_matmul indexing_maps
func.func @run_of_dims_collapsed(%q: tensor<2x4x12xf32>, %k: tensor<2x8x3x4xf32>,
                                 %init: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %e = tensor.empty() : tensor<2x3x4x8xf32>
  %t = linalg.transpose ins(%k : tensor<2x8x3x4xf32>) outs(%e : tensor<2x3x4x8xf32>) permutation = [0, 2, 3, 1]
  %kc = tensor.collapse_shape %t [[0], [1, 2], [3]] : tensor<2x3x4x8xf32> into tensor<2x12x8xf32>
  %r = linalg.batch_matmul ins(%q, %kc : tensor<2x4x12xf32>, tensor<2x12x8xf32>) outs(%init : tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %r : tensor<2x4x8xf32>
}

// Dynamic batch and tokens: the collapsed batch dim stays dynamic.
// CHECK-LABEL: func.func @dynamic_heads_collapsed
// CHECK-NOT: linalg.transpose
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2], [3]] : tensor<?x3x?x8xf32> into tensor<?x?x8xf32>
// CHECK: linalg.batch_matmul indexing_maps
func.func @dynamic_heads_collapsed(%q: tensor<?x4x8xf32>, %k: tensor<?x3x?x8xf32>,
                                   %init: tensor<?x4x?xf32>) -> tensor<?x4x?xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %k, %c0 : tensor<?x3x?x8xf32>
  %n = tensor.dim %k, %c2 : tensor<?x3x?x8xf32>
  %e = tensor.empty(%b, %n) : tensor<?x3x8x?xf32>
  %t = linalg.transpose ins(%k : tensor<?x3x?x8xf32>) outs(%e : tensor<?x3x8x?xf32>) permutation = [0, 1, 3, 2]
  %kc = tensor.collapse_shape %t [[0, 1], [2], [3]] : tensor<?x3x8x?xf32> into tensor<?x8x?xf32>
  %r = linalg.batch_matmul ins(%q, %kc : tensor<?x4x8xf32>, tensor<?x8x?xf32>) outs(%init : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  return %r : tensor<?x4x?xf32>
}
