// RUN: wafer-opt %s --split-input-file -p wafer-concat-chains | filecheck %s

// A dense block: each layer concatenates the block's input and every feature
// before it. The features go, in order, into one tensor of the longest
// concatenation's shape, each right after it is computed; each concatenation
// is the slice filled so far.
// CHECK-LABEL: func.func @dense_block
// CHECK: %[[BUF:.*]] = tensor.empty() : tensor<1x10x8x8xf32>
// CHECK: %[[S0:.*]] = tensor.insert_slice %arg0 into %[[BUF]][0, 0, 0, 0] [1, 4, 8, 8]
// CHECK: %[[F1:.*]] = linalg.generic
// CHECK: %[[S1:.*]] = tensor.insert_slice %[[F1]] into %[[S0]][0, 4, 0, 0] [1, 2, 8, 8]
// CHECK: %[[C1:.*]] = tensor.extract_slice %[[S1]][0, 0, 0, 0] [1, 6, 8, 8]
// CHECK: %[[C1S:.*]] = tensor.extract_slice %[[C1]][0, 4, 0, 0]
// CHECK: %[[F2:.*]] = linalg.generic {{.*}} ins(%[[C1S]]
// CHECK: %[[S2:.*]] = tensor.insert_slice %[[F2]] into %[[S1]][0, 6, 0, 0] [1, 2, 8, 8]
// CHECK: %[[C2:.*]] = tensor.extract_slice %[[S2]][0, 0, 0, 0] [1, 8, 8, 8]
// CHECK: %[[C2S:.*]] = tensor.extract_slice %[[C2]][0, 6, 0, 0]
// CHECK: %[[F3:.*]] = linalg.generic {{.*}} ins(%[[C2S]]
// CHECK: %[[S3:.*]] = tensor.insert_slice %[[F3]] into %[[S2]][0, 8, 0, 0] [1, 2, 8, 8]
// CHECK: %[[C3:.*]] = tensor.extract_slice %[[S3]][0, 0, 0, 0] [1, 10, 8, 8]
// CHECK: return %[[C3]]
// CHECK-NOT: tensor.concat
#map = affine_map<(n, c, h, w) -> (n, c, h, w)>
func.func @dense_block(%x: tensor<1x4x8x8xf32>) -> tensor<1x10x8x8xf32> {
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %x2 = tensor.extract_slice %x[0, 0, 0, 0] [1, 2, 8, 8] [1, 1, 1, 1] : tensor<1x4x8x8xf32> to tensor<1x2x8x8xf32>
  %f1 = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x2 : tensor<1x2x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %r = arith.mulf %i, %i : f32
    linalg.yield %r : f32
  } -> tensor<1x2x8x8xf32>
  %c1 = tensor.concat dim(1) %x, %f1 : (tensor<1x4x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x6x8x8xf32>
  %c1s = tensor.extract_slice %c1[0, 4, 0, 0] [1, 2, 8, 8] [1, 1, 1, 1] : tensor<1x6x8x8xf32> to tensor<1x2x8x8xf32>
  %f2 = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c1s : tensor<1x2x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %r = arith.addf %i, %o : f32
    linalg.yield %r : f32
  } -> tensor<1x2x8x8xf32>
  %c2 = tensor.concat dim(1) %x, %f1, %f2 : (tensor<1x4x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x8x8x8xf32>
  %c2s = tensor.extract_slice %c2[0, 6, 0, 0] [1, 2, 8, 8] [1, 1, 1, 1] : tensor<1x8x8x8xf32> to tensor<1x2x8x8xf32>
  %f3 = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c2s : tensor<1x2x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %r = arith.addf %i, %o : f32
    linalg.yield %r : f32
  } -> tensor<1x2x8x8xf32>
  %c3 = tensor.concat dim(1) %x, %f1, %f2, %f3 : (tensor<1x4x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x10x8x8xf32>
  return %c3 : tensor<1x10x8x8xf32>
}

// -----

// A lone concatenation (bufferization already writes its operands in place),
// concatenations along different dims, and ones whose operands only start
// alike are left alone.
// CHECK-LABEL: func.func @no_chain
// CHECK-COUNT-4: tensor.concat
// CHECK-NOT: tensor.insert_slice
func.func @no_chain(%a: tensor<2x2xf32>, %b: tensor<2x2xf32>, %c: tensor<2x2xf32>) -> (tensor<4x2xf32>, tensor<2x4xf32>, tensor<6x2xf32>, tensor<6x2xf32>) {
  %r0 = tensor.concat dim(0) %a, %b : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %r1 = tensor.concat dim(1) %a, %b : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x4xf32>
  %r2 = tensor.concat dim(0) %a, %c, %b : (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<6x2xf32>
  %r3 = tensor.concat dim(0) %b, %a, %c : (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<6x2xf32>
  return %r0, %r1, %r2, %r3 : tensor<4x2xf32>, tensor<2x4xf32>, tensor<6x2xf32>, tensor<6x2xf32>
}
