// RUN: wafer-opt %s --split-input-file -p wafer-prefetch-rows | filecheck %s

// An oriented 1x1 convolution's kernel reading its 128 x 3025 image (1.5 MB) in
// place as A: blocks of 11 pixels of 8 rows per k step. Each of the 8 rows of the
// block two blocks on, clamped to the last block, is prefetched.
// CHECK-LABEL: func.func @image_rows
// CHECK-SAME: wafer.strategy = ["prefetch 8 image rows 2 blocks ahead"]
// CHECK: scf.for %[[BLOCK:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: %[[AHEAD:.*]] = arith.addi %[[BLOCK]], %c2
// CHECK: %[[NEXT:.*]] = arith.minsi %[[AHEAD]], %c274
// CHECK: memref.prefetch %[[IMAGE:.*]][%c0{{.*}}, %[[K]], %[[NEXT]], %c0{{.*}}], read, locality<3>, data
// CHECK: %[[ROW1:.*]] = arith.addi %[[K]], %c1
// CHECK: memref.prefetch %[[IMAGE]][%c0{{.*}}, %[[ROW1]], %[[NEXT]], %c0{{.*}}], read
// CHECK-COUNT-6: memref.prefetch %[[IMAGE]]
// CHECK-NOT: memref.prefetch
// CHECK: memref.subview %[[IMAGE]][0, %[[K]], %[[BLOCK]], 0] [1, 8, 1, 11]
func.func @image_rows(%image: memref<1x128x275x11xf32>, %filters: memref<128x16xf32>, %out: memref<275x11x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c128 = arith.constant 128 : index
  %c275 = arith.constant 275 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<11x16xf32>
  scf.for %b = %c0 to %c275 step %c1 {
    %acc = scf.for %k = %c0 to %c128 step %c8 iter_args(%a = %zero) -> (vector<11x16xf32>) {
      %rows = memref.subview %image[0, %k, %b, 0] [1, 8, 1, 11] [1, 1, 1, 1] : memref<1x128x275x11xf32> to memref<8x11xf32, strided<[3025, 1], offset: ?>>
      %v = vector.transfer_read %rows[%c0, %c0], %pad {in_bounds = [true, true]} : memref<8x11xf32, strided<[3025, 1], offset: ?>>, vector<8x11xf32>
      %w = vector.transfer_read %filters[%k, %c0], %pad {in_bounds = [true, true]} : memref<128x16xf32>, vector<8x16xf32>
      %p = vector.contract {indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %v, %w, %a : vector<8x11xf32>, vector<8x16xf32> into vector<11x16xf32>
      scf.yield %p : vector<11x16xf32>
    }
    %o = memref.subview %out[%b, 0, 0] [1, 11, 16] [1, 1, 1] : memref<275x11x16xf32> to memref<11x16xf32, strided<[16, 1], offset: ?>>
    vector.transfer_write %acc, %o[%c0, %c0] {in_bounds = [true, true]} : vector<11x16xf32>, memref<11x16xf32, strided<[16, 1], offset: ?>>
  }
  return
}

// -----

// The same image with 32 filters in two 16-wide blocks: a loop over B's column
// blocks lies between the row-block loop and the K loop. The rows are prefetched
// two row blocks on, not two column blocks on (which the read does not depend on).
// CHECK-LABEL: func.func @image_rows_two_filter_blocks
// CHECK-SAME: wafer.strategy = ["prefetch 8 image rows 2 blocks ahead"]
// CHECK: scf.for %[[BLOCK:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[FILTERS:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: %[[AHEAD:.*]] = arith.addi %[[BLOCK]], %c2
// CHECK: %[[NEXT:.*]] = arith.minsi %[[AHEAD]], %c274
// CHECK: memref.prefetch %[[IMAGE:.*]][%c0{{.*}}, %[[K]], %[[NEXT]], %c0{{.*}}], read, locality<3>, data
// CHECK-COUNT-7: memref.prefetch %[[IMAGE]]
// CHECK-NOT: memref.prefetch
// CHECK: memref.subview %[[IMAGE]][0, %[[K]], %[[BLOCK]], 0] [1, 8, 1, 11]
func.func @image_rows_two_filter_blocks(%image: memref<1x128x275x11xf32>, %filters: memref<2x128x16xf32>,
                                        %out: memref<275x11x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c8 = arith.constant 8 : index
  %c128 = arith.constant 128 : index
  %c275 = arith.constant 275 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<11x16xf32>
  scf.for %b = %c0 to %c275 step %c1 {
    scf.for %f = %c0 to %c2 step %c1 {
      %acc = scf.for %k = %c0 to %c128 step %c8 iter_args(%a = %zero) -> (vector<11x16xf32>) {
        %rows = memref.subview %image[0, %k, %b, 0] [1, 8, 1, 11] [1, 1, 1, 1] : memref<1x128x275x11xf32> to memref<8x11xf32, strided<[3025, 1], offset: ?>>
        %v = vector.transfer_read %rows[%c0, %c0], %pad {in_bounds = [true, true]} : memref<8x11xf32, strided<[3025, 1], offset: ?>>, vector<8x11xf32>
        %w = vector.transfer_read %filters[%f, %k, %c0], %pad {in_bounds = [true, true]} : memref<2x128x16xf32>, vector<8x16xf32>
        %p = vector.contract {indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %v, %w, %a : vector<8x11xf32>, vector<8x16xf32> into vector<11x16xf32>
        scf.yield %p : vector<11x16xf32>
      }
      %o = memref.subview %out[%b, 0, %f, 0] [1, 11, 1, 16] [1, 1, 1, 1] : memref<275x11x2x16xf32> to memref<11x16xf32, strided<[32, 1], offset: ?>>
      vector.transfer_write %acc, %o[%c0, %c0] {in_bounds = [true, true]} : vector<11x16xf32>, memref<11x16xf32, strided<[32, 1], offset: ?>>
    }
  }
  return
}

// -----

// Left alone: an image small enough to stay in L2 (128 x 121, 62 KB), and a
// packed panel, whose k rows are adjacent: one stream the hardware follows.
// CHECK-LABEL: func.func @small_image
// CHECK-NOT: memref.prefetch
// CHECK-LABEL: func.func @packed_panel
// CHECK-NOT: memref.prefetch
func.func @small_image(%image: memref<1x128x11x11xf32>, %out: memref<11x11x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c11 = arith.constant 11 : index
  %c128 = arith.constant 128 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<11x16xf32>
  scf.for %b = %c0 to %c11 step %c1 {
    %acc = scf.for %k = %c0 to %c128 step %c8 iter_args(%a = %zero) -> (vector<11x16xf32>) {
      %rows = memref.subview %image[0, %k, %b, 0] [1, 8, 1, 11] [1, 1, 1, 1] : memref<1x128x11x11xf32> to memref<8x11xf32, strided<[121, 1], offset: ?>>
      %v = vector.transfer_read %rows[%c0, %c0], %pad {in_bounds = [true, true]} : memref<8x11xf32, strided<[121, 1], offset: ?>>, vector<8x11xf32>
      %s = vector.broadcast %v : vector<8x11xf32> to vector<1x8x11xf32>
      scf.yield %a : vector<11x16xf32>
    }
    %o = memref.subview %out[%b, 0, 0] [1, 11, 16] [1, 1, 1] : memref<11x11x16xf32> to memref<11x16xf32, strided<[16, 1], offset: ?>>
    vector.transfer_write %acc, %o[%c0, %c0] {in_bounds = [true, true]} : vector<11x16xf32>, memref<11x16xf32, strided<[16, 1], offset: ?>>
  }
  return
}
func.func @packed_panel(%panel: memref<100x128x32xf32>, %out: memref<100x8x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c100 = arith.constant 100 : index
  %c128 = arith.constant 128 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<8x32xf32>
  scf.for %b = %c0 to %c100 step %c1 {
    %acc = scf.for %k = %c0 to %c128 step %c8 iter_args(%a = %zero) -> (vector<8x32xf32>) {
      %rows = memref.subview %panel[%b, %k, 0] [1, 8, 32] [1, 1, 1] : memref<100x128x32xf32> to memref<8x32xf32, strided<[32, 1], offset: ?>>
      %v = vector.transfer_read %rows[%c0, %c0], %pad {in_bounds = [true, true]} : memref<8x32xf32, strided<[32, 1], offset: ?>>, vector<8x32xf32>
      scf.yield %v : vector<8x32xf32>
    }
    %o = memref.subview %out[%b, 0, 0] [1, 8, 32] [1, 1, 1] : memref<100x8x32xf32> to memref<8x32xf32, strided<[32, 1], offset: ?>>
    vector.transfer_write %acc, %o[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x32xf32, strided<[32, 1], offset: ?>>
  }
  return
}
