// RUN: wafer-opt %s -p wse-collapse-loops | filecheck %s

// A linear layer after a flatten, as elementwise fusion leaves it: k is the
// (channels, rows, columns) it folded in. The three become one k of 36; the
// input and the weight collapse to match, the result keeps its shape.
// CHECK-DAG: #[[K:map[0-9]*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[W:map[0-9]*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG: #[[OUT:map[0-9]*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @flatten_linear
// CHECK: %[[XV:[a-z_0-9]*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1, 2]] : tensor<4x3x3xf32> into tensor<36xf32>
// CHECK: %[[WV:[a-z_0-9]*]] = tensor.collapse_shape %arg1 {{\[}}[0, 1, 2], [3]] : tensor<4x3x3x10xf32> into tensor<36x10xf32>
// CHECK: linalg.generic {indexing_maps = [#[[K]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME: ins(%[[XV]], %[[WV]] : tensor<36xf32>, tensor<36x10xf32>) outs(%arg2 : tensor<10xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
#x = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3, d0)>
#o = affine_map<(d0, d1, d2, d3) -> (d0)>
func.func @flatten_linear(%x: tensor<4x3x3xf32>, %w: tensor<4x3x3x10xf32>, %init: tensor<10xf32>) -> tensor<10xf32> {
  %r = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %w : tensor<4x3x3xf32>, tensor<4x3x3x10xf32>) outs(%init : tensor<10xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<10xf32>
  return %r : tensor<10xf32>
}

// A mean over a plane's rows and columns sums over one loop of 12; the
// channels, a parallel loop, stay a loop of their own.
// CHECK-LABEL: func.func @plane_sum
// CHECK: tensor.collapse_shape %arg0 {{\[}}[0], [1, 2]] : tensor<2x3x4xf32> into tensor<2x12xf32>
// CHECK: iterator_types = ["parallel", "reduction"]
#p = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0)>
func.func @plane_sum(%x: tensor<2x3x4xf32>, %init: tensor<2xf32>) -> tensor<2xf32> {
  %r = linalg.generic {indexing_maps = [#p, #c], iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%x : tensor<2x3x4xf32>) outs(%init : tensor<2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// Left alone: the weight reads k's loops in the other order; parallel loops
// side by side in every map (an elementwise op's rows and columns).
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: tensor.collapse_shape
// CHECK: iterator_types = ["parallel", "reduction", "reduction"]
// CHECK: iterator_types = ["parallel", "parallel"]
#xt = affine_map<(d0, d1, d2) -> (d1, d2)>
#wt = affine_map<(d0, d1, d2) -> (d2, d1, d0)>
#ot = affine_map<(d0, d1, d2) -> (d0)>
#e = affine_map<(d0, d1) -> (d0, d1)>
func.func @left_alone(%x: tensor<3x3xf32>, %w: tensor<3x3x10xf32>, %init: tensor<10xf32>, %y: tensor<4x5xf32>) -> (tensor<10xf32>, tensor<4x5xf32>) {
  %r = linalg.generic {indexing_maps = [#xt, #wt, #ot], iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%x, %w : tensor<3x3xf32>, tensor<3x3x10xf32>) outs(%init : tensor<10xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<10xf32>
  %n = linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<4x5xf32>) outs(%y : tensor<4x5xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.negf %a : f32
    linalg.yield %m : f32
  } -> tensor<4x5xf32>
  return %r, %n : tensor<10xf32>, tensor<4x5xf32>
}
