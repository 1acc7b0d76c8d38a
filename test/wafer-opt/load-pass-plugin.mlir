// --load-pass-plugin runs a Python file and registers the passes it defines
// (here examples/custom_pass.py's double-to-add: x * 2.0 -> x + x), usable by
// name in -p, --pass-pipeline and a named pipeline's after-<stage> option.
// RUN: wafer-opt %s --load-pass-plugin %repo/examples/custom_pass.py -p double-to-add | filecheck %s
// RUN: wafer-opt %s --load-pass-plugin=%repo/examples/custom_pass.py --pass-pipeline='builtin.module(double-to-add,func.func(canonicalize))' | filecheck %s
// RUN: wafer-opt %s --load-pass-plugin %repo/examples/custom_pass.py --pipeline 'cpu{threads=1 after-simplify=double-to-add}' | filecheck %s --check-prefix=LOWERED
// RUN: wafer-opt --load-pass-plugin %repo/examples/custom_pass.py --list-passes < /dev/null | filecheck %s --check-prefix=LIST
// Without the plugin the name is unknown; a plugin that is not there is a one-line error.
// RUN: not wafer-opt %s -p double-to-add 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not wafer-opt %s --load-pass-plugin %t.missing.py -p double-to-add 2>&1 | filecheck %s --check-prefix=MISSING

// CHECK-LABEL: func.func @double(
// CHECK-SAME: %[[X:.*]]: f32) -> f32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[X]], %[[X]] : f32
// CHECK-NEXT: return %[[SUM]] : f32
func.func @double(%x: f32) -> f32 {
  %two = arith.constant 2.0 : f32
  %y = arith.mulf %x, %two : f32
  return %y : f32
}

// The constant may come first.
// CHECK-LABEL: func.func @double_on_the_left(
// CHECK-SAME: %[[X:.*]]: f32) -> f32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[X]], %[[X]] : f32
// CHECK-NEXT: return %[[SUM]] : f32
func.func @double_on_the_left(%x: f32) -> f32 {
  %two = arith.constant 2.0 : f32
  %y = arith.mulf %two, %x : f32
  return %y : f32
}

// Any other factor stays a multiply.
// CHECK-LABEL: func.func @triple(
// CHECK: arith.mulf
// CHECK-NOT: arith.addf
func.func @triple(%x: f32) -> f32 {
  %three = arith.constant 3.0 : f32
  %y = arith.mulf %x, %three : f32
  return %y : f32
}

// CHECK-LABEL: func.func @double_tensor(
// CHECK: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[IN]], %[[IN]] : f32
// CHECK-NEXT: linalg.yield %[[SUM]] : f32

// Through the whole cpu pipeline, the loop, a function of its own, adds the element to itself.
// LOWERED-LABEL: llvm.func @double_tensor(
// LOWERED: llvm.call @[[KERNEL:wafer_kernel[0-9]+]](
// LOWERED-LABEL: llvm.func @_mlir_ciface_double_tensor(
// LOWERED: llvm.func @[[KERNEL]](
// LOWERED: %[[V:.*]] = llvm.load
// LOWERED-NEXT: llvm.fadd %[[V]], %[[V]] : f32
// LOWERED-NOT: llvm.fmul
#id = affine_map<(i) -> (i)>
func.func @double_tensor(%x: tensor<8xf32>) -> tensor<8xf32> {
  %two = arith.constant 2.0 : f32
  %empty = tensor.empty() : tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%empty : tensor<8xf32>) {
  ^bb0(%v: f32, %out: f32):
    %d = arith.mulf %v, %two : f32
    linalg.yield %d : f32
  } -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// LIST: Wafer passes:
// LIST: {{^}}  double-to-add {{ *}}Rewrite arith.mulf by 2.0 as arith.addf of the operand with itself
// LIST: {{^}}  wafer-annotate-loops

// UNKNOWN: error: in pass pipeline at 'double-to-add': {{.*}}'double-to-add' does not refer to a registered pass

// MISSING: error: cannot read pass plugin '{{.*}}.missing.py': No such file or directory
// MISSING-NOT: Traceback
