// RUN: wafer-opt %s -p 'wafer-im2col' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-im2col{min-k=100}' | filecheck %s --check-prefix=MINK
// RUN: wafer-opt %s -p 'wafer-im2col,wafer-pack-matmul{machine=avx512 parallel-flops=4000000},wafer-lower-contractions,canonicalize,cse' | filecheck %s --check-prefix=PACKED
// (parallel-flops=4000000: the serial forms checked here; the default splits some of them.)

// The convolution becomes a gather of 8x3x3 = 72-value columns and a
// contraction of the [16, 72] filter with the [2, 72, 64] columns. The gather
// runs over (n, c, kh, kw, oh, ow), reading x[n, c, oh + kh, ow + kw]: no
// divisions, and its result collapses to the columns for free.
// CHECK: #[[GATHER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 + d4, d3 + d5)>
// CHECK-LABEL: func.func @conv
// CHECK-SAME: wafer.strategy = ["im2col conv_2d_nchw_fchw K=72"]
// CHECK: linalg.generic {indexing_maps = [#[[GATHER]], {{.*}}]{{.*}} ins(%{{.*}} : tensor<2x8x10x10xf32>) outs(%{{.*}} : tensor<2x8x3x3x8x8xf32>)
// CHECK-SAME: wafer.im2col_row = 8 : i64
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<16x8x3x3xf32> into tensor<16x72xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3], [4, 5]] : tensor<2x8x3x3x8x8xf32> into tensor<2x72x64xf32>
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
// Both images' columns are copied straight into B's panels, [image][panel][K][32
// pixels]: each (c, kh, kw) window row of 8 pixels one vector read from the
// input, no gathered buffer in between; the row mark is dropped.
// PACKED-NOT: wafer.im2col_row
// PACKED: vector.transfer_read %arg0[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<2x8x10x10xf32>, vector<8xf32>
// PACKED: vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] {in_bounds = [true]} : vector<8xf32>, tensor<2x2x72x32xf32>
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

// A parallel kernel over 56-pixel rows takes cache tiles of 224 pixels (4 rows,
// 7 panels of 32), so each tile's columns are one window of input rows,
// gathered inside the tile, in cache. Runs of 8 pixels lie within one input
// row and one panel row, so for each (c, kh, kw) and each of its 4 rows the tile
// copies the row's 7 runs straight from the input into the packed panels: no
// column matrix, no pack.
// PACKED-LABEL: func.func @conv_rows
// PACKED-SAME: "packed matmul 16x3136x72: register block 8x32, k unroll 8, cache tile 16x224"
// PACKED: scf.forall (%{{.*}}) in (14)
// PACKED: %[[WINDOW:.*]] = tensor.extract_slice %arg0[0, 0, %{{.*}}, %{{.*}}] [1, 8, 6, 58] [1, 1, 1, 1] : tensor<1x8x58x58xf32> to tensor<1x8x6x58xf32>
// PACKED: scf.for %{{.*}} = %c0 to %c8 step %c1 iter_args(%{{.*}}) -> (tensor<1x7x72x32xf32>)
// PACKED: scf.for %[[ROW:.*]] = %c0 to %c4 step %c1 iter_args(%{{.*}}) -> (tensor<1x7x72x32xf32>)
// PACKED: %[[COPY:.*]] = vector.transfer_read %[[WINDOW]]{{.*}} : tensor<1x8x6x58xf32>, vector<8xf32>
// PACKED: %[[PANEL:.*]] = affine.apply #{{.*}}(%[[ROW]])
// PACKED: %[[LANE:.*]] = affine.apply #{{.*}}(%[[ROW]])
// PACKED: vector.transfer_write %[[COPY]], %{{.*}}[%c0, %[[PANEL]], %{{.*}}, %[[LANE]]] {{.*}} : vector<8xf32>, tensor<1x7x72x32xf32>
// PACKED-NOT: linalg.pack
// PACKED-NOT: linalg.transpose
// PACKED: vector.fma
// PACKED: scf.forall.in_parallel
func.func @conv_rows(%x: tensor<1x8x58x58xf32>, %w: tensor<16x8x3x3xf32>, %c: tensor<1x16x56x56xf32>) -> tensor<1x16x56x56xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x8x58x58xf32>, tensor<16x8x3x3xf32>) outs(%c : tensor<1x16x56x56xf32>) -> tensor<1x16x56x56xf32>
  return %r : tensor<1x16x56x56xf32>
}

// 12-pixel rows share only 4 lanes with a 32-wide panel: too short a run for
// a vector copy into the panels, so each tile gathers its columns window by
// window (8 rows of 12 per (c, kh, kw), a 96-pixel cache tile) and packs
// them after.
// PACKED-LABEL: func.func @conv_rows_of_12
// PACKED: scf.forall (%{{.*}}) in (6)
// PACKED: scf.for {{.*}} -> (tensor<1x64x3x3x8x12xf32>)
// PACKED: vector.fma
func.func @conv_rows_of_12(%x: tensor<1x64x50x14xf32>, %w: tensor<64x64x3x3xf32>, %c: tensor<1x64x48x12xf32>) -> tensor<1x64x48x12xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x64x50x14xf32>, tensor<64x64x3x3xf32>) outs(%c : tensor<1x64x48x12xf32>) -> tensor<1x64x48x12xf32>
  return %r : tensor<1x64x48x12xf32>
}

