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
