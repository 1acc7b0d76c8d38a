// RUN: wafer-opt %s -p 'wafer-vectorize-pooling{machine=avx2},func.func(canonicalize,cse)' | filecheck %s

// Disjoint 2x2 windows: the stencil too. A row of 14 outputs is two whole
// vectors, the second overlapping the first, each read as 16 input values
// split into even and odd columns: no ragged vector<14>.
// CHECK-LABEL: func.func @pool_2x2
// CHECK-SAME: wafer.strategy = ["max pool 2x2/2: rows of 14 in 2 x vector<8>, the last overlapping by 2, serial"]
// CHECK: scf.forall (%{{.*}}) in (6)
// CHECK: vector.transfer_read %{{.*}} : tensor<1x6x28x28xf32>, vector<16xf32>
// CHECK: vector.deinterleave %{{.*}} : vector<16xf32> -> vector<8xf32>
// CHECK: vector.transfer_read %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %c12], {{.*}} : tensor<1x6x28x28xf32>, vector<16xf32>
// CHECK: arith.maximumf %{{.*}} : vector<8xf32>
// CHECK-NOT: vector<14xf32>
// CHECK: {wafer.serial}
// CHECK-NOT: linalg.pooling_nchw_max
func.func @pool_2x2(%x: tensor<1x6x28x28xf32>) -> tensor<1x6x14x14xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x6x14x14xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x6x14x14xf32>) -> tensor<1x6x14x14xf32>
  %w = tensor.empty() : tensor<2x2xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%x, %w : tensor<1x6x28x28xf32>, tensor<2x2xf32>) outs(%f : tensor<1x6x14x14xf32>) -> tensor<1x6x14x14xf32>
  return %p : tensor<1x6x14x14xf32>
}

// Disjoint 3x3 windows at stride 3, past the stencil's column strides: each
// step reads one window row of 5x3 values, splits its columns apart with one
// shuffle and takes their maximum.
// CHECK-LABEL: func.func @pool_3x3_stride_3
// CHECK-SAME: wafer.strategy = ["vectorized max pool 3x3"]
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3], [4, 5]] output_shape [1, 2, 3, 3, 5, 3]
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 3)
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x1x1x5x3xf32>, vector<5x3xf32>
// CHECK: vector.shuffle {{.*}} [0, 3, 6, 9, 12, 1, 4, 7, 10, 13, 2, 5, 8, 11, 14]
// CHECK: arith.maximumf %{{.*}} : vector<5xf32>
// CHECK: {wafer.serial}
// CHECK-NOT: linalg.pooling_nchw_max
func.func @pool_3x3_stride_3(%x: tensor<1x2x9x15xf32>) -> tensor<1x2x3x5xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x2x3x5xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x2x3x5xf32>) -> tensor<1x2x3x5xf32>
  %w = tensor.empty() : tensor<3x3xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<3> : vector<2xi64>} ins(%x, %w : tensor<1x2x9x15xf32>, tensor<3x3xf32>) outs(%f : tensor<1x2x3x5xf32>) -> tensor<1x2x3x5xf32>
  return %p : tensor<1x2x3x5xf32>
}

// A one-row image's row of 40 outputs, past AVX2's 16-lane row pieces: pieces
// of 16 outputs (48 values), the last 8 peeled into a static piece of their own.
// CHECK-LABEL: func.func @long_row_1x3_stride_3
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x1x1x16x3xf32>, vector<16x3xf32>
// CHECK: arith.maximumf %{{.*}} : vector<16xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x1x1x8x3xf32>, vector<8x3xf32>
// CHECK: arith.maximumf %{{.*}} : vector<8xf32>
// CHECK-NOT: vector<40x3xf32>
func.func @long_row_1x3_stride_3(%x: tensor<2x4x1x120xf32>) -> tensor<2x4x1x40xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<2x4x1x40xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<2x4x1x40xf32>) -> tensor<2x4x1x40xf32>
  %w = tensor.empty() : tensor<1x3xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<[1, 3]> : vector<2xi64>} ins(%x, %w : tensor<2x4x1x120xf32>, tensor<1x3xf32>) outs(%f : tensor<2x4x1x40xf32>) -> tensor<2x4x1x40xf32>
  return %p : tensor<2x4x1x40xf32>
}

// Overlapping 3x3 windows at stride 2 in ceil mode: wafer-depthwise-conv's
// stencil with a maximum, per (image, channel) plane. Each window row is two
// runs of even and odd columns split by vector.deinterleave, and the -inf
// padding is read through (masked reads past the row), not copied.
// CHECK-LABEL: func.func @pool_3x3_ceil
// CHECK-SAME: wafer.strategy = ["max pool 3x3/2: rows of 5 in 2 x vector<4>, the last overlapping by 3, serial"]
// CHECK-NOT: tensor.pad
// CHECK: scf.forall (%[[C:.*]]) in (2)
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[IN:.*]] = arith.muli %[[ROW]], %{{.*}} : index
// CHECK: vector.transfer_read %{{.*}}[%{{.*}}, %[[C]], %[[IN]], %{{.*}}], %[[NEG_INF:.*]] {in_bounds = [true]} : tensor<1x2x11x11xf32>, vector<8xf32>
// CHECK: vector.deinterleave %{{.*}} : vector<8xf32> -> vector<4xf32>
// CHECK: arith.maximumf %{{.*}} : vector<4xf32>
// CHECK: vector.transfer_read %{{.*}}, %[[NEG_INF]] : tensor<1x2x11x11xf32>, vector<8xf32>
// CHECK-COUNT-2: vector.transfer_write %{{.*}} {in_bounds = [true]} : vector<4xf32>, tensor<1x1x5x5xf32>
// CHECK: {wafer.serial}
// CHECK-NOT: linalg.pooling_nchw_max
func.func @pool_3x3_ceil(%x: tensor<1x2x11x11xf32>) -> tensor<1x2x5x5xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %padded = tensor.pad %x low[0, 0, 0, 0] high[0, 0, 2, 2] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %cst : f32
  } : tensor<1x2x11x11xf32> to tensor<1x2x13x13xf32>
  %e = tensor.empty() : tensor<1x2x5x5xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %w = tensor.empty() : tensor<3x3xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%padded, %w : tensor<1x2x13x13xf32>, tensor<3x3xf32>) outs(%f : tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  return %p : tensor<1x2x5x5xf32>
}

