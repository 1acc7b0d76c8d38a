// wse-transpose-weights stores a weight read along the output's innermost loop
// in an outer dim transposed, and permutes the map to match.
// RUN: wafer-opt %s -p wse-transpose-weights | filecheck %s

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w_nk = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

// A linear layer's weight, (out, in) = (2, 3): the kernel walks out (d1), so
// it becomes (3, 2) with map (d2, d1), its values transposed.
// CHECK-DAG: #[[KN:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-LABEL: func.func @linear
// CHECK: %[[T:.*]] = arith.constant dense_resource<transposed> : tensor<3x2xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[KN]], #{{.*}}]
// CHECK-SAME: ins(%{{.*}}, %[[T]] : tensor<4x3xf32>, tensor<3x2xf32>)
func.func @linear(%x: tensor<4x3xf32>, %init: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %y = linalg.generic {indexing_maps = [#x, #w_nk, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<4x3xf32>, tensor<2x3xf32>) outs(%init : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// Read along its rows already (in, out), or not a constant: left alone.
// CHECK-LABEL: func.func @rows
// CHECK-NOT: dense_resource
// CHECK: return
#w_kn = affine_map<(d0, d1, d2) -> (d2, d1)>
func.func @rows(%x: tensor<4x3xf32>, %v: tensor<2x3xf32>, %init: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %y = linalg.generic {indexing_maps = [#x, #w_kn, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<4x3xf32>, tensor<3x2xf32>) outs(%init : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x2xf32>
  %z = linalg.generic {indexing_maps = [#x, #w_nk, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %v : tensor<4x3xf32>, tensor<2x3xf32>) outs(%y : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x2xf32>
  return %z : tensor<4x2xf32>
}

// The first weight's rows, as f32: 1 4 | 2 5 | 3 6.
// CHECK: transposed: "0x04000000{{0000803F00008040}}{{000000400000A040}}{{000040400000C040}}"
