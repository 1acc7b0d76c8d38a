// RUN: wafer-opt %s --split-input-file -p 'wafer-attention-head-groups{machine=sse},canonicalize' | filecheck %s

// Attention as torch-mlir imports an unmasked scaled_dot_product_attention over
// 2 x 4 heads of 96 tokens: S = Q K^T, split into [batch, heads], a softmax,
// collapsed back, O = P V. All heads' scores (8 x 96 x 96 floats, 288 KB)
// outgrow the `sse` machine's 256 KB L2; a group of 2 heads' (72 KB) fits in
// half of it. One scf.forall iteration per image and pair of heads computes
// both contractions and the softmax on the pair's slices.
// CHECK-LABEL: func.func @attention
// CHECK-SAME: "attention in groups of 2 of 4 heads"
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]]) = (0, 0) to (2, 4) step (1, 2)
// CHECK-SAME: -> (tensor<8x96x16xf32>)
// CHECK: %[[ROW:.*]] = arith.muli %[[B]], %c4
// CHECK: %[[FIRST:.*]] = arith.addi %[[ROW]], %[[H]]
// CHECK: %[[Q:.*]] = tensor.extract_slice %{{.*}}[%[[FIRST]], 0, 0] [2, 96, 16]
// CHECK: %[[K:.*]] = tensor.extract_slice %{{.*}}[%[[FIRST]], 0, 0] [2, 96, 16]
// CHECK: %[[S:.*]] = linalg.batch_matmul {{.*}} ins(%[[Q]], %[[K]] : tensor<2x96x16xf32>, tensor<2x96x16xf32>) {{.*}} -> tensor<2x96x96xf32>
// CHECK: tensor.expand_shape %[[S]] {{.*}} into tensor<1x2x96x96xf32>
// CHECK-COUNT-4: linalg.generic
// CHECK: %[[P:.*]] = tensor.collapse_shape {{.*}} into tensor<2x96x96xf32>
// CHECK: %[[V:.*]] = tensor.extract_slice %{{.*}}[%[[FIRST]], 0, 0] [2, 96, 16]
// CHECK: %[[O:.*]] = linalg.batch_matmul ins(%[[P]], %[[V]] : tensor<2x96x96xf32>, tensor<2x96x16xf32>)
// CHECK: tensor.parallel_insert_slice %[[O]] into %{{.*}}[%[[FIRST]], 0, 0] [2, 96, 16]
#qk_a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#qk_b = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
#qk_c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @attention(%q: tensor<2x4x96x16xf32>, %k: tensor<2x4x96x16xf32>, %v: tensor<2x4x96x16xf32>) -> tensor<8x96x16xf32> {
  %zero = arith.constant 0.0 : f32
  %lowest = arith.constant 0xFF800000 : f32
  %scale = arith.constant 0.25 : f32
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x96x16xf32> into tensor<8x96x16xf32>
  %k3 = tensor.collapse_shape %k [[0, 1], [2], [3]] : tensor<2x4x96x16xf32> into tensor<8x96x16xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x96x16xf32> into tensor<8x96x16xf32>
  %e0 = tensor.empty() : tensor<8x96x96xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<8x96x96xf32>) -> tensor<8x96x96xf32>
  %s = linalg.batch_matmul indexing_maps = [#qk_a, #qk_b, #qk_c] ins(%q3, %k3 : tensor<8x96x16xf32>, tensor<8x96x16xf32>) outs(%f0 : tensor<8x96x96xf32>) -> tensor<8x96x96xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 96, 96] : tensor<8x96x96xf32> into tensor<2x4x96x96xf32>
  %e4 = tensor.empty() : tensor<2x4x96x96xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x4x96x96xf32>) outs(%e4 : tensor<2x4x96x96xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %scale : f32
    linalg.yield %m : f32
  } -> tensor<2x4x96x96xf32>
  %er = tensor.empty() : tensor<2x4x96x1xf32>
  %fmax = linalg.fill ins(%lowest : f32) outs(%er : tensor<2x4x96x1xf32>) -> tensor<2x4x96x1xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%scaled : tensor<2x4x96x96xf32>) outs(%fmax : tensor<2x4x96x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<2x4x96x1xf32>
  %exp = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%scaled, %max : tensor<2x4x96x96xf32>, tensor<2x4x96x1xf32>) outs(%e4 : tensor<2x4x96x96xf32>) {
  ^bb0(%in: f32, %mx: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    %x = math.exp %d : f32
    linalg.yield %x : f32
  } -> tensor<2x4x96x96xf32>
  %fsum = linalg.fill ins(%zero : f32) outs(%er : tensor<2x4x96x1xf32>) -> tensor<2x4x96x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%exp : tensor<2x4x96x96xf32>) outs(%fsum : tensor<2x4x96x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  } -> tensor<2x4x96x1xf32>
  %p4 = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%exp, %sum : tensor<2x4x96x96xf32>, tensor<2x4x96x1xf32>) outs(%e4 : tensor<2x4x96x96xf32>) {
  ^bb0(%in: f32, %total: f32, %out: f32):
    %d = arith.divf %in, %total : f32
    linalg.yield %d : f32
  } -> tensor<2x4x96x96xf32>
  %p = tensor.collapse_shape %p4 [[0, 1], [2], [3]] : tensor<2x4x96x96xf32> into tensor<8x96x96xf32>
  %e1 = tensor.empty() : tensor<8x96x16xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<8x96x16xf32>) -> tensor<8x96x16xf32>
  %o = linalg.batch_matmul ins(%p, %v3 : tensor<8x96x96xf32>, tensor<8x96x16xf32>) outs(%f1 : tensor<8x96x16xf32>) -> tensor<8x96x16xf32>
  return %o : tensor<8x96x16xf32>
}

