// --verify-diagnostics fails, and says why, when an expected diagnostic is
// missing, when one appears that was not expected, or when the text differs.
// RUN: not wafer-opt %s --split-input-file --verify-diagnostics -p wafer-verify-cpu-support 2>&1 | filecheck %s

// CHECK-NOT: Traceback
// CHECK-DAG: verify-diagnostics-mismatch.mlir:[[# @LINE + 9]]: error: expected error "this is never reported" was not produced
// CHECK-DAG: verify-diagnostics-mismatch.mlir:[[# @LINE + 15]]:8: error: unexpected error: 'tosa.abs' is not supported by the CPU target
// CHECK-DAG: verify-diagnostics-mismatch.mlir:[[# @LINE + 22]]:8: error: unexpected error: 'tosa.exp' is not supported by the CPU target
// CHECK-DAG: verify-diagnostics-mismatch.mlir:[[# @LINE + 20]]: error: expected error "some other message" was not produced
// CHECK-DAG: verify-diagnostics-mismatch.mlir:[[# @LINE + 29]]:8: error: unexpected error: 'tosa.abs' is not supported by the CPU target
// CHECK-DAG: verify-diagnostics-mismatch.mlir:[[# @LINE + 27]]: error: expected error "'tosa.abs' is not supported by the CPU target" was not produced
// CHECK-NOT: Traceback

func.func @missing() {
  // expected-error@+1 {{this is never reported}}
  return
}

// -----

func.func @unexpected(%a: tensor<4xf32>) -> tensor<4xf32> {
  %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @wrong_text(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{some other message}}
  %r = tosa.exp %a : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// Expected on the wrong line: both the miss and the stray error are reported.
func.func @wrong_line(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+2 {{'tosa.abs' is not supported by the CPU target}}
  %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
