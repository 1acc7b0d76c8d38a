// RUN: wafer-opt %s -p wafer-expose-c-interface | filecheck %s
// RUN: wafer-opt %s -p wafer-expose-c-interface,convert-func-to-llvm | filecheck %s --check-prefix=LLVM

// CHECK-LABEL: func.func @public_def
// CHECK-SAME: attributes {llvm.emit_c_interface}
// LLVM-DAG: llvm.func @_mlir_ciface_public_def(
func.func @public_def(%a: i32) -> i32 {
  return %a : i32
}

// `public` spelt out is the default visibility, not a reason to skip.
// CHECK-LABEL: func.func public @explicit_public
// CHECK-SAME: attributes {llvm.emit_c_interface}
// LLVM-DAG: llvm.func @_mlir_ciface_explicit_public(
func.func public @explicit_public(%a: i32) -> i32 {
  return %a : i32
}

// A function the JIT never calls from outside keeps its plain signature.
// CHECK-LABEL: func.func private @private_def
// CHECK-SAME: -> i32 {{{$}}
// LLVM-DAG: llvm.func @private_def(
func.func private @private_def(%a: i32) -> i32 {
  return %a : i32
}

// A declaration has no body to wrap.
// CHECK-LABEL: func.func private @external_decl
// CHECK-SAME: (i32) -> i32{{$}}
func.func private @external_decl(i32) -> i32

// Already marked: the attribute is set once, not twice.
// CHECK-LABEL: func.func @already_marked
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-NOT: llvm.emit_c_interface
// CHECK: return
func.func @already_marked(%a: i32) -> i32 attributes {llvm.emit_c_interface} {
  return %a : i32
}

// Other attributes are kept next to the new one.
// CHECK-LABEL: func.func @other_attrs
// CHECK-SAME: attributes {llvm.emit_c_interface, wafer.keep = 1 : i64}
func.func @other_attrs(%a: i32) -> i32 attributes {wafer.keep = 1} {
  return %a : i32
}

// LLVM-NOT: _mlir_ciface_private_def
// LLVM-NOT: _mlir_ciface_external_decl
