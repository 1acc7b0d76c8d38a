// RUN: wafer-opt %s --split-input-file -p 'wafer-direct-conv{machine=avx2},canonicalize,cse' | filecheck %s

// A grouped convolution whose groups' 8 filters fill an AVX2 vector runs along
// its filters: a vector of 8 filters per output pixel, a block of one row of 8
// pixels (8 accumulators: two rows' 16 would not fit AVX2's 16 registers beside
// the weights and the broadcast). Each tap reads its 8 weights from a table
// made at compile time (group, filter block, channel, tap row, tap column,
// filter) and adds them times one input value per pixel. The padding is read
// through: the input is never padded. Each output row loops over the tap rows
// that read inside the image: row r from max(1 - 2 r, 0) to min(17 - 2 r, 3)
// (row 0's tap row 0 would read row -1: no zero weights are multiplied). Tap
// column 0 would read column -1 for the first pixel: it is unrolled and leaves
// that pixel out. Tap columns 1 and 2 read inside for every pixel and run as a
// loop: unrolled, the values that pixels' taps share (8) beside the 8
// accumulators would not fit the 16 registers. The bias starts the sums, so
// the output is written, not read.
// CHECK-LABEL: func.func @regnet_stride_two
// CHECK-SAME: "direct conv along filters: 8 filters x 1x8 pixels in registers, serial"
// CHECK-NOT: tensor.pad
// CHECK: %[[TABLE:.*]] = arith.constant dense_resource<filters_by_tap> : tensor<2x1x1x3x3x8xf32>
// CHECK: %[[IN:.*]] = tensor.expand_shape %arg0 {{.*}} into tensor<1x2x1x16x16xf32>
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<1x2x8x8x8xf32>
// CHECK: scf.forall (%[[G:.*]], %[[ROW:.*]]) in (2, 8) shared_outs(%{{.*}} = %[[EMPTY]])
// CHECK: %[[BIAS:.*]] = vector.transfer_read %arg1[%{{.*}}]{{.*}} : tensor<16xf32>, vector<8xf32>
// CHECK: %[[FIRST_ROW:.*]] = arith.muli %[[ROW]], %c2 : index
// CHECK: %[[TOP:.*]] = arith.addi %[[FIRST_ROW]], %c-1 : index
// CHECK: %[[SKIP:.*]] = arith.subi %c1, %[[FIRST_ROW]] : index
// CHECK: %[[LEFT:.*]] = arith.subi %c17, %[[FIRST_ROW]] : index
// CHECK: %[[FIRST:.*]] = arith.maxsi %[[SKIP]], %c0 : index
// CHECK: %[[END:.*]] = arith.minsi %[[LEFT]], %c3 : index
// CHECK: scf.for %[[I:.*]] = %[[FIRST]] to %[[END]] step %c1 iter_args(%{{.*}} = %[[BIAS]],
// CHECK-NEXT: %[[IN_ROW:.*]] = arith.addi %[[TOP]], %[[I]] : index
// CHECK-NEXT: %[[W:.*]] = vector.transfer_read %[[TABLE]][%[[G]], %c0, %c0, %[[I]], %c0, %c0]
// CHECK-NEXT: tensor.extract %[[IN]][%c0, %[[G]], %c0, %[[IN_ROW]], %c1]
// CHECK-NOT: arith.select
// CHECK-COUNT-7: vector.fma %{{.*}}, %[[W]], %{{.*}} : vector<8xf32>
// CHECK-NEXT: scf.for %[[J:.*]] = %c1 to %c3 step %c1 iter_args
// CHECK-NEXT: %[[W_J:.*]] = vector.transfer_read %[[TABLE]][%[[G]], %c0, %c0, %[[I]], %[[J]], %c0]
// CHECK-COUNT-8: vector.fma %{{.*}}, %[[W_J]], %{{.*}} : vector<8xf32>
// CHECK-NEXT: scf.yield
// CHECK-NOT: scf.for
// CHECK: vector.transfer_write {{.*}} {in_bounds = [true, true], permutation_map = #map} : vector<8x8xf32>
// CHECK: scf.forall.in_parallel
// CHECK-NOT: linalg.conv_2d_ngchw_gfchw
func.func @regnet_stride_two(%x: tensor<1x2x16x16xf32>, %bias: tensor<16xf32>) -> tensor<1x2x8x8x8xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<"0x000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE00000000"> : tensor<2x8x1x3x3xf32>
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x2x16x16xf32> to tensor<1x2x18x18xf32>
  %grouped = tensor.expand_shape %padded [[0], [1, 2], [3], [4]] output_shape [1, 2, 1, 18, 18] : tensor<1x2x18x18xf32> into tensor<1x2x1x18x18xf32>
  %empty = tensor.empty() : tensor<1x16x8x8xf32>
  %b = linalg.broadcast ins(%bias : tensor<16xf32>) outs(%empty : tensor<1x16x8x8xf32>) dimensions = [0, 2, 3]
  %init = tensor.expand_shape %b [[0], [1, 2], [3], [4]] output_shape [1, 2, 8, 8, 8] : tensor<1x16x8x8xf32> into tensor<1x2x8x8x8xf32>
  %r = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%grouped, %w : tensor<1x2x1x18x18xf32>, tensor<2x8x1x3x3xf32>) outs(%init : tensor<1x2x8x8x8xf32>) -> tensor<1x2x8x8x8xf32>
  return %r : tensor<1x2x8x8x8xf32>
}

