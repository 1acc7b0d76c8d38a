// RUN: wafer-opt %s -p 'wafer-im2col,canonicalize,cse' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-im2col{min-k=100}' | filecheck %s --check-prefix=MINK
// RUN: wafer-opt %s -p 'wafer-im2col,wafer-pack-matmul,canonicalize,cse' | filecheck %s --check-prefix=PACKED

// The convolution becomes a gather of 8x3x3 = 72-value columns and a
// contraction of the [16, 72] filter with the [2, 72, 64] columns. The gather
// copies one (n, c, kh, kw) window x[n, c, kh:kh+8, kw:kw+8] at a time, a row
// per step: no divisions, and its result collapses to the columns for free.
// CHECK-LABEL: func.func @conv
// CHECK-SAME: wafer.strategy = ["im2col conv_2d_nchw_fchw K=72"]
// CHECK: %[[COLS:.*]] = tensor.empty() : tensor<2x8x3x3x8x8xf32>
// CHECK: scf.for %[[N:[a-z0-9_]+]] = {{.*}} iter_args(%{{.*}} = %[[COLS]])
// CHECK: scf.for %[[C:[a-z0-9_]+]] =
// CHECK: scf.for %[[KH:[a-z0-9_]+]] =
// CHECK: scf.for %[[KW:[a-z0-9_]+]] =
// CHECK: tensor.extract_slice %arg0[%[[N]], %[[C]], %[[KH]], %[[KW]]] [1, 1, 8, 8] [1, 1, 1, 1] : tensor<2x8x10x10xf32> to tensor<1x1x8x8xf32>
// CHECK: scf.for
// CHECK: tensor.extract_slice %{{.*}} [1, 1, 1, 8] [1, 1, 1, 1] : tensor<1x1x8x8xf32> to tensor<1x1x1x8xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3], [4, 5]] : tensor<2x8x3x3x8x8xf32> into tensor<2x72x64xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<16x8x3x3xf32> into tensor<16x72xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<16x72xf32>, tensor<2x72x64xf32>) outs(%{{.*}} : tensor<2x16x64xf32>)
// CHECK: tensor.expand_shape %{{.*}} output_shape [2, 16, 8, 8]
// CHECK-NOT: linalg.conv
// MINK-LABEL: func.func @conv
// MINK-NOT: wafer.strategy
// MINK: linalg.conv_2d_nchw_fchw
// The contraction then gets the packed kernel: output channels are m, and
// images x pixels n (the pixels, 64, are the packed n loop).
// PACKED-LABEL: func.func @conv
// PACKED-SAME: "packed matmul 16x128x72: register block 8x32, k unroll 8, cache tile 16x64, serial"
// PACKED: vector.fma
func.func @conv(%x: tensor<2x8x10x10xf32>, %w: tensor<16x8x3x3xf32>, %c: tensor<2x16x8x8xf32>) -> tensor<2x16x8x8xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<2x8x10x10xf32>, tensor<16x8x3x3xf32>) outs(%c : tensor<2x16x8x8xf32>) -> tensor<2x16x8x8xf32>
  return %r : tensor<2x16x8x8xf32>
}

// Left alone: dynamic shapes and other convolutions (torch-mlir emits NCHW).
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: wafer.strategy
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK: linalg.depthwise_conv_2d_nhwc_hwc
// CHECK: linalg.conv_2d_nhwc_hwcf
func.func @left_alone(%x: tensor<?x8x10x10xf32>, %w: tensor<16x8x3x3xf32>, %c: tensor<?x16x8x8xf32>,
                      %dx: tensor<1x10x10x8xf32>, %dw: tensor<3x3x8xf32>, %dc: tensor<1x8x8x8xf32>,
                      %hw: tensor<3x3x8x4xf32>, %hc: tensor<1x8x8x4xf32>)
    -> (tensor<?x16x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x8x8x4xf32>) {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<?x8x10x10xf32>, tensor<16x8x3x3xf32>) outs(%c : tensor<?x16x8x8xf32>) -> tensor<?x16x8x8xf32>
  %d = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%dx, %dw : tensor<1x10x10x8xf32>, tensor<3x3x8xf32>) outs(%dc : tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %h = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%dx, %hw : tensor<1x10x10x8xf32>, tensor<3x3x8x4xf32>) outs(%hc : tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32>
  return %r, %d, %h : tensor<?x16x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x8x8x4xf32>
}
