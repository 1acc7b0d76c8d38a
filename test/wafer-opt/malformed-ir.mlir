// Malformed IR: a located error, exit 1, and no Python traceback.
// RUN: not wafer-opt %s 2>&1 | filecheck %s
// RUN: not wafer-opt %s -p canonicalize 2>&1 | filecheck %s
// RUN: not wafer-opt %s --pipeline cpu 2>&1 | filecheck %s

// CHECK-NOT: Traceback
// CHECK: malformed-ir.mlir:[[# @LINE + 5]]:10: error: use of undeclared SSA value name
// CHECK-NOT: Traceback

func.func @undeclared(%x: i32) -> i32 {
  %c = arith.constant 1 : i32
  return %y : i32
}
