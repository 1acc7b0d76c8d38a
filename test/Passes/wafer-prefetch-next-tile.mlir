// RUN: wafer-opt %s --split-input-file -p wafer-prefetch-next-tile,canonicalize | filecheck %s

// A packed kernel over a 256 KB constant B: 8 k tiles of 256 x 32, each read by 4
// register blocks of rows in 32 K steps of 8 rows. The next k tile (clamped to the
// last) is prefetched, its 512 lines spread over the 128 steps of the row blocks
// and the K loop: 4 lines a step, the step's number r * 32 + k / 8. (The row loop
// carries a value: its iter_args are no loop dims.)
// CHECK-DAG: #[[NEXT:.*]] = affine_map<(d0) -> (7, d0 + 1)>
// CHECK-DAG: #[[LINE0:.*]] = affine_map<(d0, d1) -> (d0 * 2048 + (d1 floordiv 8) * 64, 8191)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0) -> (d0 floordiv 32)>
// CHECK-DAG: #[[COL:.*]] = affine_map<(d0) -> (d0 mod 32)>
// CHECK-DAG: #[[LINE3:.*]] = affine_map<(d0, d1) -> (d0 * 2048 + (d1 floordiv 8) * 64 + 48, 8191)>
// CHECK-LABEL: func.func @packed_tiles
// CHECK-SAME: wafer.strategy = ["prefetch the next weight tile (256x32), 4 lines a step"]
// CHECK: %[[PANEL:.*]] = memref.get_global @panel
// CHECK: scf.for %[[TILE:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: %[[FOLLOWING:.*]] = affine.min #[[NEXT]](%[[TILE]])
// CHECK: %[[NEXT_TILE:.*]] = memref.subview %[[PANEL]][%[[FOLLOWING]], 0, 0] [1, 256, 32]
// CHECK: %[[FLAT:.*]] = affine.min #[[LINE0]](%[[R]], %[[K]])
// CHECK: %[[I:.*]] = affine.apply #[[ROW]](%[[FLAT]])
// CHECK: %[[J:.*]] = affine.apply #[[COL]](%[[FLAT]])
// CHECK: memref.prefetch %[[NEXT_TILE]][%[[I]], %[[J]]], read, locality<3>, data
// CHECK-COUNT-2: memref.prefetch %[[NEXT_TILE]]
// CHECK: affine.min #[[LINE3]](%[[R]], %[[K]])
// CHECK: memref.prefetch %[[NEXT_TILE]]
// CHECK-NOT: memref.prefetch
// CHECK: vector.contract

