// The last chunk fails, so the exit status is non-zero.
// RUN: not wafer-opt %s --split-input-file -p wafer-fold-const-globals 2>/dev/null | filecheck %s
// RUN: wafer-opt %s --split-input-file --verify-diagnostics -p wafer-fold-const-globals

// Each load of an immutable global becomes a constant of its value.
// CHECK-LABEL: func.func @dense
// CHECK-NEXT: %[[A:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[B:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[S:.*]] = arith.constant 3 : i32
// CHECK-NEXT: return %[[A]], %[[B]], %[[S]]
ml_program.global private @weights(dense<[1.0, 2.0]> : tensor<2xf32>) : tensor<2xf32>
ml_program.global private @scale(3 : i32) : i32
func.func @dense() -> (tensor<2xf32>, tensor<2xf32>, i32) {
  %a = ml_program.global_load_const @weights : tensor<2xf32>
  %b = ml_program.global_load_const @weights : tensor<2xf32>
  %s = ml_program.global_load_const @scale : i32
  return %a, %b, %s : tensor<2xf32>, tensor<2xf32>, i32
}

// -----

// Large weights arrive as resources; they are folded the same way. Loads of
// mutable globals are left to bufferization.
// CHECK-LABEL: func.func @resource_and_mutable
// CHECK-NEXT: %[[R:.*]] = arith.constant dense_resource<blob> : tensor<2xf32>
// CHECK-NEXT: %[[M:.*]] = ml_program.global_load @state : tensor<2xf32>
// CHECK-NEXT: return %[[R]], %[[M]]
ml_program.global private @resource(dense_resource<blob> : tensor<2xf32>) : tensor<2xf32>
ml_program.global private mutable @state(dense<0.0> : tensor<2xf32>) : tensor<2xf32>
func.func @resource_and_mutable() -> (tensor<2xf32>, tensor<2xf32>) {
  %r = ml_program.global_load_const @resource : tensor<2xf32>
  %m = ml_program.global_load @state : tensor<2xf32>
  return %r, %m : tensor<2xf32>, tensor<2xf32>
}
{-#
  dialect_resources: { builtin: { blob: "0x040000000000803F00000040" } }
#-}

// -----

// An external global's value is only known at link time.
ml_program.global private @extern(#ml_program.extern : tensor<2xf32>) : tensor<2xf32>
func.func @external() -> tensor<2xf32> {
  // expected-error@+1 {{global @extern is external: its value is not known at compile time}}
  %e = ml_program.global_load_const @extern : tensor<2xf32>
  return %e : tensor<2xf32>
}
