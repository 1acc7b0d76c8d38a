// RUN: wafer-opt %s -p 'wafer-depthwise-nhwc{machine=avx2},canonicalize,cse' | filecheck %s

// A 3x3 NHWC depthwise convolution over a zero-padded 8x9 image of 16 channels
// (two AVX2 vectors): each output row is an scf.forall iteration, and the
// filter rows it reads a loop whose bounds clamp the taps to the image (the
// padding rows are skipped, not read). A quarter of AVX2's 16 registers hold
// the accumulators of 2 pixels x 2 vectors: the row's 9 pixels are a peeled
// tile of 2 (its first pixel skips the filter column in the padding: 5 FMAs
// per filter row), a loop over the tiles from pixel 2 to 8 (6 FMAs), and a
// last tile of one pixel (its right column in the padding: 2 FMAs). Each tile
// loops over the blocks of channels (one here) and starts from the fill value.
// CHECK-LABEL: func.func @padded
// CHECK: "depthwise nhwc 3x3/1: tiles of 2 pixels x 16 channels, serial"
// CHECK-NOT: tensor.pad
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 8)
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-5: vector.fma
// CHECK-NOT: vector.fma
// CHECK: scf.yield
// CHECK: scf.for %{{.*}} = %c2 to %c8 step %c2
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-6: vector.fma
// CHECK-NOT: vector.fma
// CHECK: scf.yield
// CHECK: scf.for {{.*}} -> (vector<16xf32>) {
// CHECK-COUNT-2: vector.fma
// CHECK-NOT: vector.fma
// CHECK: scf.yield
// CHECK-NOT: linalg.depthwise_conv_2d_nhwc_hwc
func.func @padded(%x: tensor<2x8x9x16xf32>, %w: tensor<3x3x16xf32>) -> tensor<2x8x9x16xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x8x9x16xf32> to tensor<2x10x11x16xf32>
  %e = tensor.empty() : tensor<2x8x9x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8x9x16xf32>) -> tensor<2x8x9x16xf32>
  %r = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%padded, %w : tensor<2x10x11x16xf32>, tensor<3x3x16xf32>) outs(%init : tensor<2x8x9x16xf32>) -> tensor<2x8x9x16xf32>
  return %r : tensor<2x8x9x16xf32>
}
