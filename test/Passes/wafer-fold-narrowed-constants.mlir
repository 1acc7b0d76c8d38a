// RUN: wafer-opt %s -p 'wafer-fold-narrowed-constants' | filecheck %s

// A layer norm's eps, an f64 in torch, truncated to bf16 in a model compiled at
// bf16: the constant is rounded at compile time (1e-5 is 1.00136e-05 in bf16),
// so no f64 -> bf16 truncation is left for compiler-rt.
// CHECK-LABEL: func.func @layer_norm_eps
// CHECK-NOT: arith.truncf
// CHECK: %[[EPS:.*]] = arith.constant 1.001360e-05 : bf16
// CHECK: arith.addf %arg0, %[[EPS]] : bf16
func.func @layer_norm_eps(%x: bf16) -> bf16 {
  %eps = arith.constant 1.000000e-05 : f64
  %narrow = arith.truncf %eps : f64 to bf16
  %y = arith.addf %x, %narrow : bf16
  return %y : bf16
}

// f16 too; a truncation of a runtime value and one with its own rounding mode stay.
// CHECK-LABEL: func.func @half_and_values
// CHECK: %[[THIRD:.*]] = arith.constant 3.332520e-01 : f16
// CHECK: arith.truncf %arg0 : f32 to f16
// CHECK: arith.truncf %{{.*}} downward : f64 to f16
func.func @half_and_values(%x: f32) -> (f16, f16, f16) {
  %third = arith.constant 0.33333333333333331 : f64
  %a = arith.truncf %third : f64 to f16
  %b = arith.truncf %x : f32 to f16
  %c = arith.truncf %third downward : f64 to f16
  return %a, %b, %c : f16, f16, f16
}
