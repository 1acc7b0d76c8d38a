// RUN: wafer-opt %s -p 'wafer-bf16-builtins' --split-input-file | filecheck %s

// A module that moves bf16 values gets a weak __truncsfbf2 (LLVM calls it to
// round a promoted bf16 scalar back where the CPU has no bf16 conversion):
// round to nearest even in integer ops, NaNs made quiet.
// CHECK-LABEL: llvm.func @splat
// CHECK: llvm.func weak @__truncsfbf2(%[[X:.*]]: f32) -> bf16
// CHECK: %[[BITS:.*]] = llvm.bitcast %[[X]] : f32 to i32
// CHECK: llvm.add
// CHECK: llvm.fcmp "uno" %[[X]], %[[X]] : f32
// CHECK: llvm.bitcast %{{.*}} : i16 to bf16
llvm.func @splat(%x: bf16) -> vector<4xbf16> {
  %poison = llvm.mlir.poison : vector<4xbf16>
  %zero = llvm.mlir.constant(0 : i32) : i32
  %one = llvm.insertelement %x, %poison[%zero : i32] : vector<4xbf16>
  %all = llvm.shufflevector %one, %one [0, 0, 0, 0] : vector<4xbf16>
  llvm.return %all : vector<4xbf16>
}

// -----

// An f32 module gets nothing.
// CHECK-LABEL: llvm.func @plain
// CHECK-NOT: __truncsfbf2
llvm.func @plain(%x: f32) -> f32 {
  llvm.return %x : f32
}
