// RUN: wafer-opt %s -p wafer-decompose-attention | filecheck %s

// Scores Q K^T as a batch_matmul reading K in place, scaled by 1/sqrt(4) plus the mask.
// CHECK-DAG: #[[$Q:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$K:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[$C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ROW:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>

// CHECK-LABEL: func.func @additive
// CHECK-SAME: (%[[Q:.*]]: tensor<2x5x4xf32>, %[[K:.*]]: tensor<2x7x4xf32>, %[[V:.*]]: tensor<2x7x3xf32>, %[[M:.*]]: tensor<2x5x7xf32>)
// CHECK-NOT: tm_tensor.attention
// CHECK: %[[S:.*]] = linalg.batch_matmul indexing_maps = [#[[$Q]], #[[$K]], #[[$C]]] ins(%[[Q]], %[[K]] :
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[M]] :
// CHECK: arith.constant 5.000000e-01
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.constant 0xFF800000
// CHECK: %[[MAX:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[T]] :
// CHECK: arith.maximumf
// A fully masked row's maximum is -inf: 0 takes its place.
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[T]], %[[MAX]] :
// CHECK: arith.cmpf oeq
// CHECK: arith.select
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[E]] :
// One reciprocal a row, 0 for a row of sum 0, and P = E times it.
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%[[SUM]] :
// CHECK: arith.cmpf oeq
// CHECK: arith.divf
// CHECK: arith.select
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]], #[[$ID]]], {{.*}} ins(%[[E]], %[[R]] :
// CHECK: arith.mulf
// CHECK: %[[O:.*]] = linalg.batch_matmul ins(%[[P]], %[[V]] :
// CHECK: return %[[O]]
func.func @additive(%q: tensor<2x5x4xf32>, %k: tensor<2x7x4xf32>, %v: tensor<2x7x3xf32>, %m: tensor<2x5x7xf32>) -> tensor<2x5x3xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x5x3xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<2x5x3xf32>) -> tensor<2x5x3xf32>
  %r = tm_tensor.attention ins(%q, %k, %v, %m : tensor<2x5x4xf32>, tensor<2x7x4xf32>, tensor<2x7x3xf32>, tensor<2x5x7xf32>) outs(%init : tensor<2x5x3xf32>) -> tensor<2x5x3xf32>
  return %r : tensor<2x5x3xf32>
}

// torch-mlir imports masked attention over [batch x heads] collapsed: the
// softmax runs over [batch, heads] again (the mask read before its collapse),
// and P is collapsed back for P V, the form of unmasked attention that
// wafer-attention-head-groups cuts into groups of heads.
// CHECK-LABEL: func.func @collapsed_heads
// CHECK-SAME: (%[[Q:.*]]: tensor<2x3x5x4xf32>, %[[K:.*]]: tensor<2x3x7x4xf32>, %[[V:.*]]: tensor<2x3x7x4xf32>, %[[M:.*]]: tensor<2x3x5x7xi1>)
// CHECK: %[[S:.*]] = linalg.batch_matmul {{.*}} -> tensor<6x5x7xf32>
// CHECK: %[[SPLIT:.*]] = tensor.expand_shape %[[S]] {{\[\[}}0, 1], [2], [3]] {{.*}} into tensor<2x3x5x7xf32>
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%[[SPLIT]], %[[M]] : tensor<2x3x5x7xf32>, tensor<2x3x5x7xi1>)
// CHECK: %[[PC:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2], [3]] : tensor<2x3x5x7xf32> into tensor<6x5x7xf32>
// CHECK: linalg.batch_matmul ins(%[[PC]], %{{.*}} : tensor<6x5x7xf32>, tensor<6x7x4xf32>)
func.func @collapsed_heads(%q: tensor<2x3x5x4xf32>, %k: tensor<2x3x7x4xf32>, %v: tensor<2x3x7x4xf32>, %m: tensor<2x3x5x7xi1>) -> tensor<6x5x4xf32> {
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x3x5x4xf32> into tensor<6x5x4xf32>
  %k3 = tensor.collapse_shape %k [[0, 1], [2], [3]] : tensor<2x3x7x4xf32> into tensor<6x7x4xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x3x7x4xf32> into tensor<6x7x4xf32>
  %m3 = tensor.collapse_shape %m [[0, 1], [2], [3]] : tensor<2x3x5x7xi1> into tensor<6x5x7xi1>
  %e = tensor.empty() : tensor<6x5x4xf32>
  %r = tm_tensor.attention ins(%q3, %k3, %v3, %m3 : tensor<6x5x4xf32>, tensor<6x7x4xf32>, tensor<6x7x4xf32>, tensor<6x5x7xi1>) outs(%e : tensor<6x5x4xf32>) -> tensor<6x5x4xf32>
  return %r : tensor<6x5x4xf32>
}

// A boolean mask keeps a score or puts -inf; the op's own scale replaces 1/sqrt(d).
// CHECK-LABEL: func.func @boolean
// CHECK-NOT: tm_tensor.attention
// CHECK: ^bb0(%[[SCORE:.*]]: f32, %[[KEEP:.*]]: i1, %{{.*}}: f32):
// CHECK: arith.constant 3.000000e-01
// CHECK: %[[SCALED:.*]] = arith.mulf %[[SCORE]]
// CHECK: %[[NEG:.*]] = arith.constant 0xFF800000
// CHECK: arith.select %[[KEEP]], %[[SCALED]], %[[NEG]]
func.func @boolean(%q: tensor<1x4x8xf32>, %k: tensor<1x6x8xf32>, %v: tensor<1x6x8xf32>, %m: tensor<1x4x6xi1>) -> tensor<1x4x8xf32> {
  %e = tensor.empty() : tensor<1x4x8xf32>
  %r = tm_tensor.attention {scale = 3.000000e-01 : f64} ins(%q, %k, %v, %m : tensor<1x4x8xf32>, tensor<1x6x8xf32>, tensor<1x6x8xf32>, tensor<1x4x6xi1>) outs(%e : tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return %r : tensor<1x4x8xf32>
}

// Dynamic shapes are left to tm-tensor-to-loops.
// CHECK-LABEL: func.func @dynamic
// CHECK: tm_tensor.attention
func.func @dynamic(%q: tensor<?x4x8xf32>, %k: tensor<?x6x8xf32>, %v: tensor<?x6x8xf32>, %o: tensor<?x4x8xf32>) -> tensor<?x4x8xf32> {
  %r = tm_tensor.attention ins(%q, %k, %v : tensor<?x4x8xf32>, tensor<?x6x8xf32>, tensor<?x6x8xf32>) outs(%o : tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  return %r : tensor<?x4x8xf32>
}
