// RUN: wafer-opt %s -p 'wafer-vectorize-pooling,func.func(canonicalize,cse)' | filecheck %s

// 2x2 windows at stride 2: each step reads one window row of 2x14 values,
// splits even and odd lanes with one shuffle and takes their maximum.
// CHECK-LABEL: func.func @pool_2x2
// CHECK-SAME: wafer.strategy = ["vectorized max pool 2x2"]
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3], [4, 5]] output_shape [1, 6, 14, 2, 14, 2]
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (6, 14)
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x1x1x14x2xf32>, vector<14x2xf32>
// CHECK: vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 1, 3, 5
// CHECK: arith.maximumf %{{.*}} : vector<14xf32>
// CHECK: {wafer.serial}
// CHECK-NOT: linalg.pooling_nchw_max
func.func @pool_2x2(%x: tensor<1x6x28x28xf32>) -> tensor<1x6x14x14xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x6x14x14xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x6x14x14xf32>) -> tensor<1x6x14x14xf32>
  %w = tensor.empty() : tensor<2x2xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%x, %w : tensor<1x6x28x28xf32>, tensor<2x2xf32>) outs(%f : tensor<1x6x14x14xf32>) -> tensor<1x6x14x14xf32>
  return %p : tensor<1x6x14x14xf32>
}

// Overlapping windows (3x3 at stride 2) and windows that leave input rows
// over (7 rows into 2x2 windows) stay pooling ops for wafer-fuse.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: wafer.strategy
// CHECK: linalg.pooling_nchw_max
// CHECK: linalg.pooling_nchw_max
func.func @left_alone(%x: tensor<1x2x9x9xf32>, %y: tensor<1x2x7x8xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x3x4xf32>) {
  %cst = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %w = tensor.empty() : tensor<3x3xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%x, %w : tensor<1x2x9x9xf32>, tensor<3x3xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %e2 = tensor.empty() : tensor<1x2x3x4xf32>
  %f2 = linalg.fill ins(%cst : f32) outs(%e2 : tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %w2 = tensor.empty() : tensor<2x2xf32>
  %q = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%y, %w2 : tensor<1x2x7x8xf32>, tensor<2x2xf32>) outs(%f2 : tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %p, %q : tensor<1x2x4x4xf32>, tensor<1x2x3x4xf32>
}
