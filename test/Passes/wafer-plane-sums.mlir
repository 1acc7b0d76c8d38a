// RUN: wafer-opt %s -p 'wafer-plane-sums{machine=avx512}' | filecheck %s

// Global average pooling's sum: a 7x9 window over 7x9 planes. Each plane is
// flattened and summed along its 63 elements, the addition reassociable.
// CHECK-DAG: #[[PLANE:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[SUM:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @global_sum
// CHECK: %[[PLANES:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0], [1], [2, 3]] : tensor<2x5x7x9xf32> into tensor<2x5x63xf32>
// CHECK: %[[INIT:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0], [1, 2, 3]] : tensor<2x5x1x1xf32> into tensor<2x5xf32>
// CHECK: %[[SUMS:.*]] = linalg.generic {indexing_maps = [#[[PLANE]], #[[SUM]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PLANES]] : tensor<2x5x63xf32>) outs(%[[INIT]] : tensor<2x5xf32>)
// CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<reassoc> : f32
// CHECK: %[[OUT:.*]] = tensor.expand_shape %[[SUMS]] {{\[\[}}0], [1, 2, 3]] output_shape [2, 5, 1, 1]
// CHECK: return %[[OUT]]
// CHECK-NOT: linalg.pooling_nchw_sum
func.func @global_sum(%x: tensor<2x5x7x9xf32>, %init: tensor<2x5x1x1xf32>) -> tensor<2x5x1x1xf32> {
  %window = tensor.empty() : tensor<7x9xf32>
  %r = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<[7, 9]> : vector<2xi64>}
      ins(%x, %window : tensor<2x5x7x9xf32>, tensor<7x9xf32>) outs(%init : tensor<2x5x1x1xf32>) -> tensor<2x5x1x1xf32>
  return %r : tensor<2x5x1x1xf32>
}

// A 3x3 window over 7x9 planes, and an integer sum: left alone.
// CHECK-LABEL: func.func @windows
// CHECK: linalg.pooling_nchw_sum
// CHECK-LABEL: func.func @integer_sum
// CHECK: linalg.pooling_nchw_sum
func.func @windows(%x: tensor<2x5x7x9xf32>, %init: tensor<2x5x5x7xf32>) -> tensor<2x5x5x7xf32> {
  %window = tensor.empty() : tensor<3x3xf32>
  %r = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %window : tensor<2x5x7x9xf32>, tensor<3x3xf32>) outs(%init : tensor<2x5x5x7xf32>) -> tensor<2x5x5x7xf32>
  return %r : tensor<2x5x5x7xf32>
}
func.func @integer_sum(%x: tensor<2x5x7x9xi32>, %init: tensor<2x5x1x1xi32>) -> tensor<2x5x1x1xi32> {
  %window = tensor.empty() : tensor<7x9xi32>
  %r = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<[7, 9]> : vector<2xi64>}
      ins(%x, %window : tensor<2x5x7x9xi32>, tensor<7x9xi32>) outs(%init : tensor<2x5x1x1xi32>) -> tensor<2x5x1x1xi32>
  return %r : tensor<2x5x1x1xi32>
}

// The pool of an NHWC image transposed back to NCHW (what wafer-channels-last
// leaves): summed from the NHWC pixels, per image and block of channels (48
// channels: three blocks of one AVX-512 vector, the largest power of two
// dividing 48, not one ragged block of three), pixel after pixel; the
// transpose is dead.
// CHECK-LABEL: func.func @channels_last_sum
// CHECK: %[[PIXELS:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0], [1, 2], [3]] : tensor<2x7x9x48xf32> into tensor<2x63x48xf32>
// CHECK: scf.forall (%[[N:.*]], %[[B:.*]]) in (2, 3)
// CHECK: scf.for %[[P:.*]] = %{{.*}} to %c63 step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (vector<16xf32>)
// CHECK: %[[PIXEL:.*]] = vector.transfer_read %[[PIXELS]][%[[N]], %[[P]], %{{.*}}]{{.*}} : tensor<2x63x48xf32>, vector<16xf32>
// CHECK: arith.addf %[[ACC]], %[[PIXEL]] : vector<16xf32>
// CHECK-NOT: linalg.pooling_nchw_sum
func.func @channels_last_sum(%y: tensor<2x7x9x48xf32>, %init: tensor<2x48x1x1xf32>) -> tensor<2x48x1x1xf32> {
  %empty = tensor.empty() : tensor<2x48x7x9xf32>
  %x = linalg.transpose ins(%y : tensor<2x7x9x48xf32>) outs(%empty : tensor<2x48x7x9xf32>) permutation = [0, 3, 1, 2]
  %window = tensor.empty() : tensor<7x9xf32>
  %r = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<[7, 9]> : vector<2xi64>}
      ins(%x, %window : tensor<2x48x7x9xf32>, tensor<7x9xf32>) outs(%init : tensor<2x48x1x1xf32>) -> tensor<2x48x1x1xf32>
  return %r : tensor<2x48x1x1xf32>
}

// 40 channels, a multiple of no AVX-512 vector: summed 8 at a time (the
// largest power of two dividing 40), five blocks per image, not as one
// ragged vector of 40.
// CHECK-LABEL: func.func @ragged_channels_last_sum
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 5)
// CHECK: scf.for %{{.*}} = %{{.*}} to %c63 step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<8xf32>)
// CHECK-NOT: vector<40xf32>
func.func @ragged_channels_last_sum(%y: tensor<2x7x9x40xf32>, %init: tensor<2x40x1x1xf32>) -> tensor<2x40x1x1xf32> {
  %empty = tensor.empty() : tensor<2x40x7x9xf32>
  %x = linalg.transpose ins(%y : tensor<2x7x9x40xf32>) outs(%empty : tensor<2x40x7x9xf32>) permutation = [0, 3, 1, 2]
  %window = tensor.empty() : tensor<7x9xf32>
  %r = linalg.pooling_nchw_sum {dilations = dense<1> : vector<2xi64>, strides = dense<[7, 9]> : vector<2xi64>}
      ins(%x, %window : tensor<2x40x7x9xf32>, tensor<7x9xf32>) outs(%init : tensor<2x40x1x1xf32>) -> tensor<2x40x1x1xf32>
  return %r : tensor<2x40x1x1xf32>
}
