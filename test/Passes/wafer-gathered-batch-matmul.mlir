// RUN: wafer-opt %s -p 'wafer-gathered-batch-matmul,func.func(canonicalize,cse)' | filecheck %s

// A batched product of rows gathered by a checked index and of matrices
// gathered by another, read transposed (a mixture of experts' items): the
// checks run first in a serial loop, then each batch is a matmul of the
// tables' own slices, with no gathered copy.
// CHECK-LABEL: func.func @experts
// CHECK: scf.for %[[P:.*]] = %c0 to %c3 step %c1 {
// CHECK: cf.assert
// CHECK: }
// CHECK: %[[ITEMS:.*]] = scf.forall (%[[I:.*]]) in (3) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<3x4x16xf32>)
// CHECK-NOT: cf.assert
// CHECK-DAG: %[[ROWS:.*]] = tensor.extract_slice %arg2[%{{.*}}, 0, 0] [1, 4, 8] [1, 1, 1] : tensor<5x4x8xf32> to tensor<4x8xf32>
// CHECK-DAG: %[[MATRIX:.*]] = tensor.extract_slice %arg3[%{{.*}}, 0, 0] [1, 16, 8] [1, 1, 1] : tensor<6x16x8xf32> to tensor<16x8xf32>
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[MATRIX]] : tensor<16x8xf32>) {{.*}} permutation = [1, 0]
// CHECK: %[[PRODUCT:.*]] = linalg.matmul {{.*}}ins(%[[ROWS]], %[[T]] : tensor<4x8xf32>, tensor<8x16xf32>)
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[I]], 0, 0] [1, 4, 16]
// CHECK-NOT: linalg.batch_matmul
// CHECK: return %[[ITEMS]]
#item = affine_map<(d0, d1, d2) -> (d0)>
#out = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @experts(%blocks: tensor<3xi64>, %experts: tensor<3xi64>, %rows: tensor<5x4x8xf32>,
                   %weights: tensor<6x16x8xf32>) -> tensor<3x4x16xf32> {
  %c5 = arith.constant 5 : index
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<3x4x8xf32>
  %a = linalg.generic {indexing_maps = [#item, #out], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%blocks : tensor<3xi64>) outs(%e1 : tensor<3x4x8xf32>) {
  ^bb0(%b: i64, %o: f32):
    %block = arith.index_cast %b : i64 to index
    %inside = arith.cmpi ult, %block, %c5 : index
    cf.assert %inside, "index out of range"
    %r = linalg.index 1 : index
    %c = linalg.index 2 : index
    %v = tensor.extract %rows[%block, %r, %c] : tensor<5x4x8xf32>
    linalg.yield %v : f32
  } -> tensor<3x4x8xf32>
  %e2 = tensor.empty() : tensor<3x16x8xf32>
  %w = linalg.generic {indexing_maps = [#item, #out], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%experts : tensor<3xi64>) outs(%e2 : tensor<3x16x8xf32>) {
  ^bb0(%e: i64, %o: f32):
    %expert = arith.index_cast %e : i64 to index
    %r = linalg.index 1 : index
    %c = linalg.index 2 : index
    %v = tensor.extract %weights[%expert, %r, %c] : tensor<6x16x8xf32>
    linalg.yield %v : f32
  } -> tensor<3x16x8xf32>
  %e3 = tensor.empty() : tensor<3x8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<3x16x8xf32>) outs(%e3 : tensor<3x8x16xf32>) permutation = [0, 2, 1]
  %e4 = tensor.empty() : tensor<3x4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e4 : tensor<3x4x16xf32>) -> tensor<3x4x16xf32>
  %y = linalg.batch_matmul ins(%a, %wt : tensor<3x4x8xf32>, tensor<3x8x16xf32>) outs(%init : tensor<3x4x16xf32>)
      -> tensor<3x4x16xf32>
  return %y : tensor<3x4x16xf32>
}

// Kept: operands that are no gathers, and a gather read twice (its copy is
// shared).
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-2: linalg.batch_matmul
func.func @kept(%x: tensor<2x4x8xf32>, %y: tensor<2x8x16xf32>, %ids: tensor<2xi64>, %table: tensor<6x8x16xf32>)
    -> (tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  %plain = linalg.batch_matmul ins(%x, %y : tensor<2x4x8xf32>, tensor<2x8x16xf32>) outs(%init : tensor<2x4x16xf32>)
      -> tensor<2x4x16xf32>
  %e2 = tensor.empty() : tensor<2x8x16xf32>
  %g = linalg.generic {indexing_maps = [#item, #out], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ids : tensor<2xi64>) outs(%e2 : tensor<2x8x16xf32>) {
  ^bb0(%i: i64, %o: f32):
    %row = arith.index_cast %i : i64 to index
    %r = linalg.index 1 : index
    %c = linalg.index 2 : index
    %v = tensor.extract %table[%row, %r, %c] : tensor<6x8x16xf32>
    linalg.yield %v : f32
  } -> tensor<2x8x16xf32>
  %shared = linalg.batch_matmul ins(%x, %g : tensor<2x4x8xf32>, tensor<2x8x16xf32>) outs(%init : tensor<2x4x16xf32>)
      -> tensor<2x4x16xf32>
  return %plain, %shared, %g : tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x8x16xf32>
}
