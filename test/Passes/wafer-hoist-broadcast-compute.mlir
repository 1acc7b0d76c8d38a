// RUN: wafer-opt %s -p wafer-hoist-broadcast-compute | filecheck %s
// RUN: wafer-opt %s -p 'wafer-hoist-broadcast-compute{reductions=true}' | filecheck %s --check-prefix=REDUCE

// Squeeze-excite's sigmoid, fused into the multiply by the input: computed
// once per channel by a generic over (n, c), read back through a broadcast.
// CHECK-DAG: #[[$SCALE:.*]] = affine_map<(d0, d1) -> (d0, d1, 0, 0)>
// CHECK-DAG: #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$BCAST:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-LABEL: func.func @squeeze_excite
// CHECK-SAME: (%[[S:.*]]: tensor<1x8x1x1xf32>, %[[X:.*]]: tensor<1x8x5x7xf32>)
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x8xf32>
// CHECK: %[[SIG:.*]] = linalg.generic {indexing_maps = [#[[$SCALE]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[S]] : tensor<1x8x1x1xf32>) outs(%[[E]] : tensor<1x8xf32>)
// CHECK: math.exp
// CHECK: %[[Q:.*]] = arith.divf
// CHECK: linalg.yield %[[Q]]
// The scale itself is read no more: the generic drops it.
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[SIG]] : tensor<1x8x5x7xf32>, tensor<1x8xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f32, %[[SCALED:.*]]: f32, %{{.*}}: f32):
// CHECK-NOT: math.exp
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[SCALED]], %[[IN]]
// CHECK-NEXT: linalg.yield %[[P]]
func.func @squeeze_excite(%s: tensor<1x8x1x1xf32>, %x: tensor<1x8x5x7xf32>) -> tensor<1x8x5x7xf32> {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<1x8x5x7xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, 0, 0)>, affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (n, c, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %x : tensor<1x8x1x1xf32>, tensor<1x8x5x7xf32>) outs(%e : tensor<1x8x5x7xf32>) {
  ^bb0(%in: f32, %in_x: f32, %out: f32):
    %0 = arith.negf %in : f32
    %1 = math.exp %0 : f32
    %2 = arith.addf %1, %one : f32
    %3 = arith.divf %one, %2 : f32
    %4 = arith.mulf %3, %in_x : f32
    linalg.yield %4 : f32
  } -> tensor<1x8x5x7xf32>
  return %r : tensor<1x8x5x7xf32>
}

// A bias add on a broadcast read is cheaper than a second read: it stays.
// CHECK-LABEL: func.func @bias
// CHECK-NOT: tensor.empty() : tensor<8xf32>
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @bias(%b: tensor<8xf32>, %x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %two = arith.constant 2.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%b, %x : tensor<8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %in_x: f32, %out: f32):
    %0 = arith.mulf %in, %two : f32
    %1 = arith.addf %0, %in_x : f32
    linalg.yield %1 : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// Reductions and ops on the output (a running value) stay.
