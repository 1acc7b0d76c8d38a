// RUN: wafer-opt %s -p 'wafer-transposed-conv-phases,func.func(canonicalize,cse)' | filecheck %s

// A 4x4 stride-2 transposed convolution (padding 1) as torch-mlir imports it:
// the 8x8 input spread into zeros at stride 2, offset 2. Each of the four
// output phases is a 2x2 convolution of the input padded by one row or column
// of zeros, with the filter's taps of that phase (a stride-2 slice of it), its
// bias broadcast made again at the phase's 8x8, inserted at stride 2.
// CHECK-LABEL: func.func @spread_4x4_stride_2
// CHECK-SAME: wafer.strategy = ["transposed conv 4x4/2x2: 4 phase convs"]
// CHECK-NOT: tensor.insert_slice %arg0
// CHECK: %[[RESULT:.*]] = tensor.empty() : tensor<1x4x16x16xf32>
// CHECK: %[[IMAGE:.*]] = tensor.pad %arg0 low[0, 0, 1, 1] high[0, 0, 0, 0]
// CHECK: %[[TAPS:.*]] = tensor.extract_slice %arg1[0, 0, 0, 0] [4, 3, 2, 2] [1, 1, 2, 2]
// CHECK: %[[BIAS:.*]] = linalg.broadcast ins(%arg2 : tensor<4xf32>) outs(%{{.*}} : tensor<1x4x8x8xf32>) dimensions = [0, 2, 3]
// CHECK: %[[PHASE:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%[[IMAGE]], %[[TAPS]] : tensor<1x3x9x9xf32>, tensor<4x3x2x2xf32>) outs(%[[BIAS]] : tensor<1x4x8x8xf32>)
// CHECK: tensor.insert_slice %[[PHASE]] into %[[RESULT]][0, 0, 0, 0] [1, 4, 8, 8] [1, 1, 2, 2]
// CHECK: tensor.pad %arg0 low[0, 0, 1, 0] high[0, 0, 0, 1]
// CHECK: tensor.extract_slice %arg1[0, 0, 0, 1] [4, 3, 2, 2] [1, 1, 2, 2]
// CHECK-COUNT-3: linalg.conv_2d_nchw_fchw
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 1, 1] [1, 4, 8, 8] [1, 1, 2, 2]
func.func @spread_4x4_stride_2(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x4x4xf32>, %b: tensor<4xf32>) -> tensor<1x4x16x16xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<1x3x19x19xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x19x19xf32>) -> tensor<1x3x19x19xf32>
  %spread = tensor.insert_slice %x into %zeros[0, 0, 2, 2] [1, 3, 8, 8] [1, 1, 2, 2] : tensor<1x3x8x8xf32> into tensor<1x3x19x19xf32>
  %o = tensor.empty() : tensor<1x4x16x16xf32>
  %bias = linalg.broadcast ins(%b : tensor<4xf32>) outs(%o : tensor<1x4x16x16xf32>) dimensions = [0, 2, 3]
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%spread, %w : tensor<1x3x19x19xf32>, tensor<4x3x4x4xf32>) outs(%bias : tensor<1x4x16x16xf32>) -> tensor<1x4x16x16xf32>
  return %y : tensor<1x4x16x16xf32>
}

// A 1x1 stride-2 one: only the even rows and columns have a tap, so the other
// three phases keep the init, which the result starts from.
// CHECK-LABEL: func.func @only_one_phase_reads
// CHECK-SAME: wafer.strategy = ["transposed conv 1x1/2x2: 1 phase convs"]
// CHECK: %[[INIT:.*]] = linalg.fill
// CHECK: %[[PHASE:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%arg0, %arg1 : tensor<1x2x5x5xf32>, tensor<3x2x1x1xf32>)
// CHECK: tensor.insert_slice %[[PHASE]] into %[[INIT]][0, 0, 0, 0] [1, 3, 5, 5] [1, 1, 2, 2]
// CHECK-NOT: linalg.conv_2d_nchw_fchw
func.func @only_one_phase_reads(%x: tensor<1x2x5x5xf32>, %w: tensor<3x2x1x1xf32>) -> tensor<1x3x10x10xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<1x2x10x10xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x10x10xf32>) -> tensor<1x2x10x10xf32>
  %spread = tensor.insert_slice %x into %zeros[0, 0, 0, 0] [1, 2, 5, 5] [1, 1, 2, 2] : tensor<1x2x5x5xf32> into tensor<1x2x10x10xf32>
  %o = tensor.empty() : tensor<1x3x10x10xf32>
  %init = linalg.fill ins(%zero : f32) outs(%o : tensor<1x3x10x10xf32>) -> tensor<1x3x10x10xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%spread, %w : tensor<1x2x10x10xf32>, tensor<3x2x1x1xf32>) outs(%init : tensor<1x3x10x10xf32>) -> tensor<1x3x10x10xf32>
  return %y : tensor<1x3x10x10xf32>
}

// A plain convolution of an input that is not spread is left alone.
// CHECK-LABEL: func.func @plain
// CHECK-NOT: wafer.strategy
// CHECK: linalg.conv_2d_nchw_fchw {{.*}} ins(%arg0, %arg1
func.func @plain(%x: tensor<1x2x6x6xf32>, %w: tensor<3x2x3x3xf32>, %init: tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32> {
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32>) outs(%init : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  return %y : tensor<1x3x4x4xf32>
}

// A spread of a rank-reduced input (no image dim) is left alone.
// CHECK-LABEL: func.func @rank_reduced_spread
// CHECK-NOT: wafer.strategy
// CHECK: linalg.conv_2d_nchw_fchw
func.func @rank_reduced_spread(%x: tensor<2x5x5xf32>, %w: tensor<3x2x2x2xf32>, %init: tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<1x2x9x9xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x9x9xf32>) -> tensor<1x2x9x9xf32>
  %spread = tensor.insert_slice %x into %zeros[0, 0, 0, 0] [1, 2, 5, 5] [1, 1, 2, 2] : tensor<2x5x5xf32> into tensor<1x2x9x9xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%spread, %w : tensor<1x2x9x9xf32>, tensor<3x2x2x2xf32>) outs(%init : tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32>
  return %y : tensor<1x3x8x8xf32>
}
