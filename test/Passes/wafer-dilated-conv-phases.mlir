// RUN: wafer-opt %s -p 'wafer-dilated-conv-phases{machine=avx512},func.func(canonicalize,cse)' | filecheck %s

// A 3x3 convolution dilated by 2 (16 channels and filters) whose 57x55 output
// has phases of unequal size: the input is zero-padded at its end to 62x60,
// so that each of the four phases is a 31x30 image; they are gathered as a
// batch of four, convolved undilated from the bias made again at the batch's
// shape (29x28 outputs a phase: wafer-winograd's tiles pay), and the 58x56
// interleaved result is cut to 57x55.
// CHECK-DAG: #[[PHASES:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2, d3, d4, d0, d5, d1)>
// CHECK-DAG: #[[BACK:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d3, d5, d0, d1, d2, d4)>
// CHECK-LABEL: func.func @atrous_3x3_rate_2
// CHECK-SAME: wafer.strategy = ["dilated conv 3x3/2x2: 4 phases as images"]
// CHECK: %[[PADDED:.*]] = tensor.pad %arg0 low[0, 0, 0, 0] high[0, 0, 1, 1]
// CHECK: %[[SPREAD:.*]] = tensor.expand_shape %[[PADDED]] {{\[}}[0], [1], [2, 3], [4, 5]] output_shape [1, 16, 31, 2, 30, 2]
// CHECK: %[[GATHERED:.*]] = linalg.generic {indexing_maps = [#[[PHASES]], {{.*}}]{{.*}} ins(%[[SPREAD]] : tensor<1x16x31x2x30x2xf32>) outs({{.*}} : tensor<2x2x1x16x31x30xf32>)
// CHECK: %[[IMAGES:.*]] = tensor.collapse_shape %[[GATHERED]] {{.*}} into tensor<4x16x31x30xf32>
// CHECK: %[[BIAS:.*]] = linalg.broadcast ins(%arg1 : tensor<16xf32>) outs({{.*}} : tensor<4x16x29x28xf32>) dimensions = [0, 2, 3]
// CHECK: %[[PLANES:.*]] = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[IMAGES]], %{{.*}} : tensor<4x16x31x30xf32>, tensor<16x16x3x3xf32>) outs(%[[BIAS]] : tensor<4x16x29x28xf32>)
// CHECK: %[[BY_PHASE:.*]] = tensor.expand_shape %[[PLANES]] {{.*}} into tensor<2x2x1x16x29x28xf32>
// CHECK: %[[INTERLEAVED:.*]] = linalg.generic {indexing_maps = [#[[BACK]], {{.*}}]{{.*}} ins(%[[BY_PHASE]] : {{.*}}) outs({{.*}} : tensor<1x16x29x2x28x2xf32>)
// CHECK: %[[RESULT:.*]] = tensor.collapse_shape %[[INTERLEAVED]] {{\[}}[0], [1], [2, 3], [4, 5]] : tensor<1x16x29x2x28x2xf32> into tensor<1x16x58x56xf32>
// CHECK: %[[CUT:.*]] = tensor.extract_slice %[[RESULT]][0, 0, 0, 0] [1, 16, 57, 55] [1, 1, 1, 1]
// CHECK: return %[[CUT]]
func.func @atrous_3x3_rate_2(%x: tensor<1x16x61x59xf32>, %b: tensor<16xf32>) -> tensor<1x16x57x55xf32> {
  %w = arith.constant dense<0.5> : tensor<16x16x3x3xf32>
  %o = tensor.empty() : tensor<1x16x57x55xf32>
  %bias = linalg.broadcast ins(%b : tensor<16xf32>) outs(%o : tensor<1x16x57x55xf32>) dimensions = [0, 2, 3]
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<2> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x16x61x59xf32>, tensor<16x16x3x3xf32>) outs(%bias : tensor<1x16x57x55xf32>) -> tensor<1x16x57x55xf32>
  return %y : tensor<1x16x57x55xf32>
}

