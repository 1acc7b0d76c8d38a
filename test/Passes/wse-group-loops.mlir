// RUN: wafer-opt %s -p wse-group-loops | filecheck %s

// Swin's q, k, v projection as fusion leaves it: the window partition's
// transpose folded in, so the input reads the rows as (window row, row,
// window column, column) and the output writes them as (window row, window
// column, row, column); the weight reads n's (q/k/v, head) around k. The
// input is copied into the output's order, the weight transposed at compile
// time, and m (4 loops) and n (2 loops) each become one loop.
// CHECK-DAG: #[[COPY_IN:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d3, d4)>
// CHECK-DAG: #[[COPY_OUT:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-LABEL: func.func @window_projection
// The weight, read as (q/k/v, k, head), is stored (q/k/v, head, k).
// CHECK: %[[W:.*]] = arith.constant dense_resource<transposed{{.*}}> : tensor<3x2x2xf32>
// CHECK: %[[COPY:.*]] = linalg.generic {indexing_maps = [#[[COPY_IN]], #[[COPY_OUT]]]
// CHECK-SAME: ins(%arg0 : tensor<2x3x2x3x2xf32>) outs(%{{.*}} : tensor<2x2x3x3x2xf32>)
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[COPY]] {{\[}}[0, 1, 2, 3], [4]] : tensor<2x2x3x3x2xf32> into tensor<36x2xf32>
// CHECK: %[[COLS:.*]] = tensor.collapse_shape %[[W]] {{\[}}[0, 1], [2]] : tensor<3x2x2xf32> into tensor<6x2xf32>
// CHECK: %[[OUT:.*]] = tensor.collapse_shape %arg1 {{\[}}[0, 1, 2, 3], [4, 5]] : tensor<2x2x3x3x3x2xf32> into tensor<36x6xf32>
// CHECK: %[[PRODUCT:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%[[ROWS]], %[[COLS]] : tensor<36x2xf32>, tensor<6x2xf32>) outs(%[[OUT]] : tensor<36x6xf32>)
// CHECK: tensor.expand_shape %[[PRODUCT]] {{\[}}[0, 1, 2, 3], [4, 5]] output_shape [2, 2, 3, 3, 3, 2]
#x = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d2, d1, d3, d6)>
#w = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d6, d5)>
#o = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3, d4, d5)>
func.func @window_projection(%x: tensor<2x3x2x3x2xf32>, %init: tensor<2x2x3x3x3x2xf32>) -> tensor<2x2x3x3x3x2xf32> {
  %w = arith.constant dense<[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]], [[9.0, 10.0], [11.0, 12.0]]]> : tensor<3x2x2xf32>
  %r = linalg.generic {indexing_maps = [#x, #w, #o],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x3x2x3x2xf32>, tensor<3x2x2xf32>) outs(%init : tensor<2x2x3x3x3x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x2x3x3x3x2xf32>
  return %r : tensor<2x2x3x3x3x2xf32>
}

// A linear layer whose rows are (batch, token) in the same order in its input
// and output is left as it is (the rowwise splits choose among its loops).
// CHECK-LABEL: func.func @in_order
// CHECK-NOT: tensor.collapse_shape
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
#xi = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wi = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
#oi = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @in_order(%x: tensor<2x4x8xf32>, %w: tensor<8x6xf32>, %init: tensor<2x4x6xf32>) -> tensor<2x4x6xf32> {
  %r = linalg.generic {indexing_maps = [#xi, #wi, #oi], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x4x8xf32>, tensor<8x6xf32>) outs(%init : tensor<2x4x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x4x6xf32>
  return %r : tensor<2x4x6xf32>
}
