// RUN: wafer-opt %s -p 'wafer-conv3d-as-conv2d' | filecheck %s

// A 3-D convolution (stride 2 and dilation 1 in depth, 2x3x3 taps, a bias)
// becomes a 2-D one over the 1x2 (image, output depth) pairs with the 3x2
// (channel, depth tap) pairs as channels: the input gathered at od*2 + kd,
// the filters reshaped, the bias broadcast re-made in 4-D and the result
// transposed back from [N, OD, F, OH, OW].
// CHECK-DAG: #[[SLICES:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d2, d1 * 2 + d3, d4, d5)>
// CHECK-DAG: #[[SWAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d1, d3, d4)>
// CHECK-DAG: #[[DILATED:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d2, d1 + d3 * 2, d4, d5)>
// CHECK-LABEL: func.func @strided_depth
// CHECK: %[[GATHER:.*]] = linalg.generic {indexing_maps = [#[[SLICES]], #{{.*}}], {{.*}} ins(%arg0 : tensor<1x3x5x6x6xf32>) outs(%{{.*}} : tensor<1x2x3x2x6x6xf32>)
// CHECK: %[[IMAGES:.*]] = tensor.collapse_shape %[[GATHER]] {{\[}}[0, 1], [2, 3], [4], [5]] : tensor<1x2x3x2x6x6xf32> into tensor<2x6x6x6xf32>
// CHECK: %[[FILTERS:.*]] = tensor.collapse_shape %arg1 {{\[}}[0], [1, 2], [3], [4]] : tensor<4x3x2x3x3xf32> into tensor<4x6x3x3xf32>
// CHECK: %[[BIAS:.*]] = linalg.broadcast ins(%arg2 : tensor<4xf32>) outs(%{{.*}} : tensor<2x4x4x4xf32>) dimensions = [0, 2, 3]
// CHECK: %[[PLANES:.*]] = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[IMAGES]], %[[FILTERS]] : tensor<2x6x6x6xf32>, tensor<4x6x3x3xf32>) outs(%[[BIAS]] : tensor<2x4x4x4xf32>)
// CHECK: %[[DEPTHS:.*]] = tensor.expand_shape %[[PLANES]] {{\[}}[0, 1], [2], [3], [4]] output_shape [1, 2, 4, 4, 4]
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[SWAP]], #{{.*}}], {{.*}} ins(%[[DEPTHS]] : tensor<1x2x4x4x4xf32>) outs(%{{.*}} : tensor<1x4x2x4x4xf32>)
// CHECK-NOT: linalg.conv_3d
// CHECK: return %[[Y]]
func.func @strided_depth(%x: tensor<1x3x5x6x6xf32>, %w: tensor<4x3x2x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x2x4x4xf32> {
  %e = tensor.empty() : tensor<1x4x2x4x4xf32>
  %bias = linalg.broadcast ins(%b : tensor<4xf32>) outs(%e : tensor<1x4x2x4x4xf32>) dimensions = [0, 2, 3, 4]
  %y = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<[2, 1, 1]> : vector<3xi64>} ins(%x, %w : tensor<1x3x5x6x6xf32>, tensor<4x3x2x3x3xf32>) outs(%bias : tensor<1x4x2x4x4xf32>) -> tensor<1x4x2x4x4xf32>
  return %y : tensor<1x4x2x4x4xf32>
}

// Depth dilation 2 reads od + 2*kd; spatial strides and dilations stay on the
// 2-D convolution. An init that is neither a fill nor a bias is transposed to
// [N, OD, F, OH, OW] (the same swap of dims 1 and 2) and collapsed.
// CHECK-LABEL: func.func @dilated_depth_any_init
// CHECK: linalg.generic {indexing_maps = [#[[DILATED]], #{{.*}}]
// CHECK: %[[MOVED:.*]] = linalg.generic {indexing_maps = [#[[SWAP]], #{{.*}}], {{.*}} ins(%arg2 : tensor<2x4x2x3x3xf32>) outs(%{{.*}} : tensor<2x2x4x3x3xf32>)
// CHECK: %[[INIT:.*]] = tensor.collapse_shape %[[MOVED]] {{\[}}[0, 1], [2], [3], [4]] : tensor<2x2x4x3x3xf32> into tensor<4x4x3x3xf32>
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<[1, 2]> : tensor<2xi64>, strides = dense<[2, 1]> : tensor<2xi64>} ins(%{{.*}}, %{{.*}} : tensor<4x6x7x7xf32>, tensor<4x6x2x2xf32>) outs(%[[INIT]] : tensor<4x4x3x3xf32>)
func.func @dilated_depth_any_init(%x: tensor<2x2x6x7x7xf32>, %w: tensor<4x2x3x2x2xf32>, %init: tensor<2x4x2x3x3xf32>) -> tensor<2x4x2x3x3xf32> {
  %y = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<[2, 1, 2]> : vector<3xi64>, strides = dense<[1, 2, 1]> : vector<3xi64>} ins(%x, %w : tensor<2x2x6x7x7xf32>, tensor<4x2x3x2x2xf32>) outs(%init : tensor<2x4x2x3x3xf32>) -> tensor<2x4x2x3x3xf32>
  return %y : tensor<2x4x2x3x3xf32>
}
