// RUN: wafer-opt %s --split-input-file -p 'wafer-direct-conv{machine=avx512},canonicalize,cse' | filecheck %s
// RUN: wafer-opt %s --split-input-file -p 'wafer-direct-conv{machine=avx2 parallel-flops=4000000}' | filecheck %s --check-prefix=AVX2
// (parallel-flops=4000000: the serial forms checked here; the default splits some of them.)

// AVX2 has 16 vector registers, not 32: a whole row of conv1 (6 x 3.5 ymm)
// would spill, so its 6 filters go in blocks of two vectors; conv2's 16
// filters go in blocks of 8 (its weights are arguments, which the along-filters
// layout needs as constants).
// AVX2-LABEL: func.func @lenet_conv1
// AVX2-SAME: "direct conv: 6x16 and 8+4 output row blocks in registers"
// AVX2-LABEL: func.func @lenet_conv2
// AVX2-SAME: "direct conv: 8 of 16 filters x 8 and 2 output row blocks in registers, serial"

// LeNet's conv1 at batch 32: one scf.forall over (image, output row); a row of
// 28 is a block of 16 and a piece of 12, each a 6 x width accumulator
// that stays in registers (a loop-carried vector) across the filter taps, each
// tap one outer product of the tap's 6 weights and an input row read in place.
// CHECK-LABEL: func.func @lenet_conv1
// CHECK-SAME: wafer.strategy = ["direct conv: 6x16 and 12 output row blocks in registers"]
// CHECK: scf.forall (%[[N:.*]], %[[OH:.*]]) in (32, 28)
// CHECK: scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (vector<6x16xf32>)
// CHECK: scf.for {{.*}} -> (vector<6x16xf32>)
// CHECK: %[[W:.*]] = vector.transfer_read {{.*}} : tensor<6xf32>, vector<6xf32>
// CHECK: %[[ROW:.*]] = vector.transfer_read {{.*}} : tensor<16xf32>, vector<16xf32>
// CHECK: vector.outerproduct %[[W]], %[[ROW]], %{{.*}} {kind = #vector.kind<add>} : vector<6xf32>, vector<16xf32>
// CHECK: scf.for {{.*}} -> (vector<6x12xf32>)
// CHECK: vector.outerproduct {{.*}} : vector<6xf32>, vector<12xf32>
// CHECK: scf.forall.in_parallel
// CHECK-NOT: linalg.conv_2d_nchw_fchw
func.func @lenet_conv1(%x: tensor<32x1x32x32xf32>, %w: tensor<6x1x5x5xf32>, %init: tensor<32x6x28x28xf32>) -> tensor<32x6x28x28xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<32x1x32x32xf32>, tensor<6x1x5x5xf32>) outs(%init : tensor<32x6x28x28xf32>) -> tensor<32x6x28x28xf32>
  return %r : tensor<32x6x28x28xf32>
}

// -----

// One image of LeNet's conv2 (0.5 MFLOP) is too little to wake a thread for:
// its loop over rows is marked serial. Channels, filter rows and filter
// columns are the three tap loops around the 16 x 10 accumulator (the loop
// over one image folds away).
// CHECK-LABEL: func.func @lenet_conv2
// CHECK-SAME: "direct conv: 16x10 output row blocks in registers, serial"
// CHECK: scf.forall (%{{.*}}) in (10) {{.*}} -> (tensor<1x16x10x10xf32>)
// CHECK: scf.for {{.*}} -> (vector<16x10xf32>)
// CHECK: scf.for {{.*}} -> (vector<16x10xf32>)
// CHECK: scf.for {{.*}} -> (vector<16x10xf32>)
// CHECK: vector.outerproduct {{.*}} : vector<16xf32>, vector<10xf32>
// CHECK: {wafer.serial}
func.func @lenet_conv2(%x: tensor<1x6x14x14xf32>, %w: tensor<16x6x5x5xf32>, %init: tensor<1x16x10x10xf32>) -> tensor<1x16x10x10xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x6x14x14xf32>, tensor<16x6x5x5xf32>) outs(%init : tensor<1x16x10x10xf32>) -> tensor<1x16x10x10xf32>
  return %r : tensor<1x16x10x10xf32>
}