// -----

// 256 tokens: one head's scores (256 KB) outgrow half of the `sse` machine's
// L2 too. The loop is over (batch, heads, blocks of 128 queries), whose rows
// of scores (128 KB) fit in half of it: Q K^T takes the block's queries against
// all the head's keys, the softmax the block's rows, P V the block's rows of P
// against all its values, and the block's output rows go into the result.
// CHECK-LABEL: func.func @query_blocks
// CHECK-SAME: "attention in groups of 1 of 2 heads, 128 of 256 queries at a time"
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[QB:.*]]) = (0, 0, 0) to (2, 2, 256) step (1, 1, 128)
// CHECK: %[[FIRST:.*]] = arith.addi %{{.*}}, %[[H]]
// CHECK: %[[Q:.*]] = tensor.extract_slice %{{.*}}[%[[FIRST]], %[[QB]], 0] [1, 128, 16]
// CHECK: %[[K:.*]] = tensor.extract_slice %{{.*}}[%[[FIRST]], 0, 0] [1, 256, 16]
// CHECK: %[[S:.*]] = linalg.batch_matmul {{.*}} ins(%[[Q]], %[[K]] : tensor<1x128x16xf32>, tensor<1x256x16xf32>) {{.*}} -> tensor<1x128x256xf32>
// CHECK: tensor.expand_shape %[[S]] {{.*}} into tensor<1x1x128x256xf32>
// CHECK-COUNT-2: linalg.generic
// CHECK: %[[P:.*]] = tensor.collapse_shape {{.*}} into tensor<1x128x256xf32>
// CHECK: %[[V:.*]] = tensor.extract_slice %{{.*}}[%[[FIRST]], 0, 0] [1, 256, 16]
// CHECK: %[[O:.*]] = linalg.batch_matmul ins(%[[P]], %[[V]] : tensor<1x128x256xf32>, tensor<1x256x16xf32>) {{.*}} -> tensor<1x128x16xf32>
// CHECK: tensor.parallel_insert_slice %[[O]] into %{{.*}}[%[[FIRST]], %[[QB]], 0] [1, 128, 16]
#qk_a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#qk_b = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
#qk_c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @query_blocks(%q: tensor<4x256x16xf32>, %k: tensor<4x256x16xf32>, %v: tensor<4x256x16xf32>) -> tensor<4x256x16xf32> {
  %zero = arith.constant 0.0 : f32
  %lowest = arith.constant 0xFF800000 : f32
  %e0 = tensor.empty() : tensor<4x256x256xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x256x256xf32>) -> tensor<4x256x256xf32>
  %s = linalg.batch_matmul indexing_maps = [#qk_a, #qk_b, #qk_c] ins(%q, %k : tensor<4x256x16xf32>, tensor<4x256x16xf32>) outs(%f0 : tensor<4x256x256xf32>) -> tensor<4x256x256xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 2, 256, 256] : tensor<4x256x256xf32> into tensor<2x2x256x256xf32>
  %er = tensor.empty() : tensor<2x2x256x1xf32>
  %fmax = linalg.fill ins(%lowest : f32) outs(%er : tensor<2x2x256x1xf32>) -> tensor<2x2x256x1xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s4 : tensor<2x2x256x256xf32>) outs(%fmax : tensor<2x2x256x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<2x2x256x1xf32>
  %e4 = tensor.empty() : tensor<2x2x256x256xf32>
  %x = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4, %max : tensor<2x2x256x256xf32>, tensor<2x2x256x1xf32>) outs(%e4 : tensor<2x2x256x256xf32>) {
  ^bb0(%in: f32, %mx: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<2x2x256x256xf32>
  %p = tensor.collapse_shape %x [[0, 1], [2], [3]] : tensor<2x2x256x256xf32> into tensor<4x256x256xf32>
  %e1 = tensor.empty() : tensor<4x256x16xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x256x16xf32>) -> tensor<4x256x16xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<4x256x256xf32>, tensor<4x256x16xf32>) outs(%f1 : tensor<4x256x16xf32>) -> tensor<4x256x16xf32>
  return %o : tensor<4x256x16xf32>
}

