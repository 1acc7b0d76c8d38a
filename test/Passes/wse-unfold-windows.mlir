// Convolution windows, generalized as the wse pipeline does, become a
// data-movement gather (its body only yields its input) plus a contraction that
// reads the gathered windows with a projected-permutation map.
// The last chunk fails, so the exit status is non-zero; the first chunk is printed.
// RUN: not wafer-opt %s --split-input-file -p 'func.func(linalg-generalize-named-ops),wse-unfold-windows' 2>/dev/null | filecheck %s
// RUN: wafer-opt %s --split-input-file --verify-diagnostics -p 'func.func(linalg-generalize-named-ops),wse-unfold-windows'

// CHECK-DAG: #[[$PATCH_READ:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d2, d1 * 2 + d3, d5 * 2 + d4 * 2)>
// CHECK-DAG: #[[$ID6:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4, d5)>
// CHECK-DAG: #[[$PATCHES:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d2, d4, d5, d6, d3)>
// CHECK-DAG: #[[$FILTER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
// CHECK-DAG: #[[$CONV_OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$POOL_READ:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 * 2 + d4, d3 * 2 + d5)>

// Stride 2, dilation (1, 2): patches[n, oh, c, kh, kw, ow] = x[n, c, 2 oh + kh, 2 ow + 2 kw],
// then an implicit GEMM over (n, f, oh, ow, c, kh, kw) into the conv's own init. The
// patches keep ow, the loop each PE instruction walks, innermost: rows of stride 1.
// CHECK-LABEL: func.func @conv_stride_2
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x9x9xf32>, %[[W:.*]]: tensor<4x3x3x3xf32>, %[[INIT:.*]]: tensor<2x4x4x3xf32>)
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<2x4x3x3x3x3xf32>
// CHECK-NEXT: %[[P:.*]] = linalg.generic {indexing_maps = [#[[$PATCH_READ]], #[[$ID6]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]] : tensor<2x3x9x9xf32>) outs(%[[EMPTY]] : tensor<2x4x3x3x3x3xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: linalg.yield %[[IN]] : f32
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[$PATCHES]], #[[$FILTER]], #[[$CONV_OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
// CHECK-SAME: ins(%[[P]], %[[W]] : tensor<2x4x3x3x3x3xf32>, tensor<4x3x3x3xf32>) outs(%[[INIT]] : tensor<2x4x4x3xf32>)
// CHECK: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK: return %[[Y]] : tensor<2x4x4x3xf32>
func.func @conv_stride_2(%x: tensor<2x3x9x9xf32>, %w: tensor<4x3x3x3xf32>, %init: tensor<2x4x4x3xf32>) -> tensor<2x4x4x3xf32> {
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<[1, 2]> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
       ins(%x, %w : tensor<2x3x9x9xf32>, tensor<4x3x3x3xf32>) outs(%init : tensor<2x4x4x3xf32>) -> tensor<2x4x4x3xf32>
  return %y : tensor<2x4x4x3xf32>
}

// A pooling's and a depthwise convolution's windows are left in place: a PE
// reads them from the input rows its region holds (a reduction over kh, kw with
// no filter that reads an output channel the windows do not).
// CHECK-LABEL: func.func @max_pool
// CHECK-SAME: (%[[X:.*]]: tensor<1x6x28x28xf32>)
// CHECK-NOT: tensor<1x6x14x2x2x14xf32>
// CHECK: %[[MAX:.*]] = linalg.generic {indexing_maps = [#[[$POOL_READ]], #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
// CHECK-SAME: ins(%[[X]], %{{.*}} : tensor<1x6x28x28xf32>, tensor<2x2xf32>)
// CHECK: return %[[MAX]]
func.func @max_pool(%x: tensor<1x6x28x28xf32>) -> tensor<1x6x14x14xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x6x14x14xf32>
  %init = linalg.fill ins(%ninf : f32) outs(%e : tensor<1x6x14x14xf32>) -> tensor<1x6x14x14xf32>
  %k = tensor.empty() : tensor<2x2xf32>
  %y = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
       ins(%x, %k : tensor<1x6x28x28xf32>, tensor<2x2xf32>) outs(%init : tensor<1x6x14x14xf32>) -> tensor<1x6x14x14xf32>
  return %y : tensor<1x6x14x14xf32>
}

// CHECK-LABEL: func.func @depthwise
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x9x9xf32>, %[[W:.*]]: tensor<8x3x3xf32>
// CHECK-NOT: tensor.empty
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[X]], %[[W]] : tensor<1x8x9x9xf32>, tensor<8x3x3xf32>)
// CHECK-NOT: linalg.generic
func.func @depthwise(%x: tensor<1x8x9x9xf32>, %w: tensor<8x3x3xf32>, %init: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %y = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
       ins(%x, %w : tensor<1x8x9x9xf32>, tensor<8x3x3xf32>) outs(%init : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %y : tensor<1x8x4x4xf32>
}

// Ops that read no window are left alone.
// CHECK-LABEL: func.func @matmul
// CHECK-NOT: tensor.empty
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x5xf32>)
// CHECK-NOT: linalg.generic
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<4x5xf32>) -> tensor<4x5xf32> {
  %y = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x5xf32>) outs(%c : tensor<4x5xf32>) -> tensor<4x5xf32>
  return %y : tensor<4x5xf32>
}

// -----

// A window over a dynamic extent (here the batch) cannot be unfolded at a static size.
func.func @dynamic_batch(%x: tensor<?x3x9x9xf32>, %w: tensor<4x3x3x3xf32>, %init: tensor<?x4x7x7xf32>) -> tensor<?x4x7x7xf32> {
  // expected-error@+1 {{wse-unfold-windows cannot unfold a window with a dynamic extent}}
  %y = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<?x3x9x9xf32>, tensor<4x3x3x3xf32>) outs(%init : tensor<?x4x7x7xf32>) -> tensor<?x4x7x7xf32>
  return %y : tensor<?x4x7x7xf32>
}
