// RUN: wafer-opt %s -p 'wafer-unoptimized-glue' | filecheck %s

// A function tagged as glue (by wafer-outline-kernels, before the LLVM
// lowering) skips LLVM's optimizer and is never inlined; others keep -O2.
// CHECK-LABEL: llvm.func @glue
// CHECK-SAME: attributes {no_inline, optimize_none}
// CHECK-LABEL: llvm.func @kernel()
// CHECK-NOT: optimize_none
// CHECK: llvm.return
llvm.func @glue() attributes {wafer.glue} {
  llvm.call @kernel() : () -> ()
  llvm.return
}
llvm.func @kernel() {
  llvm.return
}
