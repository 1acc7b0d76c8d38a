// IR that parses but does not verify: the verifier's message at the op, with
// its note, and exit 1.
// RUN: not wafer-opt %s 2>&1 | filecheck %s

// CHECK-NOT: Traceback
// CHECK: verifier-error.mlir:[[# @LINE + 5]]:3: error: 'func.return' op has 1 operands, but enclosing function (@wrong_return) returns 0
// CHECK-NOT: Traceback

func.func @wrong_return() {
  %c = arith.constant 1 : i32
  return %c : i32
}
