// RUN: wafer-opt %s -p 'wafer-drop-padding-taps,func.func(canonicalize,cse)' | filecheck %s

// Dilation 24 over a 14x14 image padded by 24: the centre tap alone reads the
// image, so the 3x3 filter becomes its centre (a new constant) and the
// convolution a 1x1 one of the unpadded input, with dilation 1.
// CHECK-LABEL: func.func @aspp_rate_24
// CHECK-SAME: wafer.strategy = ["conv 3x3 with dilation 24x24: 1x1 taps read more than padding"]
// CHECK-NOT: tensor.pad
// CHECK: %[[W:.*]] = arith.constant {{.*}} : tensor<4x8x1x1xf32>
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%arg0, %[[W]] : tensor<1x8x14x14xf32>, tensor<4x8x1x1xf32>)
func.func @aspp_rate_24(%x: tensor<1x8x14x14xf32>) -> tensor<1x4x14x14xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %w = arith.constant dense<1.000000e+00> : tensor<4x8x3x3xf32>
  %padded = tensor.pad %x low[0, 0, 24, 24] high[0, 0, 24, 24] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<1x8x14x14xf32> to tensor<1x8x62x62xf32>
  %e = tensor.empty() : tensor<1x4x14x14xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4x14x14xf32>) -> tensor<1x4x14x14xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<24> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %w : tensor<1x8x62x62xf32>, tensor<4x8x3x3xf32>) outs(%f : tensor<1x4x14x14xf32>) -> tensor<1x4x14x14xf32>
  return %y : tensor<1x4x14x14xf32>
}

// A 5x5 filter at dilation 4 over a 6x7 image padded by 8: rows 1 to 3 and
// columns 1 to 3 of the filter read the image. The window they read keeps
// the padding they still reach (4 on each side), and the filter comes in as
// an argument, so its live taps are a slice.
// CHECK-LABEL: func.func @partly_live
// CHECK-SAME: wafer.strategy = ["conv 5x5 with dilation 4x4: 3x3 taps read more than padding"]
// CHECK-DAG: %[[TAPS:.*]] = tensor.extract_slice %arg1[0, 0, 1, 1] [4, 8, 3, 3] [1, 1, 1, 1]
// CHECK-DAG: %[[WINDOW:.*]] = tensor.pad %arg0 low[0, 0, 4, 4] high[0, 0, 4, 4]
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<4> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[WINDOW]], %[[TAPS]] : tensor<1x8x14x15xf32>, tensor<4x8x3x3xf32>)
func.func @partly_live(%x: tensor<1x8x6x7xf32>, %w: tensor<4x8x5x5xf32>) -> tensor<1x4x6x7xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %padded = tensor.pad %x low[0, 0, 8, 8] high[0, 0, 8, 8] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<1x8x6x7xf32> to tensor<1x8x22x23xf32>
  %e = tensor.empty() : tensor<1x4x6x7xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4x6x7xf32>) -> tensor<1x4x6x7xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<4> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %w : tensor<1x8x22x23xf32>, tensor<4x8x5x5xf32>) outs(%f : tensor<1x4x6x7xf32>) -> tensor<1x4x6x7xf32>
  return %y : tensor<1x4x6x7xf32>
}

// Every tap of a dilation-12 filter reads some of a 14x14 image: left alone.
// CHECK-LABEL: func.func @all_live
// CHECK-NOT: wafer.strategy
// CHECK: tensor.pad
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<12>
func.func @all_live(%x: tensor<1x8x14x14xf32>, %w: tensor<4x8x3x3xf32>) -> tensor<1x4x14x14xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %padded = tensor.pad %x low[0, 0, 12, 12] high[0, 0, 12, 12] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<1x8x14x14xf32> to tensor<1x8x38x38xf32>
  %e = tensor.empty() : tensor<1x4x14x14xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4x14x14xf32>) -> tensor<1x4x14x14xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<12> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %w : tensor<1x8x38x38xf32>, tensor<4x8x3x3xf32>) outs(%f : tensor<1x4x14x14xf32>) -> tensor<1x4x14x14xf32>
  return %y : tensor<1x4x14x14xf32>
}