// -----

// 257 tokens, a prime number: a block of queries dividing them would be one
// query, fewer than a vector's lanes. Each op runs on its own.
// CHECK-LABEL: func.func @queries_prime
// CHECK-NOT: scf.forall
#qk_a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#qk_b = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
#qk_c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @queries_prime(%q: tensor<4x257x16xf32>, %k: tensor<4x257x16xf32>, %v: tensor<4x257x16xf32>) -> tensor<4x257x16xf32> {
  %zero = arith.constant 0.0 : f32
  %lowest = arith.constant 0xFF800000 : f32
  %e0 = tensor.empty() : tensor<4x257x257xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x257x257xf32>) -> tensor<4x257x257xf32>
  %s = linalg.batch_matmul indexing_maps = [#qk_a, #qk_b, #qk_c] ins(%q, %k : tensor<4x257x16xf32>, tensor<4x257x16xf32>) outs(%f0 : tensor<4x257x257xf32>) -> tensor<4x257x257xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 2, 257, 257] : tensor<4x257x257xf32> into tensor<2x2x257x257xf32>
  %er = tensor.empty() : tensor<2x2x257x1xf32>
  %fmax = linalg.fill ins(%lowest : f32) outs(%er : tensor<2x2x257x1xf32>) -> tensor<2x2x257x1xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s4 : tensor<2x2x257x257xf32>) outs(%fmax : tensor<2x2x257x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<2x2x257x1xf32>
  %e4 = tensor.empty() : tensor<2x2x257x257xf32>
  %x = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4, %max : tensor<2x2x257x257xf32>, tensor<2x2x257x1xf32>) outs(%e4 : tensor<2x2x257x257xf32>) {
  ^bb0(%in: f32, %mx: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<2x2x257x257xf32>
  %p = tensor.collapse_shape %x [[0, 1], [2], [3]] : tensor<2x2x257x257xf32> into tensor<4x257x257xf32>
  %e1 = tensor.empty() : tensor<4x257x16xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x257x16xf32>) -> tensor<4x257x16xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<4x257x257xf32>, tensor<4x257x16xf32>) outs(%f1 : tensor<4x257x16xf32>) -> tensor<4x257x16xf32>
  return %o : tensor<4x257x16xf32>
}

