// RUN: wafer-opt %s -p 'wafer-fuse-inverted-residual{machine=avx512 llc-fraction=0}' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-fuse-inverted-residual{machine=avx512}' | filecheck %s --check-prefix=SMALL

// An inverted residual block (expand 4->64, bias + ReLU, 3x3 depthwise, ReLU,
// project 64->4, residual add) becomes one scf.forall over (image, block of 16
// output rows): 16 rows of 18 KB tiles fit in 3/4 of the 1 MB L2. Each
// iteration expands the 18 rows its depthwise window reads, from the input
// with a row of zeros above and below, and sets the padding rows (row mask 0)
// to zero before the depthwise convolution, whose columns are padded in the
// tile. The residual is read at the tile's rows.
// CHECK: #[[ROW:.*]] = affine_map<(d0, d1, d2, d3) -> (d2)>
// CHECK-LABEL: func.func @block
// CHECK-SAME: wafer.strategy = ["inverted residual 4->64->4 64x64/1: blocks of 16 rows from 18 expanded"]
// CHECK: %[[PADDED:.*]] = tensor.pad %arg0 low[0, 0, 1, 0] high[0, 0, 1, 0]
// CHECK: %[[MASK:.*]] = arith.constant dense<[0.000000e+00, 1.000000e+00, {{.*}}, 1.000000e+00, 0.000000e+00]> : tensor<66xf32>
// CHECK: scf.forall (%[[N:.*]], %[[B:.*]]) in (1, 4) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1x4x64x64xf32>)
// CHECK: %[[X:.*]] = tensor.extract_slice %[[PADDED]][%[[N]], 0, %[[FIRST:.*]], 0] [1, 4, 18, 64] [1, 1, 1, 1]
// CHECK: %[[E:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%[[X]], %{{.*}} : tensor<1x4x18x64xf32>, tensor<64x4x1x1xf32>) outs(%{{.*}} : tensor<1x64x18x64xf32>)
// CHECK: %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[E]], %{{.*}} : tensor<1x64x18x64xf32>, tensor<64xf32>)
// CHECK: arith.maximumf
// CHECK: %[[ROWS:.*]] = tensor.extract_slice %[[MASK]][%[[FIRST]]] [18] [1] : tensor<66xf32> to tensor<18xf32>
// CHECK: %[[MASKED:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[ROW]], #{{.*}}]{{.*}} ins(%[[ACT]], %[[ROWS]] :
// CHECK: arith.select
// CHECK: %[[COLS:.*]] = tensor.pad %[[MASKED]] low[0, 0, 0, 1] high[0, 0, 0, 1]
// CHECK: %[[DW:.*]] = linalg.depthwise_conv_2d_nchw_chw {{.*}} ins(%[[COLS]], %{{.*}} : tensor<1x64x18x66xf32>, tensor<64x3x3xf32>) outs(%{{.*}} : tensor<1x64x16x64xf32>)
// CHECK: %[[MID:.*]] = linalg.generic {{.*}} ins(%[[DW]] : tensor<1x64x16x64xf32>)
// CHECK: %[[P:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%[[MID]], %{{.*}} : tensor<1x64x16x64xf32>, tensor<4x64x1x1xf32>) outs(%{{.*}} : tensor<1x4x16x64xf32>)
// CHECK: %[[RESIDUAL:.*]] = tensor.extract_slice %arg0[%[[N]], 0, %[[AT:.*]], 0] [1, 4, 16, 64] [1, 1, 1, 1]
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[P]], %[[RESIDUAL]] :
// CHECK: tensor.parallel_insert_slice %[[SUM]] into %[[OUT]][%[[N]], 0, %[[AT]], 0] [1, 4, 16, 64]
// Below 3/8 of the preset's 27.5 MB L3 (2 MB of images here) the ops stay as they are.
// SMALL-LABEL: func.func @block
// SMALL-NOT: scf.forall
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @block(%x: tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32> {
  %w1 = arith.constant dense<0.5> : tensor<64x4x1x1xf32>
  %b1 = arith.constant dense<0.25> : tensor<64xf32>
  %wd = arith.constant dense<0.125> : tensor<64x3x3xf32>
  %w2 = arith.constant dense<0.5> : tensor<4x64x1x1xf32>
  %zero = arith.constant 0.0 : f32
  %e64 = tensor.empty() : tensor<1x64x64x64xf32>
  %f64 = linalg.fill ins(%zero : f32) outs(%e64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %expand = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w1 : tensor<1x4x64x64xf32>, tensor<64x4x1x1xf32>) outs(%f64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %act = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expand, %b1 : tensor<1x64x64x64xf32>, tensor<64xf32>) outs(%e64 : tensor<1x64x64x64xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x64x64x64xf32>
  %padded = tensor.pad %act low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x64x64x64xf32> to tensor<1x64x66x66xf32>
  %dw = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %wd : tensor<1x64x66x66xf32>, tensor<64x3x3xf32>) outs(%f64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %mid = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%dw : tensor<1x64x64x64xf32>) outs(%e64 : tensor<1x64x64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x64x64x64xf32>
  %e4 = tensor.empty() : tensor<1x4x64x64xf32>
  %f4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32>
  %project = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%mid, %w2 : tensor<1x64x64x64xf32>, tensor<4x64x1x1xf32>) outs(%f4 : tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%project, %x : tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>) outs(%e4 : tensor<1x4x64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x4x64x64xf32>
  return %sum : tensor<1x4x64x64xf32>
}

// Left alone: the depthwise result is read by more than the projection (a
// squeeze-excite pool would be), and the expansion is read by more than the
// activation.
// CHECK-LABEL: func.func @depthwise_read_twice
// CHECK-NOT: scf.forall
// CHECK-LABEL: func.func @expansion_read_twice
// CHECK-NOT: scf.forall
func.func @depthwise_read_twice(%x: tensor<1x4x64x64xf32>) -> (tensor<1x4x64x64xf32>, tensor<1x64x64x64xf32>) {
  %w1 = arith.constant dense<0.5> : tensor<64x4x1x1xf32>
  %b1 = arith.constant dense<0.25> : tensor<64xf32>
  %wd = arith.constant dense<0.125> : tensor<64x3x3xf32>
  %w2 = arith.constant dense<0.5> : tensor<4x64x1x1xf32>
  %zero = arith.constant 0.0 : f32
  %e64 = tensor.empty() : tensor<1x64x64x64xf32>
  %f64 = linalg.fill ins(%zero : f32) outs(%e64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %expand = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w1 : tensor<1x4x64x64xf32>, tensor<64x4x1x1xf32>) outs(%f64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %act = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expand, %b1 : tensor<1x64x64x64xf32>, tensor<64xf32>) outs(%e64 : tensor<1x64x64x64xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x64x64x64xf32>
  %padded = tensor.pad %act low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x64x64x64xf32> to tensor<1x64x66x66xf32>
  %dw = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %wd : tensor<1x64x66x66xf32>, tensor<64x3x3xf32>) outs(%f64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %mid = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%dw : tensor<1x64x64x64xf32>) outs(%e64 : tensor<1x64x64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x64x64x64xf32>
  %e4 = tensor.empty() : tensor<1x4x64x64xf32>
  %f4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32>
  %project = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%mid, %w2 : tensor<1x64x64x64xf32>, tensor<4x64x1x1xf32>) outs(%f4 : tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%project, %x : tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>) outs(%e4 : tensor<1x4x64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x4x64x64xf32>
  return %sum, %dw : tensor<1x4x64x64xf32>, tensor<1x64x64x64xf32>
}

func.func @expansion_read_twice(%x: tensor<1x4x64x64xf32>) -> (tensor<1x4x64x64xf32>, tensor<1x64x64x64xf32>) {
  %w1 = arith.constant dense<0.5> : tensor<64x4x1x1xf32>
  %b1 = arith.constant dense<0.25> : tensor<64xf32>
  %wd = arith.constant dense<0.125> : tensor<64x3x3xf32>
  %w2 = arith.constant dense<0.5> : tensor<4x64x1x1xf32>
  %zero = arith.constant 0.0 : f32
  %e64 = tensor.empty() : tensor<1x64x64x64xf32>
  %f64 = linalg.fill ins(%zero : f32) outs(%e64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %expand = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w1 : tensor<1x4x64x64xf32>, tensor<64x4x1x1xf32>) outs(%f64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %act = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expand, %b1 : tensor<1x64x64x64xf32>, tensor<64xf32>) outs(%e64 : tensor<1x64x64x64xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x64x64x64xf32>
  %padded = tensor.pad %act low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x64x64x64xf32> to tensor<1x64x66x66xf32>
  %dw = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%padded, %wd : tensor<1x64x66x66xf32>, tensor<64x3x3xf32>) outs(%f64 : tensor<1x64x64x64xf32>) -> tensor<1x64x64x64xf32>
  %mid = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%dw : tensor<1x64x64x64xf32>) outs(%e64 : tensor<1x64x64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x64x64x64xf32>
  %e4 = tensor.empty() : tensor<1x4x64x64xf32>
  %f4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32>
  %project = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%mid, %w2 : tensor<1x64x64x64xf32>, tensor<4x64x1x1xf32>) outs(%f4 : tensor<1x4x64x64xf32>) -> tensor<1x4x64x64xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%project, %x : tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>) outs(%e4 : tensor<1x4x64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x4x64x64xf32>
  return %sum, %expand : tensor<1x4x64x64xf32>, tensor<1x64x64x64xf32>
}
