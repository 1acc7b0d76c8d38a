// RUN: wafer-opt %s --split-input-file -p wafer-prefetch-panels | filecheck %s

// A one-row kernel's K loop (one 1-D vector accumulator) streaming a 784 x 256
// panel (800 KB) in steps of 2 rows: each of the two rows 16 ahead, clamped to
// the last row, is prefetched a cache line (16 floats) at a time.
// CHECK-LABEL: func.func @matvec
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: %[[AHEAD:.*]] = arith.addi %[[K]], %c16
// CHECK: %[[ROW:.*]] = arith.minsi %[[AHEAD]], %c783
// CHECK: memref.prefetch %[[PANEL:.*]][%{{.*}}, %[[ROW]], %c0{{.*}}], read, locality<3>, data
// CHECK-COUNT-15: memref.prefetch %[[PANEL]][%{{.*}}, %[[ROW]], %c{{[0-9_]+}}], read
// CHECK: %[[AHEAD1:.*]] = arith.addi %[[K]], %c17
// CHECK: %[[ROW1:.*]] = arith.minsi %[[AHEAD1]], %c783
// CHECK-COUNT-16: memref.prefetch %[[PANEL]][%{{.*}}, %[[ROW1]], %c{{[0-9_]+}}], read
// CHECK-NOT: memref.prefetch
// CHECK: memref.subview %[[PANEL]]
func.func @matvec(%panel: memref<1x784x256xf32>, %acc: vector<256xf32>) -> vector<256xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c784 = arith.constant 784 : index
  %pad = arith.constant 0.0 : f32
  %r = scf.for %k = %c0 to %c784 step %c2 iter_args(%a = %acc) -> (vector<256xf32>) {
    %rows = memref.subview %panel[0, %k, 0] [1, 2, 256] [1, 1, 1] : memref<1x784x256xf32> to memref<1x2x256xf32, strided<[200704, 256, 1], offset: ?>>
    %v = vector.transfer_read %rows[%c0, %c0, %c0], %pad {in_bounds = [true]} : memref<1x2x256xf32, strided<[200704, 256, 1], offset: ?>>, vector<256xf32>
    %s = arith.addf %a, %v : vector<256xf32>
    scf.yield %s : vector<256xf32>
  }
  return %r : vector<256xf32>
}

// -----

// Left alone: a panel small enough to stay in L2 (100 x 256, 100 KB), and a kernel
// with several rows (a 2-D accumulator), which reuses each panel row from cache.
// CHECK-LABEL: func.func @small_panel
// CHECK-NOT: memref.prefetch
// CHECK-LABEL: func.func @several_rows
// CHECK-NOT: memref.prefetch
func.func @small_panel(%panel: memref<1x100x256xf32>, %acc: vector<256xf32>) -> vector<256xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  %pad = arith.constant 0.0 : f32
  %r = scf.for %k = %c0 to %c100 step %c1 iter_args(%a = %acc) -> (vector<256xf32>) {
    %row = memref.subview %panel[0, %k, 0] [1, 1, 256] [1, 1, 1] : memref<1x100x256xf32> to memref<1x1x256xf32, strided<[25600, 256, 1], offset: ?>>
    %v = vector.transfer_read %row[%c0, %c0, %c0], %pad {in_bounds = [true]} : memref<1x1x256xf32, strided<[25600, 256, 1], offset: ?>>, vector<256xf32>
    %s = arith.addf %a, %v : vector<256xf32>
    scf.yield %s : vector<256xf32>
  }
  return %r : vector<256xf32>
}
func.func @several_rows(%panel: memref<1x784x256xf32>, %acc: vector<8x256xf32>) -> vector<8x256xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c784 = arith.constant 784 : index
  %pad = arith.constant 0.0 : f32
  %r = scf.for %k = %c0 to %c784 step %c1 iter_args(%a = %acc) -> (vector<8x256xf32>) {
    %row = memref.subview %panel[0, %k, 0] [1, 1, 256] [1, 1, 1] : memref<1x784x256xf32> to memref<1x1x256xf32, strided<[200704, 256, 1], offset: ?>>
    %v = vector.transfer_read %row[%c0, %c0, %c0], %pad {in_bounds = [true]} : memref<1x1x256xf32, strided<[200704, 256, 1], offset: ?>>, vector<256xf32>
    %b = vector.broadcast %v : vector<256xf32> to vector<8x256xf32>
    %s = arith.addf %a, %b : vector<8x256xf32>
    scf.yield %s : vector<8x256xf32>
  }
  return %r : vector<8x256xf32>
}