// -----

// 64 tokens: all heads' scores (128 KB) fit in L2, and each op runs on its own.
// CHECK-LABEL: func.func @scores_fit_l2
// CHECK-NOT: scf.forall
#qk_a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#qk_b = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
#qk_c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @scores_fit_l2(%q: tensor<8x64x16xf32>, %k: tensor<8x64x16xf32>, %v: tensor<8x64x16xf32>) -> tensor<8x64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<8x64x64xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<8x64x64xf32>) -> tensor<8x64x64xf32>
  %s = linalg.batch_matmul indexing_maps = [#qk_a, #qk_b, #qk_c] ins(%q, %k : tensor<8x64x16xf32>, tensor<8x64x16xf32>) outs(%f0 : tensor<8x64x64xf32>) -> tensor<8x64x64xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 64, 64] : tensor<8x64x64xf32> into tensor<2x4x64x64xf32>
  %e4 = tensor.empty() : tensor<2x4x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x4x64x64xf32>) outs(%e4 : tensor<2x4x64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = math.exp %in : f32
    linalg.yield %m : f32
  } -> tensor<2x4x64x64xf32>
  %p = tensor.collapse_shape %x [[0, 1], [2], [3]] : tensor<2x4x64x64xf32> into tensor<8x64x64xf32>
  %e1 = tensor.empty() : tensor<8x64x16xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<8x64x16xf32>) -> tensor<8x64x16xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<8x64x64xf32>, tensor<8x64x16xf32>) outs(%f1 : tensor<8x64x16xf32>) -> tensor<8x64x16xf32>
  return %o : tensor<8x64x16xf32>
}

// -----

// A member that reads the scores with batch and heads swapped would read other
// groups' heads: the ops stay as they are.
// CHECK-LABEL: func.func @heads_swapped
// CHECK-NOT: scf.forall
#qk_a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#qk_b = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
#qk_c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#swap = affine_map<(d0, d1, d2, d3) -> (d1, d0, d2, d3)>
func.func @heads_swapped(%q: tensor<16x96x16xf32>, %k: tensor<16x96x16xf32>, %v: tensor<16x96x16xf32>) -> tensor<16x96x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<16x96x96xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<16x96x96xf32>) -> tensor<16x96x96xf32>
  %s = linalg.batch_matmul indexing_maps = [#qk_a, #qk_b, #qk_c] ins(%q, %k : tensor<16x96x16xf32>, tensor<16x96x16xf32>) outs(%f0 : tensor<16x96x96xf32>) -> tensor<16x96x96xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [4, 4, 96, 96] : tensor<16x96x96xf32> into tensor<4x4x96x96xf32>
  %e4 = tensor.empty() : tensor<4x4x96x96xf32>
  %x = linalg.generic {indexing_maps = [#swap, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<4x4x96x96xf32>) outs(%e4 : tensor<4x4x96x96xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = math.exp %in : f32
    linalg.yield %m : f32
  } -> tensor<4x4x96x96xf32>
  %p = tensor.collapse_shape %x [[0, 1], [2], [3]] : tensor<4x4x96x96xf32> into tensor<16x96x96xf32>
  %e1 = tensor.empty() : tensor<16x96x16xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<16x96x16xf32>) -> tensor<16x96x16xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<16x96x96xf32>, tensor<16x96x16xf32>) outs(%f1 : tensor<16x96x16xf32>) -> tensor<16x96x16xf32>
  return %o : tensor<16x96x16xf32>
}
