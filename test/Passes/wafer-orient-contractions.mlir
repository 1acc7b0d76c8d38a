// RUN: wafer-opt %s -p 'wafer-orient-contractions{machine=avx512}' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-orient-contractions{machine=avx512 transpose-cost=1000}' | filecheck %s --check-prefix=COSTLY
// RUN: wafer-opt %s -p 'wafer-orient-contractions{machine=avx512 copy-cost=0}' | filecheck %s --check-prefix=COPYFREE

// The filters are constants, packed at compile time whichever operand they are.

// An im2col convolution over a 7x7 image: 64 filters x 49 pixels x K = 512.
// AVX-512's 8x32 block pads the 49 pixels (n) to 64; swapped, they are rows (m)
// padded to 56, and the 64 filters fill two vectors: 8 x 64 x 512 fewer
// multiply-adds, 83 per element of C, more than the 50 the transposes cost.
// The swapped generic reads the columns as A and the filters as B, its loops
// numbered (image, pixel, filter, k), and C goes through transposes in and out.
// CHECK-DAG: #[[COLS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d1)>
// CHECK-DAG: #[[FILTERS:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @late_conv
// CHECK-SAME: wafer.strategy = ["oriented 49x64x512: A and B swapped, 49 rows of 64 columns"]
// CHECK: %[[INIT:.*]] = linalg.transpose ins(%arg1 : tensor<1x64x49xf32>) outs(%{{.*}} : tensor<1x49x64xf32>) permutation = [0, 2, 1]
// CHECK: %[[SWAPPED:.*]] = linalg.generic {indexing_maps = [#[[COLS]], #[[FILTERS]], #[[C]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%arg0, %{{.*}} : tensor<1x512x49xf32>, tensor<64x512xf32>) outs(%[[INIT]] : tensor<1x49x64xf32>)
// CHECK: %[[OUT:.*]] = linalg.transpose ins(%[[SWAPPED]] : tensor<1x49x64xf32>) outs(%{{.*}} : tensor<1x64x49xf32>) permutation = [0, 2, 1]
// CHECK: return %[[OUT]]
// COSTLY-LABEL: func.func @late_conv
// COSTLY-NOT: wafer.strategy
// COSTLY-NOT: linalg.transpose
#filters = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
#cols = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @late_conv(%cols: tensor<1x512x49xf32>, %c: tensor<1x64x49xf32>) -> tensor<1x64x49xf32> {
  %w = arith.constant dense<1.0> : tensor<64x512xf32>
  %r = linalg.generic {indexing_maps = [#filters, #cols, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %cols : tensor<64x512xf32>, tensor<1x512x49xf32>) outs(%c : tensor<1x64x49xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64x49xf32>
  return %r : tensor<1x64x49xf32>
}

// K = 64: the same padding saves 10 multiply-adds per element of C, less than
// the transposes cost, so it stays.
// CHECK-LABEL: func.func @shallow_conv
// CHECK-NOT: wafer.strategy
// CHECK-NOT: linalg.transpose
func.func @shallow_conv(%cols: tensor<1x64x49xf32>, %c: tensor<1x64x49xf32>) -> tensor<1x64x49xf32> {
  %w = arith.constant dense<1.0> : tensor<64x64xf32>
  %r = linalg.generic {indexing_maps = [#filters, #cols, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %cols : tensor<64x64xf32>, tensor<1x64x49xf32>) outs(%c : tensor<1x64x49xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64x49xf32>
  return %r : tensor<1x64x49xf32>
}

// A matmul whose N already fills the register block stays as it is.
// CHECK-LABEL: func.func @wide_matmul
// CHECK-NOT: wafer.strategy
// CHECK: linalg.matmul
func.func @wide_matmul(%a: tensor<49x512xf32>, %b: tensor<512x64xf32>, %c: tensor<49x64xf32>) -> tensor<49x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<49x512xf32>, tensor<512x64xf32>) outs(%c : tensor<49x64xf32>) -> tensor<49x64xf32>
  return %r : tensor<49x64xf32>
}

// 1024 filters over a 13x13 image: unswapped, 169 pixels pad to 176
// columns, and the swap saves more than the transposes cost. The swapped C's
// rows lie 4 KB apart and each block of its transpose out reads 13 of them,
// more than an L1d has ways; it is swapped all the same (bench/orientation.py:
// ResNet-50's and ResNeXt-50's 1024-filter layers at 14x14, blocks of 28 rows,
// 0.86-0.93x the time swapped).
// CHECK-LABEL: func.func @filters_1024_at_13x13
// CHECK-SAME: wafer.strategy = ["oriented 169x1024x512: A and B swapped, 169 rows of 1024 columns"]
func.func @filters_1024_at_13x13(%cols: tensor<1x512x169xf32>, %c: tensor<1x1024x169xf32>) -> tensor<1x1024x169xf32> {
  %w = arith.constant dense<1.0> : tensor<1024x512xf32>
  %r = linalg.generic {indexing_maps = [#filters, #cols, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %cols : tensor<1024x512xf32>, tensor<1x512x169xf32>) outs(%c : tensor<1x1024x169xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x1024x169xf32>
  return %r : tensor<1x1024x169xf32>
}

// A SqueezeNet squeeze: 16 filters over a 128-channel 55x55 image. Neither
// orientation pads (3025 pixels in rows of 11, or 16 filters in one vector),
// but unswapped the image is B, copied into panels on every call: 128 x 3025
// elements at 25 multiply-adds each, four times the 50 x 16 x 3025 the
// transposes cost. Swapped, the image is A, read in place. With copying free
// (COPYFREE) it stays.
// CHECK-LABEL: func.func @squeeze
// CHECK-SAME: wafer.strategy = ["oriented 3025x16x128: A and B swapped, 3025 rows of 16 columns"]
// COPYFREE-LABEL: func.func @squeeze
// COPYFREE-NOT: wafer.strategy
// COPYFREE-NOT: linalg.transpose
// COPYFREE-LABEL: func.func @ragged_filters
func.func @squeeze(%cols: tensor<1x128x3025xf32>, %c: tensor<1x16x3025xf32>) -> tensor<1x16x3025xf32> {
  %w = arith.constant dense<1.0> : tensor<16x128xf32>
  %r = linalg.generic {indexing_maps = [#filters, #cols, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %cols : tensor<16x128xf32>, tensor<1x128x3025xf32>) outs(%c : tensor<1x16x3025xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x16x3025xf32>
  return %r : tensor<1x16x3025xf32>
}

// 24 filters over a 96-channel 56x56 image (EfficientNet's): the copy saved
// outweighs the transposes and the padding of 24 filters to 32 columns, but a
// swapped N of no whole vectors stays unswapped. So do filters that are not
// constants: swapped, they would be the B copied into panels on every call.
// CHECK-LABEL: func.func @ragged_filters
// CHECK-NOT: wafer.strategy
// CHECK-LABEL: func.func @runtime_filters
// CHECK-NOT: wafer.strategy
// CHECK: return
func.func @ragged_filters(%cols: tensor<1x96x3136xf32>, %c: tensor<1x24x3136xf32>) -> tensor<1x24x3136xf32> {
  %w = arith.constant dense<1.0> : tensor<24x96xf32>
  %r = linalg.generic {indexing_maps = [#filters, #cols, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %cols : tensor<24x96xf32>, tensor<1x96x3136xf32>) outs(%c : tensor<1x24x3136xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x24x3136xf32>
  return %r : tensor<1x24x3136xf32>
}
func.func @runtime_filters(%w: tensor<960x512xf32>, %cols: tensor<1x512x169xf32>, %c: tensor<1x960x169xf32>) -> tensor<1x960x169xf32> {
  %r = linalg.generic {indexing_maps = [#filters, #cols, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %cols : tensor<960x512xf32>, tensor<1x512x169xf32>) outs(%c : tensor<1x960x169xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x960x169xf32>
  return %r : tensor<1x960x169xf32>
}
