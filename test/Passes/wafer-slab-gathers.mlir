// RUN: wafer-opt %s -p 'wafer-slab-gathers{machine=avx512}' | filecheck %s

// An embedding lookup as torch-mlir lowers it: each output element computes
// its token's row, checks it and loads one element. Each row of 32 is now one
// slice, the index computed and checked once a row, in a serial loop (a failed
// check must not return from a thread).
// CHECK-LABEL: func.func @embedding_rows
// CHECK: %[[ROWS:.*]] = scf.forall (%[[I:.*]], %[[J:.*]]) in (2, 5) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<2x5x32xf32>)
// CHECK: %[[ID:.*]] = tensor.extract %arg0[%[[I]], %[[J]]] : tensor<2x5xi64>
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i64 to index
// CHECK: cf.assert
// CHECK: %[[SLAB:.*]] = tensor.extract_slice %arg1[%[[ROW]], 0] [1, 32] [1, 1] : tensor<100x32xf32> to tensor<32xf32>
// CHECK: %[[TILE:.*]] = tensor.expand_shape %[[SLAB]] {{\[}}[0, 1, 2]] output_shape [1, 1, 32]
// CHECK: tensor.parallel_insert_slice %[[TILE]] into %[[OUT]][%[[I]], %[[J]], 0] [1, 1, 32] [1, 1, 1]
// CHECK: } {wafer.serial}
// CHECK: return %[[ROWS]]
#ids = affine_map<(d0, d1, d2) -> (d0, d1)>
#out = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @embedding_rows(%ids: tensor<2x5xi64>, %table: tensor<100x32xf32>) -> tensor<2x5x32xf32> {
  %c100 = arith.constant 100 : index
  %empty = tensor.empty() : tensor<2x5x32xf32>
  %rows = linalg.generic {indexing_maps = [#ids, #out], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ids : tensor<2x5xi64>) outs(%empty : tensor<2x5x32xf32>) {
  ^bb0(%id: i64, %o: f32):
    %row = arith.index_cast %id : i64 to index
    %inside = arith.cmpi ult, %row, %c100 : index
    cf.assert %inside, "index out of range"
    %col = linalg.index 2 : index
    %v = tensor.extract %table[%row, %col] : tensor<100x32xf32>
    linalg.yield %v : f32
  } -> tensor<2x5x32xf32>
  return %rows : tensor<2x5x32xf32>
}

// Whole matrices by an unchecked index (a mixture of experts' weights): a
// parallel loop, each 8x16 matrix one slice.
// CHECK-LABEL: func.func @expert_matrices
// CHECK: scf.forall (%[[P:.*]]) in (3)
// CHECK: %[[E:.*]] = arith.index_cast
// CHECK: tensor.extract_slice %arg1[%[[E]], 0, 0] [1, 8, 16] [1, 1, 1] : tensor<4x8x16xf32> to tensor<8x16xf32>
// CHECK-NOT: wafer.serial
// CHECK: return
#pick = affine_map<(d0, d1, d2) -> (d0)>
func.func @expert_matrices(%experts: tensor<3xi64>, %weights: tensor<4x8x16xf32>) -> tensor<3x8x16xf32> {
  %empty = tensor.empty() : tensor<3x8x16xf32>
  %picked = linalg.generic {indexing_maps = [#pick, #out], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%experts : tensor<3xi64>) outs(%empty : tensor<3x8x16xf32>) {
  ^bb0(%e: i64, %o: f32):
    %expert = arith.index_cast %e : i64 to index
    %r = linalg.index 1 : index
    %c = linalg.index 2 : index
    %v = tensor.extract %weights[%expert, %r, %c] : tensor<4x8x16xf32>
    linalg.yield %v : f32
  } -> tensor<3x8x16xf32>
  return %picked : tensor<3x8x16xf32>
}

// Kept: a gather of columns (the trailing index is the data), rows shorter than
// a vector (4 elements), and a body that computes with the element it loads.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: scf.forall
// CHECK-COUNT-3: linalg.generic
#cols = affine_map<(d0, d1) -> (d1)>
#out2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @kept(%ids: tensor<6xi64>, %table: tensor<32x100xf32>, %short: tensor<100x4xf32>)
    -> (tensor<32x6xf32>, tensor<6x4xf32>, tensor<6x32xf32>) {
  %e1 = tensor.empty() : tensor<32x6xf32>
  %columns = linalg.generic {indexing_maps = [#cols, #out2], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<6xi64>) outs(%e1 : tensor<32x6xf32>) {
  ^bb0(%id: i64, %o: f32):
    %col = arith.index_cast %id : i64 to index
    %row = linalg.index 0 : index
    %v = tensor.extract %table[%row, %col] : tensor<32x100xf32>
    linalg.yield %v : f32
  } -> tensor<32x6xf32>
  %e2 = tensor.empty() : tensor<6x4xf32>
  %rows = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, #out2], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<6xi64>) outs(%e2 : tensor<6x4xf32>) {
  ^bb0(%id: i64, %o: f32):
    %row = arith.index_cast %id : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %short[%row, %col] : tensor<100x4xf32>
    linalg.yield %v : f32
  } -> tensor<6x4xf32>
  %e3 = tensor.empty() : tensor<6x32xf32>
  %scaled = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, #out2], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<6xi64>) outs(%e3 : tensor<6x32xf32>) {
  ^bb0(%id: i64, %o: f32):
    %col = linalg.index 1 : index
    %v = tensor.extract %table[%col, %col] : tensor<32x100xf32>
    %w = arith.mulf %v, %v : f32
    linalg.yield %w : f32
  } -> tensor<6x32xf32>
  return %columns, %rows, %scaled : tensor<32x6xf32>, tensor<6x4xf32>, tensor<6x32xf32>
}

// Kept: indices known at compile time (the first 4 of 16 position ids), which
// a consumer's tiles read from the table in place (wafer-fuse-epilogues).
// CHECK-LABEL: func.func @constant_positions
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @constant_positions(%table: tensor<16x32xf32>) -> tensor<4x32xf32> {
  %ids = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]> : tensor<16xi64>
  %first = tensor.extract_slice %ids[0] [4] [1] : tensor<16xi64> to tensor<4xi64>
  %empty = tensor.empty() : tensor<4x32xf32>
  %rows = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, #out2], iterator_types = ["parallel", "parallel"]}
      ins(%first : tensor<4xi64>) outs(%empty : tensor<4x32xf32>) {
  ^bb0(%id: i64, %o: f32):
    %row = arith.index_cast %id : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %table[%row, %col] : tensor<16x32xf32>
    linalg.yield %v : f32
  } -> tensor<4x32xf32>
  return %rows : tensor<4x32xf32>
}

// Kept: a body that reads its init to pick the row computes more than a gather.
// CHECK-LABEL: func.func @reads_init
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
func.func @reads_init(%ids: tensor<6xi64>, %table: tensor<100x32xf32>, %init: tensor<6x32xf32>) -> tensor<6x32xf32> {
  %picked = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, #out2], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<6xi64>) outs(%init : tensor<6x32xf32>) {
  ^bb0(%id: i64, %o: f32):
    %bits = arith.fptosi %o : f32 to i64
    %sum = arith.addi %id, %bits : i64
    %row = arith.index_cast %sum : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %table[%row, %col] : tensor<100x32xf32>
    linalg.yield %v : f32
  } -> tensor<6x32xf32>
  return %picked : tensor<6x32xf32>
}