// CHECK-LABEL: func.func @row_sum
// CHECK: math.exp
// CHECK-NOT: linalg.generic
func.func @row_sum(%x: tensor<4x8xf32>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x8xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.exp %out : f32
    %1 = arith.addf %0, %in : f32
    linalg.yield %1 : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// A chain of constants only (batch norm's rsqrt of its variance) stays for
// the conv epilogues, which take per-channel constants.
// CHECK-LABEL: func.func @batch_norm_statistics
// CHECK-NOT: tensor.empty() : tensor<8xf32>
// CHECK: math.rsqrt
func.func @batch_norm_statistics(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %var = arith.constant dense<2.0> : tensor<8xf32>
  %eps = arith.constant 1.0e-5 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%var, %x : tensor<8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %in_x: f32, %out: f32):
    %0 = arith.addf %in, %eps : f32
    %1 = math.rsqrt %0 : f32
    %2 = arith.mulf %1, %in_x : f32
    linalg.yield %2 : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// With reductions=true (the WSE target), a bias add and tanh fused into a
// matmul's left operand run once per element of it, not once per product:
// hoisted into a generic over (m, k), they leave the matmul a plain product.
// Elementwise generics are left alone in that mode.
// REDUCE-LABEL: func.func @prologue
// REDUCE: %[[ACT:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%arg0, %arg1 : tensor<4x6xf32>, tensor<6xf32>)
// REDUCE: math.tanh
// REDUCE: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg2, %[[ACT]] : tensor<6x5xf32>, tensor<4x6xf32>)
// REDUCE-NEXT: ^bb0(%[[W:.*]]: f32, %[[A:.*]]: f32, %[[ACC:.*]]: f32):
// REDUCE-NEXT: %[[P:.*]] = arith.mulf %[[A]], %[[W]]
// REDUCE-NEXT: arith.addf %[[ACC]], %[[P]]
// REDUCE-LABEL: func.func @squeeze_excite_untouched
// REDUCE-NOT: tensor.empty() : tensor<1x8xf32>
func.func @prologue(%x: tensor<4x6xf32>, %b: tensor<6xf32>, %w: tensor<6x5xf32>) -> tensor<4x5xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x5xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x5xf32>) -> tensor<4x5xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %b, %w : tensor<4x6xf32>, tensor<6xf32>, tensor<6x5xf32>) outs(%init : tensor<4x5xf32>) {
  ^bb0(%in: f32, %bias: f32, %weight: f32, %acc: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = math.tanh %0 : f32
    %2 = arith.mulf %1, %weight : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<4x5xf32>
  return %r : tensor<4x5xf32>
}

func.func @squeeze_excite_untouched(%s: tensor<1x8x1x1xf32>, %x: tensor<1x8x5x7xf32>) -> tensor<1x8x5x7xf32> {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<1x8x5x7xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, 0, 0)>, affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (n, c, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %x : tensor<1x8x1x1xf32>, tensor<1x8x5x7xf32>) outs(%e : tensor<1x8x5x7xf32>) {
  ^bb0(%in: f32, %in_x: f32, %out: f32):
    %0 = math.exp %in : f32
    %1 = arith.mulf %0, %in_x : f32
    linalg.yield %1 : f32
  } -> tensor<1x8x5x7xf32>
  return %r : tensor<1x8x5x7xf32>
}

// A 16-bit prologue (ReLU) ends in the widening to the f32 accumulator: the
// ReLU is hoisted in f16, and the matmul widens the 16-bit operand as it reads
// it (@fmachs on a WSE); a lone widening stays in the body.
// REDUCE-LABEL: func.func @prologue_in_f16
// REDUCE: %[[ACT:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x6xf16>) outs(%{{.*}} : tensor<4x6xf16>)
// REDUCE: arith.maximumf
// REDUCE: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg1, %[[ACT]] : tensor<6x5xf16>, tensor<4x6xf16>)
// REDUCE-NEXT: ^bb0(%[[W:.*]]: f16, %[[A:.*]]: f16, %[[ACC:.*]]: f32):
// REDUCE-DAG: arith.extf %[[A]] : f16 to f32
// REDUCE-DAG: arith.extf %[[W]] : f16 to f32
// REDUCE-LABEL: func.func @lone_widening
// REDUCE-NOT: tensor<4x6xf32>
func.func @prologue_in_f16(%x: tensor<4x6xf16>, %w: tensor<6x5xf16>) -> tensor<4x5xf32> {
  %zero = arith.constant 0.0 : f32
  %zero16 = arith.constant 0.0 : f16
  %e = tensor.empty() : tensor<4x5xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x5xf32>) -> tensor<4x5xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<4x6xf16>, tensor<6x5xf16>) outs(%init : tensor<4x5xf32>) {
  ^bb0(%in: f16, %weight: f16, %acc: f32):
    %0 = arith.maximumf %in, %zero16 : f16
    %1 = arith.extf %0 : f16 to f32
    %2 = arith.extf %weight : f16 to f32
    %3 = arith.mulf %1, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  } -> tensor<4x5xf32>
  return %r : tensor<4x5xf32>
}

func.func @lone_widening(%x: tensor<4x6xf16>, %w: tensor<6x5xf32>) -> tensor<4x5xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x5xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x5xf32>) -> tensor<4x5xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<4x6xf16>, tensor<6x5xf32>) outs(%init : tensor<4x5xf32>) {
  ^bb0(%in: f16, %weight: f32, %acc: f32):
    %0 = arith.extf %in : f16 to f32
    %1 = arith.mulf %0, %weight : f32
    %2 = arith.addf %acc, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<4x5xf32>
  return %r : tensor<4x5xf32>
}
