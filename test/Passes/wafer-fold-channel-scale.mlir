// RUN: wafer-opt %s -p 'wafer-fold-channel-scale' | filecheck %s

// Squeeze-excite's gates s[n, c] scale the image that a 1x1 convolution reads:
// the gates scale the filters instead, W[f, c] * s[n, c] per image, and the
// convolution becomes a contraction batched over the images that reads the
// image as it was. The scaling generic is gone. 16 filters against 256 pixels:
// the filters scaled per call are few beside the image.
// CHECK: #[[W:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK: #[[S:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @gated
// CHECK-SAME: wafer.strategy = ["channel scale folded into the filters of 1x1 conv 32->16"]
// CHECK: %[[FILTERS:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<16x32x1x1xf32> into tensor<16x32xf32>
// CHECK: %[[GATES:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<2x32x1x1xf32> into tensor<2x32xf32>
// CHECK: %[[SCALED:.*]] = linalg.generic {indexing_maps = [#[[W]], #[[S]], {{.*}}]{{.*}} ins(%[[FILTERS]], %[[GATES]] : {{.*}}) outs(%{{.*}} : tensor<2x16x32xf32>)
// CHECK: arith.mulf
// CHECK: %[[IMAGE:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0], [1], [2, 3]] : tensor<2x32x16x16xf32> into tensor<2x32x256xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} ins(%[[SCALED]], %[[IMAGE]] : tensor<2x16x32xf32>, tensor<2x32x256xf32>) outs(%{{.*}} : tensor<2x16x256xf32>)
// CHECK: tensor.expand_shape %{{.*}} output_shape [2, 16, 16, 16]
// CHECK-NOT: linalg.conv_2d_nchw_fchw
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#gate = affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, 0)>
func.func @gated(%x: tensor<2x32x16x16xf32>, %s: tensor<2x32x1x1xf32>, %bias: tensor<2x16x16x16xf32>) -> tensor<2x16x16x16xf32> {
  %w = arith.constant dense<0.5> : tensor<16x32x1x1xf32>
  %e = tensor.empty() : tensor<2x32x16x16xf32>
  %scaled = linalg.generic {indexing_maps = [#gate, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %x : tensor<2x32x1x1xf32>, tensor<2x32x16x16xf32>) outs(%e : tensor<2x32x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<2x32x16x16xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%scaled, %w : tensor<2x32x16x16xf32>, tensor<16x32x1x1xf32>) outs(%bias : tensor<2x16x16x16xf32>) -> tensor<2x16x16x16xf32>
  return %conv : tensor<2x16x16x16xf32>
}

// Left alone: the scaled image is read again (a residual), the scale varies
// along the rows, the convolution is 3x3, and 16 filters against 16 pixels
// (scaling the filters would cost more than scaling the image).
// CHECK-LABEL: func.func @scaled_image_reused
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-LABEL: func.func @scale_per_pixel
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-LABEL: func.func @not_pointwise
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-LABEL: func.func @many_filters_few_pixels
// CHECK-NOT: wafer.strategy
// CHECK: linalg.generic
// CHECK: arith.mulf
// CHECK: linalg.conv_2d_nchw_fchw
func.func @scaled_image_reused(%x: tensor<1x8x4x4xf32>, %s: tensor<1x8x1x1xf32>, %init: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %w = arith.constant dense<0.5> : tensor<8x8x1x1xf32>
  %e = tensor.empty() : tensor<1x8x4x4xf32>
  %scaled = linalg.generic {indexing_maps = [#gate, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %x : tensor<1x8x1x1xf32>, tensor<1x8x4x4xf32>) outs(%e : tensor<1x8x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<1x8x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%scaled, %w : tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) outs(%init : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %conv, %scaled : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}
func.func @scale_per_pixel(%x: tensor<1x8x4x4xf32>, %s: tensor<1x8x4x4xf32>, %init: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<8x8x1x1xf32>
  %e = tensor.empty() : tensor<1x8x4x4xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %x : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) outs(%e : tensor<1x8x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<1x8x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%scaled, %w : tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) outs(%init : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %conv : tensor<1x8x4x4xf32>
}
func.func @not_pointwise(%x: tensor<1x8x6x6xf32>, %s: tensor<1x8x1x1xf32>, %init: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<8x8x3x3xf32>
  %e = tensor.empty() : tensor<1x8x6x6xf32>
  %scaled = linalg.generic {indexing_maps = [#gate, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %x : tensor<1x8x1x1xf32>, tensor<1x8x6x6xf32>) outs(%e : tensor<1x8x6x6xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<1x8x6x6xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%scaled, %w : tensor<1x8x6x6xf32>, tensor<8x8x3x3xf32>) outs(%init : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %conv : tensor<1x8x4x4xf32>
}
func.func @many_filters_few_pixels(%x: tensor<1x32x4x4xf32>, %s: tensor<1x32x1x1xf32>, %init: tensor<1x16x4x4xf32>) -> tensor<1x16x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<16x32x1x1xf32>
  %e = tensor.empty() : tensor<1x32x4x4xf32>
  %scaled = linalg.generic {indexing_maps = [#gate, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %x : tensor<1x32x1x1xf32>, tensor<1x32x4x4xf32>) outs(%e : tensor<1x32x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<1x32x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%scaled, %w : tensor<1x32x4x4xf32>, tensor<16x32x1x1xf32>) outs(%init : tensor<1x16x4x4xf32>) -> tensor<1x16x4x4xf32>
  return %conv : tensor<1x16x4x4xf32>
}
