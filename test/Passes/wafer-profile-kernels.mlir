// RUN: wafer-opt %s --split-input-file -p wafer-profile-kernels | filecheck %s

// A run of ops that compute and come from one place is one kernel: the fill
// and the loop of "conv1", with the allocation between them, are timed
// together. The module names the kernels by id; the hooks are declared.
// CHECK: module attributes {wafer.kernels = ["conv1", "relu1", "model.py:7"]}
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: memref<4xf32>, %[[Y:.*]]: memref<4xf32>)
// CHECK: %[[K0:.*]] = arith.constant 0 : i64
// CHECK-NEXT: call @wafer_kernel_begin(%[[K0]]) : (i64) -> ()
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: %[[T:.*]] = memref.alloc
// CHECK-NEXT: scf.for
// CHECK: call @wafer_kernel_end(%[[K0]]) : (i64) -> ()
// CHECK-NEXT: %[[K1:.*]] = arith.constant 1 : i64
// CHECK-NEXT: call @wafer_kernel_begin(%[[K1]]) : (i64) -> ()
// CHECK-NEXT: memref.copy %[[T]], %[[Y]]
// CHECK-NEXT: call @wafer_kernel_end(%[[K1]]) : (i64) -> ()
// CHECK-NEXT: memref.dealloc %[[T]]
// CHECK-NEXT: %[[K2:.*]] = arith.constant 2 : i64
// CHECK-NEXT: call @wafer_kernel_begin(%[[K2]]) : (i64) -> ()
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: call @wafer_kernel_end(%[[K2]]) : (i64) -> ()
// CHECK-NEXT: return
// Private functions are not timed: their caller's kernels hold them.
// CHECK-LABEL: func.func private @helper
// CHECK-NOT: wafer_kernel
// CHECK: return
// CHECK: func.func private @wafer_kernel_begin(i64) attributes {llvm.emit_c_interface}
// CHECK: func.func private @wafer_kernel_end(i64) attributes {llvm.emit_c_interface}
func.func @forward(%x: memref<4xf32>, %y: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  linalg.fill ins(%zero : f32) outs(%y : memref<4xf32>) loc("conv1")
  %t = memref.alloc() : memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %x[%i] : memref<4xf32>
    memref.store %v, %t[%i] : memref<4xf32>
  } loc("conv1")
  memref.copy %t, %y : memref<4xf32> to memref<4xf32> loc("relu1")
  memref.dealloc %t : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%x : memref<4xf32>) loc(callsite("/torch/site-packages/nn/linear.py":1:0 at "model.py":7:0))
  return
}

func.func private @helper(%x: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%x : memref<4xf32>) loc("helper")
  return
}

// -----

// A function that computes nothing has no kernels, and the module no hooks.
// CHECK-NOT: wafer.kernels
// CHECK-LABEL: func.func @empty
// CHECK-NEXT: return
// CHECK-NOT: wafer_kernel_begin
func.func @empty(%x: memref<4xf32>) -> memref<4xf32> {
  return %x : memref<4xf32>
}
