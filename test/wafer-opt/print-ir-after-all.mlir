// Wafer passes show up by name in the IR dumps, mixed with upstream ones, in
// pipeline order; the dumps go to stderr and the final IR to stdout.
// RUN: wafer-opt %s -p 'wafer-fold-transpose,func.func(canonicalize),wafer-fuse{tile-sizes=2,2}' --mlir-print-ir-after-all 2>&1 >/dev/null | filecheck %s
// RUN: wafer-opt %s -p 'wafer-fold-transpose,func.func(canonicalize)' --mlir-print-ir-after-all 2>/dev/null | filecheck %s --check-prefix=STDOUT

// CHECK: // -----// IR Dump After wafer-fold-transpose
// CHECK-NOT: linalg.transpose
// CHECK: linalg.matmul
// CHECK: // -----// IR Dump After CanonicalizerPass
// CHECK: // -----// IR Dump After wafer-fuse
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 2)
// CHECK-NOT: IR Dump

// STDOUT-NOT: IR Dump
// STDOUT-LABEL: func.func @linear
// STDOUT-NOT: IR Dump

func.func @linear(%x: tensor<4x8xf32>, %w: tensor<4x8xf32>, %init: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %e = tensor.empty() : tensor<8x4xf32>
  %t = linalg.transpose ins(%w : tensor<4x8xf32>) outs(%e : tensor<8x4xf32>) permutation = [1, 0]
  %r = linalg.matmul ins(%x, %t : tensor<4x8xf32>, tensor<8x4xf32>) outs(%init : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}