// -----

// With 3 input channels a row reads little enough input to read it again for
// each block of 4 of the 16 filters (each tap 2 input vectors and 4 weights
// for 8 FMAs). The bias is broadcast into each row block's tile, in the loop,
// not over the whole output before it.
// AVX2-LABEL: func.func @filter_blocks
// AVX2-SAME: "direct conv: 4 of 16 filters x 16 output row blocks in registers, serial"
// AVX2: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 4, 32)
// AVX2: linalg.broadcast ins(%{{.*}} : tensor<4xf32>) outs(%{{.*}} : tensor<1x4x1x32xf32>)
// AVX2: vector.outerproduct {{.*}} : vector<4xf32>, vector<16xf32>
// AVX2-NOT: linalg.conv_2d_nchw_fchw
// AVX2: return
func.func @filter_blocks(%x: tensor<2x3x34x34xf32>, %w: tensor<16x3x3x3xf32>, %bias: tensor<16xf32>) -> tensor<2x16x32x32xf32> {
  %e = tensor.empty() : tensor<2x16x32x32xf32>
  %init = linalg.broadcast ins(%bias : tensor<16xf32>) outs(%e : tensor<2x16x32x32xf32>) dimensions = [0, 2, 3]
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<2x3x34x34xf32>, tensor<16x3x3x3xf32>) outs(%init : tensor<2x16x32x32xf32>) -> tensor<2x16x32x32xf32>
  return %r : tensor<2x16x32x32xf32>
}

// -----

// 64 channels x rows of 56 (ResNet) need 192 accumulator registers, and a
// column stride has no unit-stride input row: both stay for wafer-im2col.
// CHECK-LABEL: func.func @too_wide
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-LABEL: func.func @column_stride
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-NOT: vector.outerproduct
func.func @too_wide(%x: tensor<1x64x58x58xf32>, %w: tensor<64x64x3x3xf32>, %init: tensor<1x64x56x56xf32>) -> tensor<1x64x56x56xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x64x58x58xf32>, tensor<64x64x3x3xf32>) outs(%init : tensor<1x64x56x56xf32>) -> tensor<1x64x56x56xf32>
  return %r : tensor<1x64x56x56xf32>
}
func.func @column_stride(%x: tensor<1x3x15x15xf32>, %w: tensor<4x3x3x3xf32>, %init: tensor<1x4x7x7xf32>) -> tensor<1x4x7x7xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %w : tensor<1x3x15x15xf32>, tensor<4x3x3x3xf32>) outs(%init : tensor<1x4x7x7xf32>) -> tensor<1x4x7x7xf32>
  return %r : tensor<1x4x7x7xf32>
}

// -----

// ResNeXt's grouped 3x3 (32 groups of 4 filters, rows of 56): the forall runs
// over (group, output row) of the one image, and the row splits into blocks of two, one
// and half a vector: LLVM turns a 4 x 48 accumulator block into shuffles.
// CHECK-LABEL: func.func @resnext_grouped
// CHECK-SAME: "direct conv: 32 groups, 4x32 and 16+8 output row blocks in registers"
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (32, 56)
// CHECK: vector.outerproduct {{.*}} : vector<4xf32>, vector<32xf32>
// CHECK: vector.outerproduct {{.*}} : vector<4xf32>, vector<16xf32>
// CHECK: vector.outerproduct {{.*}} : vector<4xf32>, vector<8xf32>
// CHECK-NOT: linalg.conv_2d_ngchw_gfchw
func.func @resnext_grouped(%x: tensor<1x32x4x58x58xf32>, %w: tensor<32x4x4x3x3xf32>, %init: tensor<1x32x4x56x56xf32>) -> tensor<1x32x4x56x56xf32> {
  %r = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x32x4x58x58xf32>, tensor<32x4x4x3x3xf32>) outs(%init : tensor<1x32x4x56x56xf32>) -> tensor<1x32x4x56x56xf32>
  return %r : tensor<1x32x4x56x56xf32>
}
