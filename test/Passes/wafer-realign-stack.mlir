// RUN: wafer-opt %s -p 'wafer-realign-stack' | filecheck %s

// Every function with a body aligns its own frame, so a vector spilled in it
// never straddles two cache lines; what it passed through to LLVM before stays.
// CHECK-LABEL: llvm.func @kernel
// CHECK-SAME: passthrough = ["stackrealign"]
// CHECK-LABEL: llvm.func @tuned
// CHECK-SAME: passthrough = ["nounwind", "stackrealign"]
// CHECK: llvm.func @external()
// CHECK-NOT: passthrough
// CHECK: llvm.func @last
llvm.func @kernel() {
  llvm.return
}
llvm.func @tuned() attributes {passthrough = ["nounwind"]} {
  llvm.return
}
llvm.func @external()
llvm.func @last() {
  llvm.return
}

// Run twice, it adds the flag once.
// RUN: wafer-opt %s -p 'wafer-realign-stack,wafer-realign-stack' | filecheck %s --check-prefix=TWICE
// TWICE-LABEL: llvm.func @kernel
// TWICE-SAME: passthrough = ["stackrealign"]
// TWICE-LABEL: llvm.func @tuned
// TWICE-SAME: passthrough = ["nounwind", "stackrealign"]
