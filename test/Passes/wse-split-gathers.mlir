// RUN: wafer-opt %s -p wse-split-gathers | filecheck %s

// CHECK-DAG: #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ROWS3:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$COL3:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[$ID3:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ROW2:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[$COL2:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[$ID1:.*]] = affine_map<(d0) -> (d0)>

#ids = affine_map<(d0, d1, d2) -> (d0, d1)>
#col = affine_map<(d0, d1, d2) -> (d2)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row2 = affine_map<(d0, d1) -> (d0)>
#col2 = affine_map<(d0, d1) -> (d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>

// An embedding fused into the add after it: the lookup comes out, its row
// numbers (with their bounds check) in a generic of their own, the table read by
// a lookup generic; the add keeps only the arithmetic.
// CHECK-LABEL: func.func @embedding_plus
// CHECK-SAME: (%[[IDS:.*]]: tensor<2x4xi64>, %[[TABLE:.*]]: tensor<10x8xf32>, %[[X:.*]]: tensor<2x4x8xf32>)
// CHECK: %[[ROWS:.*]] = linalg.generic {indexing_maps = [#[[$ID2]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[IDS]] : tensor<2x4xi64>)
// CHECK: cf.assert
// CHECK: linalg.yield %{{.*}} : i64
// CHECK: %[[LOOKUP:.*]] = linalg.generic {indexing_maps = [#[[$ROWS3]], #[[$COL3]], #[[$ID3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[ROWS]], %{{.*}} : tensor<2x4xi64>, tensor<8xi64>)
// CHECK: tensor.extract %[[TABLE]]
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}}, %{{.*}}, %[[X]], %[[LOOKUP]] :
// CHECK-NOT: cf.assert
// CHECK-NOT: tensor.extract
// CHECK: arith.addf
func.func @embedding_plus(%ids: tensor<2x4xi64>, %table: tensor<10x8xf32>, %x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %cols = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : tensor<8xi64>
  %c10 = arith.constant 10 : index
  %e = tensor.empty() : tensor<2x4x8xf32>
  %y = linalg.generic {indexing_maps = [#ids, #col, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ids, %cols, %x : tensor<2x4xi64>, tensor<8xi64>, tensor<2x4x8xf32>) outs(%e : tensor<2x4x8xf32>) {
  ^bb0(%id: i64, %j: i64, %in: f32, %out: f32):
    %r = arith.index_cast %id : i64 to index
    %ok = arith.cmpi slt, %r, %c10 : index
    cf.assert %ok, "index must be smaller than dim size"
    %c = arith.index_cast %j : i64 to index
    %v = tensor.extract %table[%r, %c] : tensor<10x8xf32>
    %s = arith.addf %v, %in : f32
    linalg.yield %s : f32
  } -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// Already a lookup: the input holds each row, the innermost loop is the column.
// CHECK-LABEL: func.func @rows_held
// CHECK-SAME: (%[[IDS:.*]]: tensor<4xi64>, %[[TABLE:.*]]: tensor<10x8xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[$ROW2]], #[[$COL2]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[IDS]], %{{.*}} : tensor<4xi64>, tensor<8xi64>)
// CHECK-NOT: linalg.generic
func.func @rows_held(%ids: tensor<4xi64>, %table: tensor<10x8xf32>) -> tensor<4x8xf32> {
  %cols = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : tensor<8xi64>
  %e = tensor.empty() : tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#row2, #col2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%ids, %cols : tensor<4xi64>, tensor<8xi64>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%id: i64, %j: i64, %out: f32):
    %r = arith.index_cast %id : i64 to index
    %c = arith.index_cast %j : i64 to index
    %v = tensor.extract %table[%r, %c] : tensor<10x8xf32>
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// The column is data and the row the loop's: no row per result row, no lookup;
// a pure gather is left as it is.
// CHECK-LABEL: func.func @along_columns
// CHECK: linalg.generic {indexing_maps = [#[[$ROW2]], #[[$ID2]], #[[$ID2]]]
// CHECK: tensor.extract
// CHECK-NOT: linalg.generic
func.func @along_columns(%ids: tensor<4x8xi64>, %table: tensor<4x10xf32>) -> tensor<4x8xf32> {
  %rows = arith.constant dense<[0, 1, 2, 3]> : tensor<4xi64>
  %e = tensor.empty() : tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#row2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%rows, %ids : tensor<4xi64>, tensor<4x8xi64>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%i: i64, %id: i64, %out: f32):
    %r = arith.index_cast %i : i64 to index
    %c = arith.index_cast %id : i64 to index
    %v = tensor.extract %table[%r, %c] : tensor<4x10xf32>
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// A row computed per result row, with its check, in a generic of its own.
// CHECK-LABEL: func.func @computed_row
// CHECK-SAME: (%[[IDS:.*]]: tensor<4xi64>, %[[TABLE:.*]]: tensor<10x8xf32>)
// CHECK: %[[ROWS:.*]] = linalg.generic {indexing_maps = [#[[$ID1]], #[[$ID1]]], iterator_types = ["parallel"]} ins(%[[IDS]] : tensor<4xi64>)
// CHECK: %[[NEXT:.*]] = arith.addi
// CHECK: cf.assert
// CHECK: linalg.generic {indexing_maps = [#[[$ROW2]], #[[$COL2]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[ROWS]], %{{.*}} : tensor<4xi64>, tensor<8xi64>)
// CHECK: tensor.extract %[[TABLE]]
// CHECK-NOT: linalg.generic
func.func @computed_row(%ids: tensor<4xi64>, %table: tensor<10x8xf32>) -> tensor<4x8xf32> {
  %cols = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : tensor<8xi64>
  %c1 = arith.constant 1 : i64
  %c10 = arith.constant 10 : i64
  %e = tensor.empty() : tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#row2, #col2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%ids, %cols : tensor<4xi64>, tensor<8xi64>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%id: i64, %j: i64, %out: f32):
    %next = arith.addi %id, %c1 : i64
    %ok = arith.cmpi slt, %next, %c10 : i64
    cf.assert %ok, "index must be smaller than dim size"
    %r = arith.index_cast %next : i64 to index
    %c = arith.index_cast %j : i64 to index
    %v = tensor.extract %table[%r, %c] : tensor<10x8xf32>
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
