// RUN: wafer-opt %s -p 'wafer-channels-last,canonicalize,cse' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-channels-last{machine=avx512},canonicalize,cse' | filecheck %s --check-prefix=PADDED

// An inverted residual block: expand 1x1, ReLU, zero padding, depthwise 3x3,
// project 1x1, residual add. Each convolution is rewritten between transposes,
// the transposes sink through the ReLU, the padding and the add and cancel:
// one transpose in (the argument), one out (the result).
// CHECK-LABEL: func.func @block
// CHECK: %[[IN:.*]] = linalg.transpose ins(%arg0 : tensor<1x8x6x6xf32>) {{.*}} permutation = [0, 2, 3, 1]
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[IN]] {{\[\[}}0, 1, 2], [3]] : tensor<1x6x6x8xf32> into tensor<36x8xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[ROWS]], %{{.*}} : tensor<36x8xf32>, tensor<32x8xf32>)
// CHECK: arith.maximumf
// CHECK: tensor.pad %{{.*}} low[0, 1, 1, 0] high[0, 1, 1, 0]
// CHECK: linalg.depthwise_conv_2d_nhwc_hwc {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x8x8x32xf32>, tensor<3x3x32xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<36x32xf32>, tensor<8x32xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[IN]], %{{.*}} : tensor<1x6x6x8xf32>, tensor<1x6x6x8xf32>)
// CHECK: %[[OUT:.*]] = linalg.transpose ins(%[[SUM]] : tensor<1x6x6x8xf32>) {{.*}} permutation = [0, 3, 1, 2]
// CHECK: return %[[OUT]]
// CHECK-NOT: linalg.transpose
func.func @block(%x: tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32> {
  %zero = arith.constant 0.0 : f32
  %expand_w = arith.constant dense<0.5> : tensor<32x8x1x1xf32>
  %depth_w = arith.constant dense<0.25> : tensor<32x3x3xf32>
  %project_w = arith.constant dense<0.125> : tensor<8x32x1x1xf32>
  %e32 = tensor.empty() : tensor<1x32x6x6xf32>
  %z32 = linalg.fill ins(%zero : f32) outs(%e32 : tensor<1x32x6x6xf32>) -> tensor<1x32x6x6xf32>
  %expanded = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %expand_w : tensor<1x8x6x6xf32>, tensor<32x8x1x1xf32>) outs(%z32 : tensor<1x32x6x6xf32>) -> tensor<1x32x6x6xf32>
  %relu = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%expanded : tensor<1x32x6x6xf32>) outs(%e32 : tensor<1x32x6x6xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x32x6x6xf32>
  %padded = tensor.pad %relu low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x32x6x6xf32> to tensor<1x32x8x8xf32>
  %depth = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %depth_w : tensor<1x32x8x8xf32>, tensor<32x3x3xf32>) outs(%z32 : tensor<1x32x6x6xf32>) -> tensor<1x32x6x6xf32>
  %e8 = tensor.empty() : tensor<1x8x6x6xf32>
  %z8 = linalg.fill ins(%zero : f32) outs(%e8 : tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %projected = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%depth, %project_w : tensor<1x32x6x6xf32>, tensor<8x32x1x1xf32>) outs(%z8 : tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                         iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %projected : tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>) outs(%e8 : tensor<1x8x6x6xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x8x6x6xf32>
  return %sum : tensor<1x8x6x6xf32>
}

// A 1x1 convolution with no depthwise one to chain to stays NCHW.
// CHECK-LABEL: func.func @alone
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-NOT: linalg.transpose
func.func @alone(%x: tensor<1x8x6x6xf32>, %w: tensor<4x8x1x1xf32>, %init: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x8x6x6xf32>, tensor<4x8x1x1xf32>) outs(%init : tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32>
  return %r : tensor<1x4x6x6xf32>
}

