// RUN: wafer-opt %s -p 'wafer-one-row-images,func.func(canonicalize,cse)' | filecheck %s

// A 1-D convolution (stride 2, its length padded by 3 on both sides, a bias)
// becomes a 2-D one over [N, C, 1, L]: the padding re-made on the reshaped
// input, the bias broadcast re-made in 4-D, the strides and dilations (1, s).
// CHECK-LABEL: func.func @conv_1d
// CHECK: %[[ROW:.*]] = tensor.expand_shape %arg0 {{\[}}[0], [1], [2, 3]] output_shape [2, 12, 1, 50]
// CHECK: %[[PADDED:.*]] = tensor.pad %[[ROW]] low[0, 0, 0, 3] high[0, 0, 0, 3]
// CHECK: %[[BIAS:.*]] = linalg.broadcast ins(%arg2 : tensor<32xf32>) outs(%{{.*}} : tensor<2x32x1x25xf32>) dimensions = [0, 2, 3]
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<[1, 2]> : tensor<2xi64>} ins(%[[PADDED]], %{{.*}} : tensor<2x12x1x56xf32>, tensor<32x12x1x7xf32>) outs(%[[BIAS]] : tensor<2x32x1x25xf32>)
// CHECK: %[[BACK:.*]] = tensor.collapse_shape %[[CONV]] {{\[}}[0], [1], [2, 3]] : tensor<2x32x1x25xf32> into tensor<2x32x25xf32>
// CHECK: return %[[BACK]]
func.func @conv_1d(%x: tensor<2x12x50xf32>, %w: tensor<32x12x7xf32>, %b: tensor<32xf32>) -> tensor<2x32x25xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %padded = tensor.pad %x low[0, 0, 3] high[0, 0, 3] {
  ^bb0(%i: index, %j: index, %k: index):
    tensor.yield %zero : f32
  } : tensor<2x12x50xf32> to tensor<2x12x56xf32>
  %e = tensor.empty() : tensor<2x32x25xf32>
  %bias = linalg.broadcast ins(%b : tensor<32xf32>) outs(%e : tensor<2x32x25xf32>) dimensions = [0, 2]
  %y = linalg.conv_1d_ncw_fcw {dilations = dense<1> : vector<1xi64>, strides = dense<2> : vector<1xi64>} ins(%padded, %w : tensor<2x12x56xf32>, tensor<32x12x7xf32>) outs(%bias : tensor<2x32x25xf32>) -> tensor<2x32x25xf32>
  return %y : tensor<2x32x25xf32>
}

// A depthwise 1-D convolution as torch-mlir imports it, along H with a unit W,
// is laid along W: its filter [C, K, 1] becomes [C, 1, K], its dilation (d, 1) (1, d).
// CHECK-LABEL: func.func @depthwise_along_columns
// CHECK: %[[PADDED:.*]] = tensor.pad %{{.*}} low[0, 0, 0, 4] high[0, 0, 0, 4]
// CHECK: %[[FILL:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x16x1x50xf32>)
// CHECK: linalg.depthwise_conv_2d_nchw_chw {dilations = dense<[1, 2]> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[PADDED]], %{{.*}} : tensor<1x16x1x58xf32>, tensor<16x1x5xf32>) outs(%[[FILL]] : tensor<1x16x1x50xf32>)
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3]] output_shape [1, 16, 50, 1] : tensor<1x16x50xf32> into tensor<1x16x50x1xf32>
func.func @depthwise_along_columns(%x: tensor<1x16x50x1xf32>, %w: tensor<16x5x1xf32>) -> tensor<1x16x50x1xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %padded = tensor.pad %x low[0, 0, 4, 0] high[0, 0, 4, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x16x50x1xf32> to tensor<1x16x58x1xf32>
  %e = tensor.empty() : tensor<1x16x50x1xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x16x50x1xf32>) -> tensor<1x16x50x1xf32>
  %y = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<[2, 1]> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %w : tensor<1x16x58x1xf32>, tensor<16x5x1xf32>) outs(%f : tensor<1x16x50x1xf32>) -> tensor<1x16x50x1xf32>
  return %y : tensor<1x16x50x1xf32>
}

// A grouped one (5-D operands, 4 groups) likewise.
// CHECK-LABEL: func.func @grouped_along_columns
// CHECK: linalg.conv_2d_ngchw_gfchw {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x4x4x1x54xf32>, tensor<4x8x4x1x5xf32>) outs(%{{.*}} : tensor<2x4x8x1x50xf32>)
func.func @grouped_along_columns(%x: tensor<2x4x4x54x1xf32>, %w: tensor<4x8x4x5x1xf32>, %init: tensor<2x4x8x50x1xf32>) -> tensor<2x4x8x50x1xf32> {
  %y = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<2x4x4x54x1xf32>, tensor<4x8x4x5x1xf32>) outs(%init : tensor<2x4x8x50x1xf32>) -> tensor<2x4x8x50x1xf32>
  return %y : tensor<2x4x8x50x1xf32>
}

// A 2-D convolution over images wider than one column keeps its form.
// CHECK-LABEL: func.func @two_d
// CHECK: linalg.conv_2d_nchw_fchw {{.*}} ins(%arg0, %arg1 : tensor<1x3x8x8xf32>, tensor<4x3x3x1xf32>)
func.func @two_d(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x1xf32>, %init: tensor<1x4x6x8xf32>) -> tensor<1x4x6x8xf32> {
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x1xf32>) outs(%init : tensor<1x4x6x8xf32>) -> tensor<1x4x6x8xf32>
  return %y : tensor<1x4x6x8xf32>
}

// A 1-D convolution of a dynamic length keeps its form (the reshapes need static shapes).
// CHECK-LABEL: func.func @dynamic_length
// CHECK: linalg.conv_1d_ncw_fcw
func.func @dynamic_length(%x: tensor<1x3x?xf32>, %w: tensor<4x3x3xf32>, %init: tensor<1x4x?xf32>) -> tensor<1x4x?xf32> {
  %y = linalg.conv_1d_ncw_fcw {dilations = dense<1> : vector<1xi64>, strides = dense<1> : vector<1xi64>} ins(%x, %w : tensor<1x3x?xf32>, tensor<4x3x3xf32>) outs(%init : tensor<1x4x?xf32>) -> tensor<1x4x?xf32>
  return %y : tensor<1x4x?xf32>
}