// Windows that leave an input row over (7 rows into 2x2 windows) are not
// disjoint: the stencil computes them too.
// CHECK-LABEL: func.func @ragged_2x2
// CHECK-SAME: wafer.strategy = ["max pool 2x2/2: rows of 4 in 1 x vector<4>, serial"]
// CHECK-NOT: linalg.pooling_nchw_max
func.func @ragged_2x2(%y: tensor<1x2x7x8xf32>) -> tensor<1x2x3x4xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %e2 = tensor.empty() : tensor<1x2x3x4xf32>
  %f2 = linalg.fill ins(%cst : f32) outs(%e2 : tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %w2 = tensor.empty() : tensor<2x2xf32>
  %q = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%y, %w2 : tensor<1x2x7x8xf32>, tensor<2x2xf32>) outs(%f2 : tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %q : tensor<1x2x3x4xf32>
}

// Column stride 3 over windows that leave a row and a column over, which floor
// mode never reads: row maxima of the 9x9 the windows tile.
// CHECK-LABEL: func.func @row_and_column_left_over
// CHECK-SAME: wafer.strategy = ["vectorized max pool 3x3"]
// CHECK: tensor.extract_slice %arg0[0, 0, 0, 0] [1, 2, 9, 9] [1, 1, 1, 1] : tensor<1x2x10x10xf32> to tensor<1x2x9x9xf32>
// CHECK: arith.maximumf %{{.*}} : vector<3xf32>
// CHECK-NOT: linalg.pooling_nchw_max
func.func @row_and_column_left_over(%x: tensor<1x2x10x10xf32>) -> tensor<1x2x3x3xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x2x3x3xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %w = tensor.empty() : tensor<3x3xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<3> : vector<2xi64>} ins(%x, %w : tensor<1x2x10x10xf32>, tensor<3x3xf32>) outs(%f : tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  return %p : tensor<1x2x3x3xf32>
}

// Sum pooling (an average pool before its division) over 3x3 stride-1 windows
// with zero padding: the stencil with an addition, the padding read through.
// CHECK-LABEL: func.func @sum_pool_3x3
// CHECK-SAME: wafer.strategy = ["sum pool 3x3/1: rows of 12 in 2 x vector<8>, the last overlapping by 4, serial"]
// CHECK-NOT: tensor.pad
// CHECK: scf.forall
// CHECK: arith.addf %{{.*}} : vector<8xf32>
// CHECK-NOT: arith.maximumf
// CHECK: {wafer.serial}
// CHECK-NOT: linalg.pooling_nchw_sum
func.func @sum_pool_3x3(%x: tensor<1x8x12x12xf32>) -> tensor<1x8x12x12xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %cst : f32
  } : tensor<1x8x12x12xf32> to tensor<1x8x14x14xf32>
  %e = tensor.empty() : tensor<1x8x12x12xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x8x12x12xf32>) -> tensor<1x8x12x12xf32>
  %w = tensor.empty() : tensor<3x3xf32>
  %p = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %w : tensor<1x8x14x14xf32>, tensor<3x3xf32>) outs(%f : tensor<1x8x12x12xf32>) -> tensor<1x8x12x12xf32>
  return %p : tensor<1x8x12x12xf32>
}

// A 3-D max pool's depth slices as planes of one image: the -inf padding of
// the rows and columns sits above the collapse of (channel, depth), where
// linalg-fuse-elementwise-ops moves it. It is read through all the same: the
// stencil reads a collapse of the unpadded input, and no padded copy is made.
// CHECK-LABEL: func.func @pool_3x3_pad_before_collapse
// CHECK-SAME: wafer.strategy = ["max pool 3x3/2: rows of 4 in 1 x vector<4>, serial"]
// CHECK: %[[PLANES:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0], [1, 2], [3], [4]] : tensor<1x2x3x8x8xf32> into tensor<1x6x8x8xf32>
// CHECK: vector.transfer_read %[[PLANES]]{{.*}} : tensor<1x6x8x8xf32>, vector<8xf32>
// CHECK-NOT: tensor.pad
func.func @pool_3x3_pad_before_collapse(%x: tensor<1x2x3x8x8xf32>) -> tensor<1x6x4x4xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %padded = tensor.pad %x low[0, 0, 0, 1, 1] high[0, 0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index, %m: index):
    tensor.yield %cst : f32
  } : tensor<1x2x3x8x8xf32> to tensor<1x2x3x10x10xf32>
  %planes = tensor.collapse_shape %padded [[0], [1, 2], [3], [4]] : tensor<1x2x3x10x10xf32> into tensor<1x6x10x10xf32>
  %e = tensor.empty() : tensor<1x6x4x4xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
  %w = tensor.empty() : tensor<3x3xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%planes, %w : tensor<1x6x10x10xf32>, tensor<3x3xf32>) outs(%f : tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
  return %p : tensor<1x6x4x4xf32>
}
