// wse-partition groups a contraction and its epilogue into one summa region.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition' | filecheck %s --check-prefix=PARTITION
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'wse-partition{machine=wse9}' 2>&1 | filecheck %s --check-prefix=BAD-MACHINE
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'wse-partition' 2>&1 | filecheck %s --check-prefix=NAMED

// PARTITION-LABEL: func.func @linear
// PARTITION: "wse.region"() ({
// PARTITION: linalg.generic
// PARTITION: arith.mulf
// PARTITION: linalg.generic
// PARTITION: arith.maximumf
// PARTITION: "wse.yield"
// PARTITION: kind = "summa", slot = -1 : i64, sym_name = "summa0"

// BAD-MACHINE: error: unknown machine 'wse9'

// NAMED: error: 'linalg.matmul' must be generalized before wse-partition

// A group ends where a member's result escapes; cutting it can make an earlier
// member's result escape too (%a, read by %d once %b is cut), so %a is alone.
// RUN: wafer-opt %s -p wse-partition | filecheck %s --check-prefix=ESCAPE
// ESCAPE-LABEL: func.func @escape
// ESCAPE: "wse.region"() ({
// ESCAPE-NEXT: linalg.generic
// ESCAPE-NEXT: ^bb0
// ESCAPE-NEXT: math.exp
// ESCAPE-NEXT: linalg.yield
// ESCAPE-NEXT: }
// ESCAPE-NEXT: "wse.yield"
// ESCAPE-NEXT: }) {flops = 32 : i64

#id = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
func.func @escape(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<8x4xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %et = tensor.empty() : tensor<8x4xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %in : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %t = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xf32>) outs(%et : tensor<8x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<8x4xf32>
  %c = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %in : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %d = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%a, %c : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %r = arith.addf %in, %in2 : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %d, %t : tensor<4x8xf32>, tensor<8x4xf32>
}

// A region holds each value in one layout: an op that reads a member's result
// through another map (transposed, on a square tensor) starts a region of its
// own, after a contraction (%t) as after a rowwise run (%u reads %s both ways).
// RUN: wafer-opt %s -p wse-partition | filecheck %s --check-prefix=LAYOUT
// LAYOUT-LABEL: func.func @transposed_reads
// LAYOUT: "wse.region"() ({
// LAYOUT-NEXT: linalg.generic {{.*}}"reduction"
// LAYOUT: "wse.yield"
// LAYOUT-NEXT: }) {{.*}}sym_name = "summa0"
// LAYOUT: "wse.region"() ({
// LAYOUT-NEXT: linalg.generic {indexing_maps = [#[[TR:map[0-9]*]], #[[ID:map[0-9]*]]],
// LAYOUT: arith.negf
// LAYOUT: "wse.yield"
// LAYOUT-NEXT: }) {{.*}}sym_name = "rowwise1"
// LAYOUT: "wse.region"() ({
// LAYOUT-NEXT: linalg.generic
// LAYOUT: math.exp
// LAYOUT-NEXT: linalg.yield
// LAYOUT-NEXT: }
// LAYOUT-NEXT: "wse.yield"
// LAYOUT-NEXT: }) {{.*}}sym_name = "rowwise2"
// LAYOUT: "wse.region"() ({
// LAYOUT-NEXT: linalg.generic {indexing_maps = [#[[TR]], #[[ID]], #[[ID]]],
// LAYOUT: arith.mulf
// LAYOUT: "wse.yield"
// LAYOUT-NEXT: }) {{.*}}sym_name = "rowwise3"

#mk = affine_map<(d0, d1, d2) -> (d0, d2)>
#kn = affine_map<(d0, d1, d2) -> (d2, d1)>
#mn = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @transposed_reads(%x: tensor<8x8xf32>, %w: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xf32>
  %acc = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<8x8xf32>) {
  ^bb0(%out: f32):
    linalg.yield %zero : f32
  } -> tensor<8x8xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<8x8xf32>, tensor<8x8xf32>) outs(%acc : tensor<8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %out, %m : f32
    linalg.yield %r : f32
  } -> tensor<8x8xf32>
  %t = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%p : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.negf %in : f32
    linalg.yield %r : f32
  } -> tensor<8x8xf32>
  %s = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<8x8xf32>
  %u = linalg.generic {indexing_maps = [#tr, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%s, %s : tensor<8x8xf32>, tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %r = arith.mulf %in, %in2 : f32
    linalg.yield %r : f32
  } -> tensor<8x8xf32>
  return %t, %u : tensor<8x8xf32>, tensor<8x8xf32>
}
