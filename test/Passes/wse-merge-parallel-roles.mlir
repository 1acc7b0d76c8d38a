// RUN: wafer-opt %s --split-input-file -p 'wse-merge-parallel-roles,func.func(canonicalize)' | filecheck %s

// A linear layer over an 8x8 image's pixels (m spans two loops every operand reads
// side by side) and its bias + ReLU epilogue: both run on 64 rows, the fill of the
// product's output too, and no reshape is left between them. The column sums,
// which reduce one of the two loops, read the result through an expand_shape;
// the broadcast that writes over the same empty tensor keeps its loops.
// CHECK-LABEL: func.func @mlp_rows
// CHECK: %[[FILL:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<64x64xf32>)
// CHECK: %[[X:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<8x8x16xf32> into tensor<64x16xf32>
// CHECK: %[[PRODUCT:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %arg1 : tensor<64x16xf32>, tensor<16x64xf32>) outs(%[[FILL]] : tensor<64x64xf32>)
// CHECK-NOT: tensor.expand_shape
// CHECK: %[[ACT:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[PRODUCT]], %arg2 : tensor<64x64xf32>, tensor<64xf32>)
// CHECK: %[[IMAGE:.*]] = tensor.expand_shape %[[ACT]] {{\[\[}}0, 1], [2]] output_shape [8, 8, 64]
// CHECK: %[[SUMS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[IMAGE]] : tensor<8x8x64xf32>)
// CHECK: %[[OTHER:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg2 : tensor<64xf32>) outs(%{{.*}} : tensor<8x8x64xf32>)
// CHECK: return %[[IMAGE]], %[[SUMS]], %[[OTHER]]
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
#o = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#ch = affine_map<(d0, d1, d2) -> (d2)>
#rows = affine_map<(d0, d1, d2) -> (d0, d2)>
func.func @mlp_rows(%x: tensor<8x8x16xf32>, %w: tensor<16x64xf32>, %bias: tensor<64xf32>) -> (tensor<8x8x64xf32>, tensor<8x64xf32>, tensor<8x8x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<8x8x64xf32>
  %init = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel", "parallel"]} outs(%empty : tensor<8x8x64xf32>) {
  ^bb0(%out: f32):
    linalg.yield %zero : f32
  } -> tensor<8x8x64xf32>
  %product = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : tensor<8x8x16xf32>, tensor<16x64xf32>) outs(%init : tensor<8x8x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x8x64xf32>
  %act = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%product, %bias : tensor<8x8x64xf32>, tensor<64xf32>) outs(%empty : tensor<8x8x64xf32>) {
  ^bb0(%p: f32, %b: f32, %out: f32):
    %s = arith.addf %p, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8x8x64xf32>
  %sum_empty = tensor.empty() : tensor<8x64xf32>
  %column_sums = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction", "parallel"]} ins(%act : tensor<8x8x64xf32>) outs(%sum_empty : tensor<8x64xf32>) {
  ^bb0(%a: f32, %out: f32):
    %s = arith.addf %a, %out : f32
    linalg.yield %s : f32
  } -> tensor<8x64xf32>
  %other = linalg.generic {indexing_maps = [#ch, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%bias : tensor<64xf32>) outs(%empty : tensor<8x8x64xf32>) {
  ^bb0(%b: f32, %out: f32):
    linalg.yield %b : f32
  } -> tensor<8x8x64xf32>
  return %act, %column_sums, %other : tensor<8x8x64xf32>, tensor<8x64xf32>, tensor<8x8x64xf32>
}

// -----

// A convolution's epilogue (its windows read rows r + kr: no loop to merge) stays
// with it, on its image's rows and columns; the linear layer after reads it
// through a collapse_shape.
// CHECK-LABEL: func.func @after_windows
// CHECK: %[[CONV:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg2 : tensor<10x8x16xf32>, tensor<3xf32>)
// CHECK: %[[ACT:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[CONV]] : tensor<8x8x16xf32>)
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[ACT]] {{\[\[}}0, 1], [2]] : tensor<8x8x16xf32> into tensor<64x16xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[ROWS]], %arg1 : tensor<64x16xf32>, tensor<16x64xf32>)
#window = affine_map<(d0, d1, d2, d3) -> (d0 + d3, d1, d2)>
#tap = affine_map<(d0, d1, d2, d3) -> (d3)>
#pixel = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#xs = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ws = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
func.func @after_windows(%image: tensor<10x8x16xf32>, %w: tensor<16x64xf32>, %taps: tensor<3xf32>) -> tensor<8x8x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e16 = tensor.empty() : tensor<8x8x16xf32>
  %conv = linalg.generic {indexing_maps = [#window, #tap, #pixel], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%image, %taps : tensor<10x8x16xf32>, tensor<3xf32>) outs(%e16 : tensor<8x8x16xf32>) {
  ^bb0(%a: f32, %t: f32, %acc: f32):
    %m = arith.mulf %a, %t : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  } -> tensor<8x8x16xf32>
  %act = linalg.generic {indexing_maps = [#same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%conv : tensor<8x8x16xf32>) outs(%e16 : tensor<8x8x16xf32>) {
  ^bb0(%a: f32, %out: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8x8x16xf32>
  %e64 = tensor.empty() : tensor<8x8x64xf32>
  %product = linalg.generic {indexing_maps = [#xs, #ws, #pixel], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %w : tensor<8x8x16xf32>, tensor<16x64xf32>) outs(%e64 : tensor<8x8x64xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x8x64xf32>
  return %product : tensor<8x8x64xf32>
}
