// Input from a file, from stdin as `-`, and from stdin by default; output to
// stdout or to a file with -o.
// RUN: wafer-opt %s -p canonicalize | filecheck %s
// RUN: wafer-opt - -p canonicalize < %s | filecheck %s
// RUN: cat %s | wafer-opt -p canonicalize | filecheck %s
// RUN: rm -f %t && wafer-opt %s -p canonicalize -o %t && filecheck %s --input-file %t
// RUN: cat %s | wafer-opt - -o %t.stdin && filecheck %s --check-prefix=NOPASS --input-file %t.stdin
// No pipeline at all: the input is parsed, verified and printed back.
// RUN: wafer-opt %s | filecheck %s --check-prefix=NOPASS
// RUN: wafer-opt %s --mlir-print-generic | filecheck %s --check-prefix=GENERIC

// Errors in stdin input name <stdin>; unreadable input and unwritable output
// are one-line errors, exit 1.
// RUN: echo 'func.func @f() { %0 = foo.bar }' | not wafer-opt - 2>&1 | filecheck %s --check-prefix=STDIN-ERR
// RUN: not wafer-opt %t.does-not-exist.mlir 2>&1 | filecheck %s --check-prefix=NO-INPUT
// RUN: not wafer-opt %s -o %t.no-such-dir/out.mlir 2>&1 | filecheck %s --check-prefix=NO-OUTPUT

// CHECK-LABEL: func.func @fold(
// CHECK-SAME: %[[X:.*]]: i32) -> i32
// CHECK-NEXT: return %[[X]] : i32

// NOPASS-LABEL: func.func @fold(
// NOPASS: %[[C0:.*]] = arith.constant 0 : i32
// NOPASS-NEXT: %[[SUM:.*]] = arith.addi %{{.*}}, %[[C0]] : i32
// NOPASS-NEXT: return %[[SUM]] : i32

// GENERIC: "func.func"() <{function_type = (i32) -> i32, sym_name = "fold"}>
// GENERIC: "arith.addi"

// STDIN-ERR-NOT: Traceback
// STDIN-ERR: <stdin>:1:{{[0-9]+}}: error:
// STDIN-ERR-NOT: Traceback

// NO-INPUT: error: cannot read input '{{.*}}does-not-exist.mlir': No such file or directory
// NO-INPUT-NOT: Traceback

// NO-OUTPUT: error: cannot write output '{{.*}}no-such-dir/out.mlir': No such file or directory
// NO-OUTPUT-NOT: Traceback

func.func @fold(%x: i32) -> i32 {
  %c0 = arith.constant 0 : i32
  %r = arith.addi %x, %c0 : i32
  return %r : i32
}
