// Each chunk is parsed on its own, with the line numbers of the whole file:
// an error in the third chunk points at its line in this file.
// RUN: not wafer-opt %s --split-input-file 2>%t.err | filecheck %s
// RUN: filecheck %s --check-prefix=ERR --input-file %t.err
// Without the flag the markers are plain comments: the whole file is one
// module, the error has the same line, and nothing is printed.
// RUN: not wafer-opt %s 2>&1 | filecheck %s --check-prefix=WHOLE

// Good chunks are printed, separated by the marker; the bad one is not.
// CHECK-LABEL: func.func @dup(
// CHECK-SAME: i32
// CHECK: // -----
// CHECK-LABEL: func.func @dup(
// CHECK-SAME: f32
// CHECK-NOT: @bad_return

// ERR-NOT: Traceback
// ERR: split-input-file.mlir:[[# @LINE + 21]]:3: error: 'func.return' op has 1 operands
// ERR-NOT: split-input-file.mlir:{{[0-9]+}}:{{[0-9]+}}: error:

// WHOLE-NOT: func.func
// WHOLE: split-input-file.mlir:[[# @LINE + 17]]:3: error: 'func.return' op has 1 operands
// WHOLE-NOT: func.func

func.func @dup(%x: i32) -> i32 {
  return %x : i32
}

// -----

func.func @dup(%x: f32) -> f32 {
  return %x : f32
}

// -----

func.func @bad_return() {
  %c = arith.constant 1 : i32
  return %c : i32
}