// An output that divides into its phases (rate 4 on 128x128, 32x32 a phase):
// neither padded nor cut.
// CHECK-LABEL: func.func @atrous_rate_4
// CHECK-SAME: wafer.strategy = ["dilated conv 3x3/4x4: 16 phases as images"]
// CHECK-NOT: tensor.pad
// CHECK: linalg.fill {{.*}} outs({{.*}} : tensor<16x16x32x32xf32>)
// CHECK: linalg.conv_2d_nchw_fchw {{.*}} ins({{.*}} : tensor<16x16x34x34xf32>, tensor<16x16x3x3xf32>)
// CHECK: tensor.collapse_shape {{.*}} : tensor<1x16x32x4x32x4xf32> into tensor<1x16x128x128xf32>
// CHECK-NOT: tensor.extract_slice
func.func @atrous_rate_4(%x: tensor<1x16x136x136xf32>) -> tensor<1x16x128x128xf32> {
  %w = arith.constant dense<0.5> : tensor<16x16x3x3xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %o = tensor.empty() : tensor<1x16x128x128xf32>
  %init = linalg.fill ins(%zero : f32) outs(%o : tensor<1x16x128x128xf32>) -> tensor<1x16x128x128xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<4> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x16x136x136xf32>, tensor<16x16x3x3xf32>) outs(%init : tensor<1x16x128x128xf32>) -> tensor<1x16x128x128xf32>
  return %y : tensor<1x16x128x128xf32>
}

// Left alone, each keeping its dilation: phases too small for Winograd's
// tiles to pay (rate 12 on a 40x40 map, 4x4 a phase, as DeepLab's ASPP), a
// 1-D convolution (1x3: no Winograd), a strided one (its phases would not be
// one image apiece), and one accumulating into a tensor that is neither a
// fill nor a bias.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: wafer.strategy
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<12> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<[1, 4]> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<2> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<2> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
func.func @kept(%aspp: tensor<1x16x64x64xf32>, %row: tensor<1x16x1x72xf32>, %x: tensor<1x16x60x60xf32>, %acc: tensor<1x16x56x56xf32>)
    -> (tensor<1x16x40x40xf32>, tensor<1x16x1x64xf32>, tensor<1x16x28x28xf32>, tensor<1x16x56x56xf32>) {
  %w = arith.constant dense<0.5> : tensor<16x16x3x3xf32>
  %w1 = arith.constant dense<0.5> : tensor<16x16x1x3xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %o40 = tensor.empty() : tensor<1x16x40x40xf32>
  %i40 = linalg.fill ins(%zero : f32) outs(%o40 : tensor<1x16x40x40xf32>) -> tensor<1x16x40x40xf32>
  %small = linalg.conv_2d_nchw_fchw {dilations = dense<12> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%aspp, %w : tensor<1x16x64x64xf32>, tensor<16x16x3x3xf32>) outs(%i40 : tensor<1x16x40x40xf32>) -> tensor<1x16x40x40xf32>
  %o1 = tensor.empty() : tensor<1x16x1x64xf32>
  %i1 = linalg.fill ins(%zero : f32) outs(%o1 : tensor<1x16x1x64xf32>) -> tensor<1x16x1x64xf32>
  %one_row = linalg.conv_2d_nchw_fchw {dilations = dense<[1, 4]> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%row, %w1 : tensor<1x16x1x72xf32>, tensor<16x16x1x3xf32>) outs(%i1 : tensor<1x16x1x64xf32>) -> tensor<1x16x1x64xf32>
  %o28 = tensor.empty() : tensor<1x16x28x28xf32>
  %i28 = linalg.fill ins(%zero : f32) outs(%o28 : tensor<1x16x28x28xf32>) -> tensor<1x16x28x28xf32>
  %strided = linalg.conv_2d_nchw_fchw {dilations = dense<2> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%x, %w : tensor<1x16x60x60xf32>, tensor<16x16x3x3xf32>) outs(%i28 : tensor<1x16x28x28xf32>) -> tensor<1x16x28x28xf32>
  %accumulated = linalg.conv_2d_nchw_fchw {dilations = dense<2> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x16x60x60xf32>, tensor<16x16x3x3xf32>) outs(%acc : tensor<1x16x56x56xf32>) -> tensor<1x16x56x56xf32>
  return %small, %one_row, %strided, %accumulated : tensor<1x16x40x40xf32>, tensor<1x16x1x64xf32>, tensor<1x16x28x28xf32>, tensor<1x16x56x56xf32>
}
