// The chunks after the first fail, so the exit status is non-zero; only the
// first chunk's module is printed.
// RUN: not wafer-opt %s --split-input-file -p wafer-verify-cpu-support 2>/dev/null | filecheck %s
// RUN: wafer-opt %s --split-input-file --verify-diagnostics -p wafer-verify-cpu-support

// Every dialect here is one the CPU pipeline lowers: the module passes
// through unchanged.
// CHECK-LABEL: func.func @supported
// CHECK-SAME: (%[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<8x4xf32>, %[[IDX:.*]]: tensor<2x1xi32>, %[[UPD:.*]]: tensor<2xf32>)
// CHECK: %[[C0:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<4x4xf32>
// CHECK-NEXT: %[[F:.*]] = linalg.fill ins(%[[C0]] : f32) outs(%[[E]] : tensor<4x4xf32>)
// CHECK-NEXT: %[[MM:.*]] = linalg.matmul ins(%[[A]], %[[B]] : tensor<4x8xf32>, tensor<8x4xf32>) outs(%[[F]] : tensor<4x4xf32>)
// CHECK-NEXT: %[[EXP:.*]] = math.exp %{{.*}} : f32
// CHECK: %[[SC:.*]] = scf.if
// CHECK: %[[G:.*]] = ml_program.global_load @state : tensor<4xf32>
// CHECK-NEXT: %[[S:.*]] = tm_tensor.scatter
// CHECK: return %[[MM]]
// CHECK-NOT: func.func
func.func @supported(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>, %idx: tensor<2x1xi32>, %upd: tensor<2xf32>) -> tensor<4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %mm = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f : tensor<4x4xf32>) -> tensor<4x4xf32>
  %exp = math.exp %zero : f32
  %true = arith.constant true
  %sc = scf.if %true -> f32 {
    scf.yield %exp : f32
  } else {
    scf.yield %zero : f32
  }
  %g = ml_program.global_load @state : tensor<4xf32>
  %s = tm_tensor.scatter {dimension_map = array<i64: 0>} unique_indices(false) ins(%upd, %idx : tensor<2xf32>, tensor<2x1xi32>) outs(%g : tensor<4xf32>) {
  ^bb0(%u: f32, %o: f32):
    tm_tensor.yield %u : f32
  } -> tensor<4xf32>
  return %mm : tensor<4x4xf32>
}
ml_program.global private mutable @state(dense<0.0> : tensor<4xf32>) : tensor<4xf32>

// -----

// A torch-dialect op left over from a partial lowering.
func.func @torch_op(%a: !torch.vtensor<[4],f32>) -> !torch.vtensor<[4],f32> {
  // expected-error@+1 {{'torch.aten.relu' is not supported by the CPU target}}
  %r = torch.aten.relu %a : !torch.vtensor<[4],f32> -> !torch.vtensor<[4],f32>
  return %r : !torch.vtensor<[4],f32>
}

// -----

// The error points at the op, however deep it is nested.
func.func @nested(%a: tensor<4xf32>, %c: i1) -> tensor<4xf32> {
  %r = scf.if %c -> tensor<4xf32> {
    // expected-error@+1 {{'tosa.abs' is not supported by the CPU target}}
    %x = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
    scf.yield %x : tensor<4xf32>
  } else {
    scf.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// Only the first unsupported op is reported.
func.func @two_unsupported() -> index {
  // expected-error@+1 {{'gpu.thread_id' is not supported by the CPU target}}
  %t = gpu.thread_id x
  %b = gpu.block_id y
  return %t : index
}
