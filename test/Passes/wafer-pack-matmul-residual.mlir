// RUN: wafer-opt %s -p 'wafer-pack-matmul{machine=avx512 parallel-flops=4000000},wafer-zero-accumulators,canonicalize,cse' | filecheck %s

// wafer-pack-matmul accumulates a contraction's sums onto the residual that is
// added to them after its bias (see matmul_residual.py), where the residual is
// a temporary read by nothing after the contraction: the kernel's C is the
// residual, the add is gone, the bias add stays. wafer-zero-accumulators then
// sums each register block's products from zero and adds the residual after
// the K loop.
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @residual
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK: %[[R:.*]] = linalg.generic
// CHECK: math.exp
// CHECK: %[[C:.*]] = tensor.expand_shape %[[R]]
// CHECK: scf.forall {{.*}} shared_outs(%{{.*}} = %[[C]])
// CHECK: %[[SUMS:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[ZERO]]) -> (vector<8x32xf32>)
// CHECK: vector.contract
// CHECK: scf.yield
// CHECK: %[[TILE:.*]] = vector.transfer_read
// CHECK: %[[TOTAL:.*]] = arith.addf %[[TILE]], %[[SUMS]] : vector<8x32xf32>
// CHECK: vector.transfer_write %[[TOTAL]]
// CHECK: %[[D:.*]] = tensor.collapse_shape
// CHECK: %[[BIASED:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[D]] :
// CHECK-NOT: linalg.generic
// CHECK: return %[[BIASED]]
func.func @residual(%a: tensor<64x256xf32>, %x: tensor<64x256xf32>) -> tensor<64x256xf32> {
  %w = arith.constant dense<0.5> : tensor<256x256xf32>
  %bias = arith.constant dense<0.25> : tensor<256xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x256xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.exp %in : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<64x256xf32>) -> tensor<64x256xf32>
  %m = linalg.matmul ins(%a, %w : tensor<64x256xf32>, tensor<256x256xf32>) outs(%c : tensor<64x256xf32>) -> tensor<64x256xf32>
  %b = linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%bias, %m : tensor<256xf32>, tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %t = arith.addf %in, %in_1 : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%b, %r : tensor<64x256xf32>, tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %t = arith.addf %in, %in_1 : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  return %s : tensor<64x256xf32>
}

// Left alone: the residual is read after the contraction (its memory is not
// free to write), or is the caller's argument.
// CHECK-LABEL: func.func @read_after
// CHECK: %[[R:.*]] = linalg.generic
// CHECK: math.exp
// CHECK-NOT: tensor.expand_shape %[[R]]
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[R]] :
// CHECK: math.tanh
func.func @read_after(%a: tensor<64x256xf32>, %x: tensor<64x256xf32>) -> (tensor<64x256xf32>, tensor<64x256xf32>) {
  %w = arith.constant dense<0.5> : tensor<256x256xf32>
  %bias = arith.constant dense<0.25> : tensor<256xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x256xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.exp %in : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<64x256xf32>) -> tensor<64x256xf32>
  %m = linalg.matmul ins(%a, %w : tensor<64x256xf32>, tensor<256x256xf32>) outs(%c : tensor<64x256xf32>) -> tensor<64x256xf32>
  %b = linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%bias, %m : tensor<256xf32>, tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %t = arith.addf %in, %in_1 : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%b, %r : tensor<64x256xf32>, tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %t = arith.addf %in, %in_1 : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  %later = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%r : tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  return %s, %later : tensor<64x256xf32>, tensor<64x256xf32>
}

// CHECK-LABEL: func.func @argument
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<64x256xf32>) -> tensor<64x256xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[X]] :
func.func @argument(%a: tensor<64x256xf32>, %x: tensor<64x256xf32>) -> tensor<64x256xf32> {
  %w = arith.constant dense<0.5> : tensor<256x256xf32>
  %bias = arith.constant dense<0.25> : tensor<256xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x256xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<64x256xf32>) -> tensor<64x256xf32>
  %m = linalg.matmul ins(%a, %w : tensor<64x256xf32>, tensor<256x256xf32>) outs(%c : tensor<64x256xf32>) -> tensor<64x256xf32>
  %b = linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%bias, %m : tensor<256xf32>, tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %t = arith.addf %in, %in_1 : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%b, %x : tensor<64x256xf32>, tensor<64x256xf32>) outs(%e : tensor<64x256xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %t = arith.addf %in, %in_1 : f32
    linalg.yield %t : f32
  } -> tensor<64x256xf32>
  return %s : tensor<64x256xf32>
}