// -----

// A 1x7 stride-2 row of 32 output columns: blocks of 6 pixels of 16 filters
// (two AVX2 vectors each: 12 accumulators). The blocks whose taps all read
// inside the input run as a loop, and so do their tap columns: one weight
// vector and one input value per pixel each step, where unrolled, pixel c's
// tap j + 2 and pixel c + 1's tap j would read the same value, and LLVM would
// keep it for both beside the accumulators: 12 accumulators, 6 kept values, 2
// weight vectors and a broadcast would need 21 registers. The last 2 columns
// are a block of their own, whose 4 accumulators leave room: its taps unroll.
// CHECK-LABEL: func.func @stride_two_row
// CHECK-SAME: "direct conv along filters: 16 filters x 1x6 and 1x2 pixels in registers, serial"
// CHECK: %[[TABLE:.*]] = arith.constant dense_resource<filters_by_tap{{.*}}> : tensor<1x1x1x1x7x16xf32>
// CHECK: scf.for %[[START:.*]] = %c0 to %c25 step %c6
// CHECK-NEXT: scf.for %[[J:.*]] = %c0 to %c7 step %c1 iter_args
// CHECK-NEXT: %[[W:.*]] = vector.transfer_read %[[TABLE]][%c0, %c0, %c0, %c0, %[[J]], %c0]
// CHECK-NEXT: %[[FIRST:.*]] = arith.muli %[[START]], %c2
// CHECK-NEXT: %[[COLUMN:.*]] = arith.addi %[[FIRST]], %[[J]]
// CHECK-NEXT: tensor.extract %arg0[%c0, %c0, %c0, %[[COLUMN]]]
// CHECK-COUNT-6: vector.fma %{{.*}}, %[[W]], %{{.*}} : vector<16xf32>
// CHECK-NEXT: scf.yield
// CHECK: vector.transfer_write {{.*}} : vector<16x6xf32>
// CHECK-NOT: scf.for
// CHECK-COUNT-7: vector.transfer_read %[[TABLE]][%c0, %c0, %c0, %c0, %c{{[0-6]}}, %c0]
// CHECK: vector.transfer_write {{.*}} : vector<16x2xf32>
func.func @stride_two_row(%x: tensor<1x1x1x70xf32>) -> tensor<1x16x1x32xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<"0x000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F000080BE0000203F000000BE0000403F00000000000040BF0000003E000020BF0000803E000000BF0000C03E0000C0BE0000003F"> : tensor<16x1x1x7xf32>
  %empty = tensor.empty() : tensor<1x16x1x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x16x1x32xf32>) -> tensor<1x16x1x32xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %w : tensor<1x1x1x70xf32>, tensor<16x1x1x7xf32>) outs(%init : tensor<1x16x1x32xf32>) -> tensor<1x16x1x32xf32>
  return %r : tensor<1x16x1x32xf32>
}
