// A pass failure prints the error at the op, then a note with the saved input
// and the exact wafer-opt command that reproduces the failure; running that
// command fails again with the same error.
// RUN: not wafer-opt %s -p 'func.func(canonicalize),wafer-fuse{tile-sizes=4,4},wafer-verify-cpu-support' 2> %t.err
// RUN: filecheck %s --input-file %t.err
// RUN: grep -o "wafer-opt .*--pass-pipeline=.*" %t.err > %t.sh
// RUN: not sh %t.sh 2>&1 | filecheck %s --check-prefix=AGAIN

// CHECK-NOT: Traceback
// CHECK: repro.mlir:[[# @LINE + 15]]:8: error: 'tosa.abs' is not supported by the CPU target
// CHECK-NEXT: note: pipeline failed on {{.*}}repro.mlir; input saved, reproduce with:
// CHECK-NEXT: {{^}}  wafer-opt {{.*}}wafer-repro-{{.*}}.mlir --pass-pipeline='builtin.module(func.func(canonicalize),wafer-fuse{tile-sizes=4,4},wafer-verify-cpu-support)'{{$}}
// CHECK-NOT: Traceback

// The saved input is this file as it was given, so the line is the same.
// AGAIN: wafer-repro-{{.*}}.mlir:[[# @LINE + 9]]:8: error: 'tosa.abs' is not supported by the CPU target
// AGAIN-NEXT: note: pipeline failed on {{.*}}wafer-repro-{{.*}}.mlir; input saved, reproduce with:

func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>, %init: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x4xf32>) outs(%init : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}

func.func @unsupported(%a: tensor<4xf32>) -> tensor<4xf32> {
  %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