// A 1x1, stride-1 convolution's columns are its input, reshaped: no gather.
// Packed, its cache tiles are still whole 56-pixel rows (224 pixels), so a
// consumer of the output can fuse per tile; a stride of 2 keeps the gather.
// CHECK-LABEL: func.func @pointwise
// CHECK-NOT: wafer.im2col_row
// CHECK: %[[COLUMNS:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0], [1], [2, 3]] : tensor<1x24x56x56xf32> into tensor<1x24x3136xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[COLUMNS]] : tensor<16x24xf32>, tensor<1x24x3136xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg3 : tensor<1x24x56x56xf32>) outs(%{{.*}} : tensor<1x24x1x1x28x28xf32>)
// CHECK-SAME: wafer.im2col_row = 28 : i64
// PACKED-LABEL: func.func @pointwise
// PACKED-SAME: "packed matmul 16x3136x24: register block 8x32, k unroll 8, cache tile 16x224, serial"
func.func @pointwise(%x: tensor<1x24x56x56xf32>, %w: tensor<16x24x1x1xf32>, %c: tensor<1x16x56x56xf32>,
                     %y: tensor<1x24x56x56xf32>, %d: tensor<1x16x28x28xf32>) -> (tensor<1x16x56x56xf32>, tensor<1x16x28x28xf32>) {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%x, %w : tensor<1x24x56x56xf32>, tensor<16x24x1x1xf32>) outs(%c : tensor<1x16x56x56xf32>) -> tensor<1x16x56x56xf32>
  %s = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%y, %w : tensor<1x24x56x56xf32>, tensor<16x24x1x1xf32>) outs(%d : tensor<1x16x28x28xf32>) -> tensor<1x16x28x28xf32>
  return %r, %s : tensor<1x16x56x56xf32>, tensor<1x16x28x28xf32>
}

// A grouped convolution (4 groups of 2 channels and 4 filters) becomes a batch
// of one contraction per group: the gather carries the group dim along,
// x[n, g, c, oh + kh, ow + kw], its columns collapse to [N, G, K, pixels],
// the filters to [G, F/G, K], and the contraction loops (n, g, f, pixel, k)
// (test_grouped_conv.py checks the numbers against PyTorch).
// CHECK-LABEL: func.func @grouped_conv
// CHECK-SAME: wafer.strategy = ["im2col conv_2d_ngchw_gfchw: 4 groups of 4 filters, K=18"]
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<2x4x2x10x10xf32>) outs(%{{.*}} : tensor<2x4x2x3x3x8x8xf32>)
// CHECK-SAME: wafer.im2col_row = 8 : i64
// CHECK: tensor.collapse_shape %{{.*}} : tensor<2x4x2x3x3x8x8xf32> into tensor<2x4x18x64xf32>
// CHECK: tensor.collapse_shape %{{.*}} : tensor<4x4x2x3x3xf32> into tensor<4x4x18xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<4x4x18xf32>, tensor<2x4x18x64xf32>) outs(%{{.*}} : tensor<2x4x4x64xf32>)
// CHECK: tensor.expand_shape %{{.*}} output_shape [2, 4, 4, 8, 8]
// CHECK-NOT: linalg.conv
// PACKED-LABEL: func.func @grouped_conv
// PACKED-SAME: "packed matmul 4x4x128x18
// Its gather is copied one (n, g, c, kh, kw) window at a time, a row of 8
// pixels a step.
// PACKED: scf.for %{{.*}} = %c0 to %c8 step %c1 iter_args(%{{.*}} = %{{.*}}) -> (tensor<1x1x1x1x1x8x8xf32>)
// PACKED: tensor.extract_slice {{.*}} to tensor<8xf32>
func.func @grouped_conv(%x: tensor<2x4x2x10x10xf32>, %w: tensor<4x4x2x3x3xf32>, %init: tensor<2x4x4x8x8xf32>) -> tensor<2x4x4x8x8xf32> {
  %r = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<2x4x2x10x10xf32>, tensor<4x4x2x3x3xf32>) outs(%init : tensor<2x4x4x8x8xf32>) -> tensor<2x4x4x8x8xf32>
  return %r : tensor<2x4x4x8x8xf32>
}

