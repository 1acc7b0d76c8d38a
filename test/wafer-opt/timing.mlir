// --mlir-timing prints MLIR's execution time report on stderr, with Wafer
// passes listed by name next to upstream ones.
// RUN: wafer-opt %s -p 'wafer-fuse,func.func(cse)' --mlir-timing 2>&1 >/dev/null | filecheck %s
// RUN: wafer-opt %s -p 'wafer-fuse,func.func(cse)' --mlir-timing 2>/dev/null | filecheck %s --check-prefix=STDOUT

// CHECK: Execution time report
// CHECK: Total Execution Time: {{[0-9.]+}} seconds
// CHECK: ----Wall Time----  ----Name----
// CHECK-DAG: wafer-fuse
// CHECK-DAG: CSEPass
// CHECK: {{[0-9.]+}} (100.0%)  Total

// STDOUT-NOT: Execution time report
// STDOUT: scf.forall
// STDOUT-NOT: Execution time report

func.func @matmul(%a: tensor<16x8xf32>, %b: tensor<8x16xf32>, %init: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<16x8xf32>, tensor<8x16xf32>) outs(%init : tensor<16x16xf32>) -> tensor<16x16xf32>
  return %r : tensor<16x16xf32>
}