// A 5x5 depthwise convolution of a 7x7 image of 1152 channels (226 KB) padded
// to 11x11 (557 KB), then a 1x1 projection: the image fits half of AVX-512's
// 1 MB L2 once its padding, which the NHWC stencil reads through, is not
// counted, so the chain runs channels-last.
// CHECK-LABEL: func.func @padded_late_block
// PADDED-LABEL: func.func @padded_late_block
// PADDED: linalg.transpose ins(%arg0 : tensor<1x1152x7x7xf32>) {{.*}} permutation = [0, 2, 3, 1]
// PADDED: tensor.pad %{{.*}} low[0, 2, 2, 0] high[0, 2, 2, 0]
// PADDED: linalg.depthwise_conv_2d_nhwc_hwc
// PADDED-NOT: linalg.conv_2d_nchw_fchw
// PADDED: linalg.transpose {{.*}} permutation = [0, 3, 1, 2]
func.func @padded_late_block(%x: tensor<1x1152x7x7xf32>) -> tensor<1x192x7x7xf32> {
  %zero = arith.constant 0.0 : f32
  %depth_w = arith.constant dense<0.25> : tensor<1152x5x5xf32>
  %project_w = arith.constant dense<0.125> : tensor<192x1152x1x1xf32>
  %padded = tensor.pad %x low[0, 0, 2, 2] high[0, 0, 2, 2] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x1152x7x7xf32> to tensor<1x1152x11x11xf32>
  %e = tensor.empty() : tensor<1x1152x7x7xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1x1152x7x7xf32>) -> tensor<1x1152x7x7xf32>
  %depth = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %depth_w : tensor<1x1152x11x11xf32>, tensor<1152x5x5xf32>) outs(%z : tensor<1x1152x7x7xf32>) -> tensor<1x1152x7x7xf32>
  %e2 = tensor.empty() : tensor<1x192x7x7xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x192x7x7xf32>) -> tensor<1x192x7x7xf32>
  %projected = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%depth, %project_w : tensor<1x1152x7x7xf32>, tensor<192x1152x1x1xf32>) outs(%z2 : tensor<1x192x7x7xf32>) -> tensor<1x192x7x7xf32>
  return %projected : tensor<1x192x7x7xf32>
}

// A classifier's head: 1x1 convolution, ReLU, global sum pool. The transpose
// back to NCHW sinks through the ReLU and stays in front of the pool, which
// wafer-plane-sums reads through: only the input is transposed.
// CHECK-LABEL: func.func @pooled_head
// CHECK: linalg.transpose ins(%arg0 : tensor<1x8x6x6xf32>) {{.*}} permutation = [0, 2, 3, 1]
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<36x8xf32>, tensor<40x8xf32>)
// CHECK: arith.maximumf
// CHECK: %[[NCHW:.*]] = linalg.transpose {{.*}} permutation = [0, 3, 1, 2]
// CHECK: linalg.pooling_nchw_sum {{.*}} ins(%[[NCHW]], %{{.*}} : tensor<1x40x6x6xf32>, tensor<6x6xf32>)
// CHECK-NOT: linalg.transpose
func.func @pooled_head(%x: tensor<1x8x6x6xf32>) -> tensor<1x40x1x1xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<40x8x1x1xf32>
  %window = tensor.empty() : tensor<6x6xf32>
  %e = tensor.empty() : tensor<1x40x6x6xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1x40x6x6xf32>) -> tensor<1x40x6x6xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x8x6x6xf32>, tensor<40x8x1x1xf32>) outs(%z : tensor<1x40x6x6xf32>) -> tensor<1x40x6x6xf32>
  %relu = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv : tensor<1x40x6x6xf32>) outs(%e : tensor<1x40x6x6xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x40x6x6xf32>
  %e1 = tensor.empty() : tensor<1x40x1x1xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x40x1x1xf32>) -> tensor<1x40x1x1xf32>
  %pooled = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<6> : vector<2xi64>}
      ins(%relu, %window : tensor<1x40x6x6xf32>, tensor<6x6xf32>) outs(%z1 : tensor<1x40x1x1xf32>) -> tensor<1x40x1x1xf32>
  return %pooled : tensor<1x40x1x1xf32>
}

// The same head whose ReLU is returned too stays NCHW.
// CHECK-LABEL: func.func @head_also_returned
// CHECK-NOT: linalg.transpose
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-NOT: linalg.transpose
func.func @head_also_returned(%x: tensor<1x8x6x6xf32>) -> (tensor<1x40x6x6xf32>, tensor<1x40x1x1xf32>) {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<40x8x1x1xf32>
  %window = tensor.empty() : tensor<6x6xf32>
  %e = tensor.empty() : tensor<1x40x6x6xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1x40x6x6xf32>) -> tensor<1x40x6x6xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x8x6x6xf32>, tensor<40x8x1x1xf32>) outs(%z : tensor<1x40x6x6xf32>) -> tensor<1x40x6x6xf32>
  %relu = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                          iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv : tensor<1x40x6x6xf32>) outs(%e : tensor<1x40x6x6xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x40x6x6xf32>
  %e1 = tensor.empty() : tensor<1x40x1x1xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x40x1x1xf32>) -> tensor<1x40x1x1xf32>
  %pooled = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<6> : vector<2xi64>}
      ins(%relu, %window : tensor<1x40x6x6xf32>, tensor<6x6xf32>) outs(%z1 : tensor<1x40x1x1xf32>) -> tensor<1x40x1x1xf32>
  return %relu, %pooled : tensor<1x40x6x6xf32>, tensor<1x40x1x1xf32>
}