// Rows of 31 pixels (a stride-2 stem on 63 columns) have no vector run that
// divides both the row and a 32-pixel panel: the gather writes rows of 32,
// reading two zero columns padded on the right of the input, and the
// contraction computes 31x32 pixels. The ReLU reads only the conv's result
// and the bias only the channel, so both apply to the widened result, and the
// slice back to 31x31 comes after them (wafer-fuse-epilogues then applies them
// per cache tile). Packed, the columns go straight into B's panels.
// CHECK-LABEL: func.func @odd_rows
// CHECK-SAME: wafer.strategy = ["im2col conv_2d_nchw_fchw K=18, rows of 31 widened to 32"]
// CHECK: tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 0, 0, 2]
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x2x63x65xf32>) outs(%{{.*}} : tensor<1x2x3x3x31x32xf32>)
// CHECK-SAME: wafer.im2col_row = 32 : i64
// CHECK: linalg.broadcast ins(%{{.*}} : tensor<16xf32>) outs(%{{.*}} : tensor<1x16x31x32xf32>)
// CHECK: outs(%{{.*}} : tensor<1x16x992xf32>)
// CHECK: arith.maximumf
// CHECK-NEXT: linalg.yield
// CHECK-NEXT: } -> tensor<1x16x31x32xf32>
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 16, 31, 31] [1, 1, 1, 1]
// CHECK-NEXT: return
// PACKED-LABEL: func.func @odd_rows
// PACKED-SAME: "packed matmul 16x992x18: register block 8x32
// PACKED-NOT: wafer.im2col_row
// PACKED-NOT: tensor<1x2x3x3x31x32xf32>
// PACKED: vector.transfer_read %{{.*}} : tensor<1x2x63x65xf32>, vector<64xf32>
// PACKED: vector.shuffle
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @odd_rows(%x: tensor<1x2x63x63xf32>, %w: tensor<16x2x3x3xf32>, %b: tensor<16xf32>) -> tensor<1x16x31x31xf32> {
  %e = tensor.empty() : tensor<1x16x31x31xf32>
  %init = linalg.broadcast ins(%b : tensor<16xf32>) outs(%e : tensor<1x16x31x31xf32>) dimensions = [0, 2, 3]
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%x, %w : tensor<1x2x63x63xf32>, tensor<16x2x3x3xf32>) outs(%init : tensor<1x16x31x31xf32>) -> tensor<1x16x31x31xf32>
  %zero = arith.constant 0.0 : f32
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%conv : tensor<1x16x31x31xf32>) outs(%e : tensor<1x16x31x31xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x16x31x31xf32>
  return %relu : tensor<1x16x31x31xf32>
}

// A gather at the pixel's own column (linalg.index) reads the slice too: on
// the widened rows its position would run past the row, and past the table.
// CHECK-LABEL: func.func @positions_after_odd_rows
// CHECK: %[[SLICE:.*]] = tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 16, 31, 31] [1, 1, 1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[SLICE]] : tensor<1x16x31x31xf32>)
// CHECK: linalg.index 3
func.func @positions_after_odd_rows(%x: tensor<1x2x63x63xf32>, %w: tensor<16x2x3x3xf32>, %table: tensor<31xf32>) -> tensor<1x16x31x31xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x16x31x31xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x16x31x31xf32>) -> tensor<1x16x31x31xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>} ins(%x, %w : tensor<1x2x63x63xf32>, tensor<16x2x3x3xf32>) outs(%init : tensor<1x16x31x31xf32>) -> tensor<1x16x31x31xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%conv : tensor<1x16x31x31xf32>) outs(%e : tensor<1x16x31x31xf32>) {
  ^bb0(%in: f32, %out: f32):
    %column = linalg.index 3 : index
    %t = tensor.extract %table[%column] : tensor<31xf32>
    %a = arith.addf %in, %t : f32
    linalg.yield %a : f32
  } -> tensor<1x16x31x31xf32>
  return %shifted : tensor<1x16x31x31xf32>
}

// The convolution's own zero padding is widened (one more column on the
// right) rather than padded again, and a residual add, which reads another
// tensor along the rows, reads the slice.
// CHECK-LABEL: func.func @padded_then_residual
// CHECK: tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 1, 2]
// CHECK-NOT: tensor.pad
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x8x31x32xf32>)
// CHECK: %[[SLICE:.*]] = tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 8, 31, 31] [1, 1, 1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[SLICE]], %{{.*}} : tensor<1x8x31x31xf32>, tensor<1x8x31x31xf32>)
func.func @padded_then_residual(%x: tensor<1x4x31x31xf32>, %w: tensor<8x4x3x3xf32>, %skip: tensor<1x8x31x31xf32>) -> tensor<1x8x31x31xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x4x31x31xf32> to tensor<1x4x33x33xf32>
  %e = tensor.empty() : tensor<1x8x31x31xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x31x31xf32>) -> tensor<1x8x31x31xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%p, %w : tensor<1x4x33x33xf32>, tensor<8x4x3x3xf32>) outs(%init : tensor<1x8x31x31xf32>) -> tensor<1x8x31x31xf32>
  %add = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%conv, %skip : tensor<1x8x31x31xf32>, tensor<1x8x31x31xf32>) outs(%e : tensor<1x8x31x31xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %a = arith.addf %in, %s : f32
    linalg.yield %a : f32
  } -> tensor<1x8x31x31xf32>
  return %add : tensor<1x8x31x31xf32>
}
