// RUN: wafer-opt %s -p wse-materialize-indices | filecheck %s

// CHECK-DAG: #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[$COL:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[$ID4:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$D2:.*]] = affine_map<(d0, d1, d2, d3) -> (d2)>
// CHECK-DAG: #[[$D3:.*]] = affine_map<(d0, d1, d2, d3) -> (d3)>

// torch.tril: each loop index becomes an iota input after the generic's own
// input, read through the map of its loop; the body casts the argument to index.
// CHECK-LABEL: func.func @tril
// CHECK-SAME: (%[[X:.*]]: tensor<6x9xf32>)
// CHECK-DAG: %[[ROWS:.*]] = arith.constant dense<[0, 1, 2, 3, 4, 5]> : tensor<6xi64>
// CHECK-DAG: %[[COLS:.*]] = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8]> : tensor<9xi64>
// CHECK: linalg.generic {indexing_maps = [#[[$ID2]], #[[$ROW]], #[[$COL]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[ROWS]], %[[COLS]] : tensor<6x9xf32>, tensor<6xi64>, tensor<9xi64>) outs(%{{.*}} : tensor<6x9xf32>)
// CHECK-SAME: attrs = {keep = 1 : i32}
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f32, %[[I:.*]]: i64, %[[J:.*]]: i64, %{{.*}}: f32):
// CHECK-NOT: linalg.index
// CHECK-DAG: %[[II:.*]] = arith.index_cast %[[I]] : i64 to index
// CHECK-DAG: %[[JJ:.*]] = arith.index_cast %[[J]] : i64 to index
// CHECK: %[[KEEP:.*]] = arith.cmpi sle, %[[JJ]], %[[II]] : index
// CHECK-NEXT: %[[Y:.*]] = arith.select %[[KEEP]], %[[IN]], %{{.*}} : f32
// CHECK-NEXT: linalg.yield %[[Y]] : f32
func.func @tril(%x: tensor<6x9xf32>) -> tensor<6x9xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<6x9xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<6x9xf32>) outs(%e : tensor<6x9xf32>) attrs = {keep = 1 : i32} {
  ^bb0(%in: f32, %out: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %keep = arith.cmpi sle, %j, %i : index
    %v = arith.select %keep, %in, %zero : f32
    linalg.yield %v : f32
  } -> tensor<6x9xf32>
  return %y : tensor<6x9xf32>
}

// A causal mask with no input of its own: one iota per distinct indexed loop,
// however often the body reads it; the init stays the only output.
// CHECK-LABEL: func.func @causal_mask
// CHECK-SAME: (%[[INIT:.*]]: tensor<1x2x5x7xf32>)
// CHECK-DAG: %[[QUERIES:.*]] = arith.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi64>
// CHECK-DAG: %[[KEYS:.*]] = arith.constant dense<[0, 1, 2, 3, 4, 5, 6]> : tensor<7xi64>
// CHECK: linalg.generic {indexing_maps = [#[[$D2]], #[[$D3]], #[[$ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[QUERIES]], %[[KEYS]] : tensor<5xi64>, tensor<7xi64>) outs(%[[INIT]] : tensor<1x2x5x7xf32>)
// CHECK-NEXT: ^bb0(%[[Q:.*]]: i64, %[[K:.*]]: i64, %{{.*}}: f32):
// CHECK-NOT: linalg.index
// CHECK-COUNT-3: arith.index_cast %{{.*}} : i64 to index
// CHECK-NOT: linalg.index
// CHECK: linalg.yield
func.func @causal_mask(%init: tensor<1x2x5x7xf32>) -> tensor<1x2x5x7xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%init : tensor<1x2x5x7xf32>) {
  ^bb0(%out: f32):
    %q = linalg.index 2 : index
    %k = linalg.index 3 : index
    %k_again = linalg.index 3 : index
    %seen = arith.cmpi sge, %q, %k : index
    %last = arith.cmpi eq, %q, %k_again : index
    %both = arith.andi %seen, %last : i1
    %v = arith.select %both, %zero, %ninf : f32
    linalg.yield %v : f32
  } -> tensor<1x2x5x7xf32>
  return %y : tensor<1x2x5x7xf32>
}

// A generic without linalg.index, and one on dynamic shapes, are left as they are.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: arith.constant dense
// CHECK: linalg.generic {indexing_maps = [#[[$ID2]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%{{.*}} : tensor<6x9xf32>) outs(%{{.*}} : tensor<6x9xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[$ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: outs(%{{.*}} : tensor<?x9xf32>)
// CHECK-NEXT: ^bb0(%{{.*}}: f32):
// CHECK-NEXT: linalg.index 0 : index
func.func @untouched(%x: tensor<6x9xf32>, %d: tensor<?x9xf32>) -> (tensor<6x9xf32>, tensor<?x9xf32>) {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<6x9xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<6x9xf32>) outs(%e : tensor<6x9xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.addf %in, %one : f32
    linalg.yield %v : f32
  } -> tensor<6x9xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      outs(%d : tensor<?x9xf32>) {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %c = arith.index_cast %i : index to i64
    %f = arith.sitofp %c : i64 to f32
    linalg.yield %f : f32
  } -> tensor<?x9xf32>
  return %y, %z : tensor<6x9xf32>, tensor<?x9xf32>
}
