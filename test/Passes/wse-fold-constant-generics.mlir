// RUN: wafer-opt %s -p wse-fold-constant-generics | filecheck %s

#id = affine_map<(d0) -> (d0)>
#row = affine_map<(d0, d1) -> (d0)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>

// An upsampling's source rows, computed from an iota: folded into the constant.
// CHECK-LABEL: func.func @source_rows
// CHECK: %[[ROWS:.*]] = arith.constant dense<[0, 0, 1, 1, 2, 2]> : tensor<6xi64>
// CHECK-NOT: linalg.generic
// CHECK: return %[[ROWS]]
func.func @source_rows() -> tensor<6xi64> {
  %iota = arith.constant dense<[0, 1, 2, 3, 4, 5]> : tensor<6xi64>
  %two = arith.constant 2 : i64
  %e = tensor.empty() : tensor<6xi64>
  %rows = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%iota : tensor<6xi64>) outs(%e : tensor<6xi64>) {
  ^bb0(%i: i64, %out: i64):
    %r = arith.divsi %i, %two : i64
    linalg.yield %r : i64
  } -> tensor<6xi64>
  return %rows : tensor<6xi64>
}

// A broadcast would grow the module's constants: left to the program.
// CHECK-LABEL: func.func @broadcast
// CHECK: linalg.generic
func.func @broadcast() -> tensor<3x4xf32> {
  %v = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %e = tensor.empty() : tensor<3x4xf32>
  %b = linalg.generic {indexing_maps = [#row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%v : tensor<3xf32>) outs(%e : tensor<3x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<3x4xf32>
  return %b : tensor<3x4xf32>
}

// A weight held as a resource is the program's to read, as is an op that reads its init.
// CHECK-LABEL: func.func @weight_and_init
// CHECK-COUNT-2: linalg.generic
func.func @weight_and_init(%init: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %w = arith.constant dense_resource<w> : tensor<2xf32>
  %v = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<2xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%w : tensor<2xf32>) outs(%e : tensor<2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.mulf %in, %in : f32
    linalg.yield %s : f32
  } -> tensor<2xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%v : tensor<2xf32>) outs(%init : tensor<2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<2xf32>
  return %scaled, %sum : tensor<2xf32>, tensor<2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F00000040"
    }
  }
#-}