memref.global "private" constant @panel : memref<8x256x32xf32> = dense<1.0>
func.func @packed_tiles(%a: memref<28x256xf32>, %out: memref<28x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c256 = arith.constant 256 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<7x32xf32>
  %w = memref.get_global @panel : memref<8x256x32xf32>
  scf.for %t = %c0 to %c8 step %c1 {
    %tile = memref.subview %w[%t, 0, 0] [1, 256, 32] [1, 1, 1] : memref<8x256x32xf32> to memref<256x32xf32, strided<[32, 1], offset: ?>>
    %rows_done = scf.for %r = %c0 to %c4 step %c1 iter_args(%done = %c0) -> (index) {
      %acc = scf.for %k = %c0 to %c256 step %c8 iter_args(%s = %zero) -> (vector<7x32xf32>) {
        %rows = memref.subview %tile[%k, 0] [8, 32] [1, 1] : memref<256x32xf32, strided<[32, 1], offset: ?>> to memref<8x32xf32, strided<[32, 1], offset: ?>>
        %b = vector.transfer_read %rows[%c0, %c0], %pad {in_bounds = [true, true]} : memref<8x32xf32, strided<[32, 1], offset: ?>>, vector<8x32xf32>
        %x = vector.transfer_read %a[%r, %k], %pad {in_bounds = [true, true], permutation_map = affine_map<(d0, d1) -> (d1, d0)>} : memref<28x256xf32>, vector<8x7xf32>
        %p = vector.contract {indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %b, %s : vector<8x7xf32>, vector<8x32xf32> into vector<7x32xf32>
        scf.yield %p : vector<7x32xf32>
      }
      vector.transfer_write %acc, %out[%r, %c0] {in_bounds = [true, true]} : vector<7x32xf32>, memref<28x32xf32>
      %more = arith.addi %done, %c1 : index
      scf.yield %more : index
    }
  }
  return
}

// -----

// A direct convolution's blocks of 32 filters (a parallel loop over filter blocks and
// output rows, each thread running a contiguous share): each output row's loop over
// the 64 input channels reads the block's 3x3 taps (a loop of run-time bounds over
// the tap rows). The next filter block's 64x3x3x32 weights, 1152 lines, are
// prefetched over the 7 rows x 64 channels: 3 lines a step, in the channel loop.
// CHECK-DAG: #[[NEXT:.*]] = affine_map<(d0) -> (3, d0 + 1)>
// CHECK-DAG: #[[LINE0:.*]] = affine_map<(d0, d1) -> (18431, d0 * 3072 + d1 * 48)>
// CHECK-LABEL: func.func @filter_blocks
// CHECK-SAME: wafer.strategy = ["prefetch the next weight tile (64x3x3x32), 3 lines a step"]
// CHECK: %[[FILTERS:.*]] = memref.get_global @filters
// CHECK: scf.parallel (%[[F:.*]], %[[R:.*]]) =
// CHECK: scf.for %[[C:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: %[[FOLLOWING:.*]] = affine.min #[[NEXT]](%[[F]])
// CHECK: %[[FLAT:.*]] = affine.min #[[LINE0]](%[[R]], %[[C]])
// CHECK: memref.prefetch %[[FILTERS]][%[[FOLLOWING]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], read
// CHECK-COUNT-2: memref.prefetch %[[FILTERS]][%[[FOLLOWING]]
// CHECK-NOT: memref.prefetch
// CHECK: scf.for

memref.global "private" constant @filters : memref<4x64x3x3x32xf32> = dense<1.0>
func.func @filter_blocks(%x: memref<64x9x9xf32>, %out: memref<4x7x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c7 = arith.constant 7 : index
  %c64 = arith.constant 64 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<32xf32>
  %w = memref.get_global @filters : memref<4x64x3x3x32xf32>
  scf.parallel (%f, %r) = (%c0, %c0) to (%c4, %c7) step (%c1, %c1) {
    %top = arith.minsi %r, %c1 : index
    %sum = scf.for %c = %c0 to %c64 step %c1 iter_args(%s = %zero) -> (vector<32xf32>) {
      %t = scf.for %kh = %top to %c3 step %c1 iter_args(%u = %s) -> (vector<32xf32>) {
        %wv = vector.transfer_read %w[%f, %c, %kh, %c0, %c0], %pad {in_bounds = [true]} : memref<4x64x3x3x32xf32>, vector<32xf32>
        %row = arith.addi %r, %kh : index
        %xv = memref.load %x[%c, %row, %c0] : memref<64x9x9xf32>
        %b = vector.broadcast %xv : f32 to vector<32xf32>
        %fma = vector.fma %b, %wv, %u : vector<32xf32>
        scf.yield %fma : vector<32xf32>
      }
      scf.yield %t : vector<32xf32>
    }
    vector.transfer_write %sum, %out[%f, %r, %c0] {in_bounds = [true]} : vector<32xf32>, memref<4x7x32xf32>
    scf.reduce
  }
  return
}

// -----

// Not prefetched: weights under 256 KB (they stay in cache), weights passed in, a
// tile that no loop reuses (the K loop directly in the tile loop), and a tile loop
// of one step (there is no next tile).
// CHECK-LABEL: func.func @not_streamed
// CHECK-NOT: memref.prefetch
// CHECK-NOT: wafer.strategy
memref.global "private" constant @small_panel : memref<4x256x32xf32> = dense<1.0>
memref.global "private" constant @used_once : memref<8x256x32xf32> = dense<1.0>
memref.global "private" constant @one_tile : memref<1x256x256xf32> = dense<1.0>
func.func @not_streamed(%a: memref<28x256xf32>, %passed: memref<8x256x32xf32>, %out: memref<28x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c256 = arith.constant 256 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<32xf32>
  %small = memref.get_global @small_panel : memref<4x256x32xf32>
  %once = memref.get_global @used_once : memref<8x256x32xf32>
  scf.for %t = %c0 to %c4 step %c1 {
    scf.for %r = %c0 to %c4 step %c1 {
      %acc = scf.for %k = %c0 to %c256 step %c1 iter_args(%s = %zero) -> (vector<32xf32>) {
        %b = vector.transfer_read %small[%t, %k, %c0], %pad {in_bounds = [true]} : memref<4x256x32xf32>, vector<32xf32>
        %p = vector.transfer_read %passed[%t, %k, %c0], %pad {in_bounds = [true]} : memref<8x256x32xf32>, vector<32xf32>
        %x = memref.load %a[%r, %k] : memref<28x256xf32>
        %xb = vector.broadcast %x : f32 to vector<32xf32>
        %f = vector.fma %xb, %b, %s : vector<32xf32>
        %g = vector.fma %xb, %p, %f : vector<32xf32>
        scf.yield %g : vector<32xf32>
      }
      vector.transfer_write %acc, %out[%r, %c0] {in_bounds = [true]} : vector<32xf32>, memref<28x32xf32>
    }
  }
  scf.for %t = %c0 to %c8 step %c1 {
    %acc = scf.for %k = %c0 to %c256 step %c1 iter_args(%s = %zero) -> (vector<32xf32>) {
      %b = vector.transfer_read %once[%t, %k, %c0], %pad {in_bounds = [true]} : memref<8x256x32xf32>, vector<32xf32>
      %x = memref.load %a[%t, %k] : memref<28x256xf32>
      %xb = vector.broadcast %x : f32 to vector<32xf32>
      %f = vector.fma %xb, %b, %s : vector<32xf32>
      scf.yield %f : vector<32xf32>
    }
    vector.transfer_write %acc, %out[%t, %c0] {in_bounds = [true]} : vector<32xf32>, memref<28x32xf32>
  }
  %single = memref.get_global @one_tile : memref<1x256x256xf32>
  scf.for %t = %c0 to %c1 step %c1 {
    scf.for %r = %c0 to %c4 step %c1 {
      %acc = scf.for %k = %c0 to %c256 step %c1 iter_args(%s = %zero) -> (vector<32xf32>) {
        %b = vector.transfer_read %single[%t, %k, %c0], %pad {in_bounds = [true]} : memref<1x256x256xf32>, vector<32xf32>
        %x = memref.load %a[%r, %k] : memref<28x256xf32>
        %xb = vector.broadcast %x : f32 to vector<32xf32>
        %f = vector.fma %xb, %b, %s : vector<32xf32>
        scf.yield %f : vector<32xf32>
      }
      vector.transfer_write %acc, %out[%r, %c0] {in_bounds = [true]} : vector<32xf32>, memref<28x32xf32>
    }
  }
  return
}
