// RUN: wafer-opt %s -p 'wafer-fold-channel-affine,func.func(canonicalize)' | filecheck %s

#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#channel = affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, 0)>
#scalar = affine_map<(d0, d1, d2, d3) -> ()>

// An eval-mode batch norm as torch-mlir lowers it: (conv - mean) *
// rsqrt(var + eps) * gamma + beta, one generic per op, the rsqrt computed from
// constants. The scale goes into the filters (a new constant), the shift into
// one per-channel add after the convolution; the chain is gone.
// CHECK-LABEL: func.func @batch_norm
// CHECK-SAME: wafer.strategy = ["per-channel subf, mulf, addf folded into the filters"]
// CHECK-DAG: %[[W:.*]] = arith.constant dense_resource<folded_filters> : tensor<2x3x1x1xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense_resource<folded_shift> : tensor<2xf32>
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%{{.*}}, %[[W]] : tensor<1x3x4x4xf32>, tensor<2x3x1x1xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[CONV]], %[[B]] : tensor<1x2x4x4xf32>, tensor<2xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.addf
// CHECK-NEXT: linalg.yield
// CHECK-NOT: math.rsqrt
// CHECK-NOT: arith.subf
// CHECK: return
func.func @batch_norm(%x: tensor<1x3x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %eps = arith.constant 1.0e-05 : f64
  %w = arith.constant dense<[[[[1.0]], [[2.0]], [[3.0]]], [[[4.0]], [[5.0]], [[6.0]]]]> : tensor<2x3x1x1xf32>
  %mean = arith.constant dense<[[[[0.5]], [[-1.0]]]]> : tensor<1x2x1x1xf32>
  %var = arith.constant dense<[[[[4.0]], [[0.25]]]]> : tensor<1x2x1x1xf32>
  %gamma = arith.constant dense<[[[[2.0]], [[3.0]]]]> : tensor<1x2x1x1xf32>
  %beta = arith.constant dense<[[[[0.1]], [[0.2]]]]> : tensor<1x2x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x3x4x4xf32>, tensor<2x3x1x1xf32>) outs(%init : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %ec = tensor.empty() : tensor<1x2x1x1xf32>
  %inv = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%var : tensor<1x2x1x1xf32>) outs(%ec : tensor<1x2x1x1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %t = arith.truncf %eps : f64 to f32
    %s = arith.addf %v, %t : f32
    %r = math.rsqrt %s : f32
    linalg.yield %r : f32
  } -> tensor<1x2x1x1xf32>
  %centered = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %mean : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.subf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  %normed = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%centered, %inv : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  %scaled = linalg.generic {indexing_maps = [#channel, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%gamma, %normed : tensor<1x2x1x1xf32>, tensor<1x2x4x4xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%b: f32, %a: f32, %o: f32):
    %r = arith.mulf %b, %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%scaled, %beta : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  return %shifted : tensor<1x2x4x4xf32>
}

// A convolution with a bias: the bias takes the scale and the shift; nothing follows.
// CHECK-LABEL: func.func @with_bias
// CHECK: %[[BIAS:.*]] = arith.constant dense_resource<folded_bias{{.*}}> : tensor<2xf32>
// CHECK: %[[INIT:.*]] = linalg.broadcast ins(%[[BIAS]] : tensor<2xf32>)
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {{.*}} outs(%[[INIT]] : tensor<1x2x4x4xf32>)
// CHECK-NEXT: return %[[CONV]]
func.func @with_bias(%x: tensor<1x3x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = arith.constant dense<1.0> : tensor<2x3x1x1xf32>
  %bias = arith.constant dense<[0.5, 1.5]> : tensor<2xf32>
  %scale = arith.constant dense<3.0> : tensor<f32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %init = linalg.broadcast ins(%bias : tensor<2xf32>) outs(%e : tensor<1x2x4x4xf32>) dimensions = [0, 2, 3]
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x3x4x4xf32>, tensor<2x3x1x1xf32>) outs(%init : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %y = linalg.generic {indexing_maps = [#id, #scalar, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %scale : tensor<1x2x4x4xf32>, tensor<f32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.divf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  return %y : tensor<1x2x4x4xf32>
}

// Left alone: the shift is an argument, not a constant; the product is also
// returned (a second use); and a constant divided by the product is no affine map of it.
// CHECK-LABEL: func.func @not_folded
// CHECK-NOT: folded
// CHECK: return
func.func @not_folded(%x: tensor<1x3x4x4xf32>, %shift: tensor<1x2x1x1xf32>)
    -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant dense<1.0> : tensor<1x2x1x1xf32>
  %w = arith.constant dense<1.0> : tensor<2x3x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x3x4x4xf32>, tensor<2x3x1x1xf32>) outs(%init : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %shift : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  %conv2 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x3x4x4xf32>, tensor<2x3x1x1xf32>) outs(%init : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %inverse = linalg.generic {indexing_maps = [#channel, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%one, %conv2 : tensor<1x2x1x1xf32>, tensor<1x2x4x4xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%b: f32, %a: f32, %o: f32):
    %r = arith.divf %b, %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  return %shifted, %inverse, %conv2 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// The folded values: the shift beta - mean * gamma * rsqrt(var + eps) is
// (-0.4, 6.19999), the filters W * gamma * rsqrt(var + eps) are W * (1, 6).
// CHECK: folded_shift: "0x04000000B9CCCCBE6A65C640"
// CHECK-NEXT: folded_filters: "0x04000000ECFF7F3FECFFFF3FF1FF3F4004FFBF41C5FEEF4143FF0F42"
// The bias (0.5, 1.5) / 3.
// CHECK-NEXT: folded_bias: "0x04000000ABAA2A3E0000003F"
