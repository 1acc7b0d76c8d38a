// RUN: wafer-opt %s -p 'wafer-drop-padding-taps,func.func(canonicalize,cse)' | filecheck %s

// Dilation 24 over a 14x14 image padded by 24: the centre tap alone reads the
// image, so the 3x3 filter becomes its centre (a new constant) and the
// convolution a 1x1 one of the unpadded input, with dilation 1.
// CHECK-LABEL: func.func @aspp_rate_24
// CHECK-SAME: wafer.strategy = ["conv 3x3 with dilation 24x24: 1x1 taps, 11% of the products"]
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

// Dilation 12 over a 14x14 image: the centre 10x10 outputs read the centre
// tap alone, the edge bands two taps a dim. Nine regions, each a convolution
// of a slice of the unpadded input with its taps (a slice of the filter
// argument), inserted into the result.
// CHECK-LABEL: func.func @regions
// CHECK-SAME: wafer.strategy = ["conv 3x3 with dilation 12x12: 9 regions of outputs, each with the taps it reads, 18% of the products"]
// CHECK-NOT: tensor.pad
// CHECK-DAG: %[[CENTRE:.*]] = tensor.extract_slice %arg1[0, 0, 1, 1] [4, 8, 1, 1] [1, 1, 1, 1]
// CHECK-DAG: %[[PIXELS:.*]] = tensor.extract_slice %arg0[0, 0, 2, 2] [1, 8, 10, 10] [1, 1, 1, 1]
// CHECK: %[[MIDDLE:.*]] = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[PIXELS]], %[[CENTRE]] : tensor<1x8x10x10xf32>, tensor<4x8x1x1xf32>)
// CHECK: tensor.insert_slice %[[MIDDLE]] into %{{.*}}[0, 0, 2, 2] [1, 4, 10, 10] [1, 1, 1, 1]
// CHECK-COUNT-4: tensor.insert_slice
// CHECK-NOT: tensor.insert_slice
// CHECK: return
func.func @regions(%x: tensor<1x8x14x14xf32>, %w: tensor<4x8x3x3xf32>) -> tensor<1x4x14x14xf32> {
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

// An ordinary padded 3x3: its edge outputs read fewer taps, but regions would
// save less than half the products. Left alone.
// CHECK-LABEL: func.func @all_live
// CHECK-NOT: wafer.strategy
// CHECK: tensor.pad
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<1>
func.func @all_live(%x: tensor<1x8x14x14xf32>, %w: tensor<4x8x3x3xf32>) -> tensor<1x4x14x14xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<1x8x14x14xf32> to tensor<1x8x16x16xf32>
  %e = tensor.empty() : tensor<1x4x14x14xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4x14x14xf32>) -> tensor<1x4x14x14xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %w : tensor<1x8x16x16xf32>, tensor<4x8x3x3xf32>) outs(%f : tensor<1x4x14x14xf32>) -> tensor<1x4x14x14xf32>
  return %y : tensor<1x4x14x14xf32>
}
