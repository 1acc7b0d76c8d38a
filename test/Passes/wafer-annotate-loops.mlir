// RUN: wafer-opt %s --split-input-file -p wafer-annotate-loops | filecheck %s

// A loop's back edge (the branch to an earlier block) gets unroll-disable
// metadata; the branches into and out of the loop do not.
// CHECK: #[[UNROLL:.*]] = #llvm.loop_unroll<disable = true>
// CHECK: #[[ROLLED:.*]] = #llvm.loop_annotation<unroll = #[[UNROLL]]>
// CHECK-LABEL: llvm.func @stores
// CHECK: llvm.br ^bb1(%{{.*}} : i64){{$}}
// CHECK: llvm.cond_br
// CHECK: llvm.br ^bb1(%{{.*}} : i64) {loop_annotation = #[[ROLLED]]}
// CHECK: ^bb3:
// CHECK-NEXT: llvm.return
llvm.func @stores(%p: !llvm.ptr, %v: vector<16xf32>) {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  %c1 = llvm.mlir.constant(1 : i64) : i64
  %c8 = llvm.mlir.constant(8 : i64) : i64
  llvm.br ^bb1(%c0 : i64)
^bb1(%i: i64):
  %more = llvm.icmp "slt" %i, %c8 : i64
  llvm.cond_br %more, ^bb2, ^bb3
^bb2:
  %q = llvm.getelementptr %p[%i] : (!llvm.ptr, i64) -> !llvm.ptr, vector<16xf32>
  llvm.store %v, %q : vector<16xf32>, !llvm.ptr
  %next = llvm.add %i, %c1 : i64
  llvm.br ^bb1(%next : i64)
^bb3:
  llvm.return
}

// -----

// A loop that fills a vector one lane per iteration stays LLVM's to unroll:
// unrolled, the vector lives in a register.
// CHECK-LABEL: llvm.func @gather
// CHECK-NOT: loop_annotation
llvm.func @gather(%p: !llvm.ptr) -> vector<8xf32> {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  %c1 = llvm.mlir.constant(1 : i64) : i64
  %c8 = llvm.mlir.constant(8 : i64) : i64
  %c16 = llvm.mlir.constant(16 : i64) : i64
  %zero = llvm.mlir.zero : vector<8xf32>
  llvm.br ^bb1(%c0, %zero : i64, vector<8xf32>)
^bb1(%i: i64, %acc: vector<8xf32>):
  %more = llvm.icmp "slt" %i, %c8 : i64
  llvm.cond_br %more, ^bb2, ^bb3
^bb2:
  %offset = llvm.mul %i, %c16 : i64
  %q = llvm.getelementptr %p[%offset] : (!llvm.ptr, i64) -> !llvm.ptr, f32
  %x = llvm.load %q : !llvm.ptr -> f32
  %filled = llvm.insertelement %x, %acc[%i : i64] : vector<8xf32>
  %next = llvm.add %i, %c1 : i64
  llvm.br ^bb1(%next, %filled : i64, vector<8xf32>)
^bb3:
  llvm.return %acc : vector<8xf32>
}
