// RUN: wafer-opt %s -p 'wafer-depthwise-conv{machine=avx512},canonicalize,cse' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-depthwise-conv{machine=avx2},canonicalize,cse' | filecheck %s --check-prefix=AVX2

// MobileNet's depthwise 3x3: one scf.forall iteration per channel plane. The
// zero padding is read through: no padded copy, no fill of the init. The first
// output row skips the filter row above the image; each row's 16 outputs are
// one vector<16> summed over the taps, each an FMA of the tap's broadcast weight
// and an input row read in place; the left edge shifts a zero in, the right edge
// is a masked read. Rows 1 to 14 are a loop; the last row skips the row below.
// CHECK-LABEL: func.func @padded_stride1
// CHECK-SAME: wafer.strategy = ["depthwise conv 3x3/1: rows of 16 in 1 x vector<16>, serial"]
// CHECK-NOT: tensor.pad
// CHECK-NOT: linalg.fill
// CHECK: %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK: scf.forall (%[[C:.*]]) in (8) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1x8x16x16xf32>)
// CHECK: %[[W00:.*]] = tensor.extract %{{.*}}[%[[C]], %c0, %c0] : tensor<8x3x3xf32>
// CHECK: %[[W10:.*]] = tensor.extract %{{.*}}[%[[C]], %c1, %c0] : tensor<8x3x3xf32>
// CHECK: %[[S10:.*]] = vector.broadcast %[[W10]] : f32 to vector<16xf32>
// CHECK: %[[TILE:.*]] = tensor.extract_slice %[[OUT]][0, %[[C]], 0, 0] [1, 1, 16, 16]
// CHECK: %[[ROW0:.*]] = vector.transfer_read %arg0[%c0, %[[C]], %c0, %c0], %{{.*}} {in_bounds = [true]} : tensor<1x8x16x16xf32>, vector<16xf32>
// CHECK-NEXT: %[[LEFT:.*]] = vector.shuffle %[[ROW0]], %[[ZEROS]] [16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
// CHECK-NEXT: %[[ACC:.*]] = vector.fma %[[LEFT]], %[[S10]], %[[ZEROS]] : vector<16xf32>
// CHECK-NEXT: vector.fma %[[ROW0]], %{{.*}}, %[[ACC]] : vector<16xf32>
// CHECK-NEXT: vector.transfer_read %arg0[%c0, %[[C]], %c0, %c1], %{{.*}} : tensor<1x8x16x16xf32>, vector<16xf32>
// CHECK: %[[FIRST:.*]] = vector.transfer_write %{{.*}}, %[[TILE]][%c0, %c0, %c0, %c0] {in_bounds = [true]} : vector<16xf32>, tensor<1x1x16x16xf32>
// CHECK: %[[ROWS:.*]] = scf.for %[[ROW:.*]] = %c1 to %c15 step %c1 iter_args(%{{.*}} = %[[FIRST]]) -> (tensor<1x1x16x16xf32>)
// CHECK: %[[ABOVE:.*]] = arith.addi %[[ROW]], %c-1 : index
// CHECK: vector.transfer_read %arg0[%c0, %[[C]], %[[ABOVE]], %c0]
// CHECK-COUNT-9: vector.fma
// CHECK: scf.yield
// CHECK: %[[LAST:.*]] = vector.transfer_write %{{.*}}, %[[ROWS]][%c0, %c0, %c15, %c0]
// CHECK: tensor.parallel_insert_slice %[[LAST]] into %[[OUT]][0, %[[C]], 0, 0] [1, 1, 16, 16]
// CHECK: } {wafer.serial}
// CHECK-NOT: linalg.depthwise_conv_2d_nchw_chw
// With AVX2's 8 lanes a row is two vectors.
// AVX2-LABEL: func.func @padded_stride1
// AVX2-SAME: "depthwise conv 3x3/1: rows of 16 in 2 x vector<8>, serial"
func.func @padded_stride1(%x: tensor<1x8x16x16xf32>, %w: tensor<8x3x3xf32>) -> tensor<1x8x16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x8x16x16xf32> to tensor<1x8x18x18xf32>
  %empty = tensor.empty() : tensor<1x8x16x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32>
  %r = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %w : tensor<1x8x18x18xf32>, tensor<8x3x3xf32>) outs(%init : tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32>
  return %r : tensor<1x8x16x16xf32>
}

// Stride 2 with a per-channel bias: the accumulators start from the bias,
// broadcast, and each input run is two vectors wide, split into its even and
// odd columns by vector.deinterleave.
// CHECK-LABEL: func.func @stride2_bias
// CHECK-SAME: "depthwise conv 3x3/2: rows of 16 in 1 x vector<16>, serial"
// CHECK-NOT: linalg.broadcast
// CHECK: scf.forall (%[[N:.*]], %[[C:.*]]) in (2, 4)
// CHECK: %[[B:.*]] = tensor.extract %arg2[%[[C]]] : tensor<4xf32>
// CHECK: %[[BIAS:.*]] = vector.broadcast %[[B]] : f32 to vector<16xf32>
// CHECK: scf.for %[[ROW:.*]] = %c1 to %c16 step %c1
// CHECK: %[[TOP:.*]] = arith.muli %[[ROW]], %c2 : index
// CHECK: %[[PAIR:.*]] = vector.transfer_read %arg0[%[[N]], %[[C]], %{{.*}}, %c0], %{{.*}} {in_bounds = [true]} : tensor<2x4x32x32xf32>, vector<32xf32>
// CHECK-NEXT: %[[SHIFTED:.*]] = vector.shuffle %[[PAIR]], %{{.*}} [32, 32, 0, 1, 2
// CHECK-NEXT: %{{.*}}, %[[ODD:.*]] = vector.deinterleave %[[SHIFTED]] : vector<32xf32> -> vector<16xf32>
// CHECK-NEXT: vector.fma %[[ODD]], %{{.*}}, %[[BIAS]] : vector<16xf32>
// CHECK-NEXT: vector.deinterleave %[[PAIR]] : vector<32xf32> -> vector<16xf32>
func.func @stride2_bias(%x: tensor<2x4x32x32xf32>, %w: tensor<4x3x3xf32>, %b: tensor<4xf32>) -> tensor<2x4x16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x4x32x32xf32> to tensor<2x4x34x34xf32>
  %empty = tensor.empty() : tensor<2x4x16x16xf32>
  %init = linalg.broadcast ins(%b : tensor<4xf32>) outs(%empty : tensor<2x4x16x16xf32>) dimensions = [0, 2, 3]
  %r = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
      ins(%padded, %w : tensor<2x4x34x34xf32>, tensor<4x3x3xf32>) outs(%init : tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  return %r : tensor<2x4x16x16xf32>
}

// An init that is neither a fill nor a bias broadcast is read: each piece's
// accumulator starts from the output tile, and a row of 13 is one ragged
// vector<13> (no piece may overlap another, which would add its taps twice).
// CHECK-LABEL: func.func @init_read
// CHECK-SAME: "depthwise conv 3x3/1: rows of 13 in a vector<13> remainder, serial"
// CHECK: scf.forall (%[[C:.*]]) in (4) shared_outs(%[[OUT:.*]] = %arg2)
// CHECK: scf.for %[[ROW:.*]] = %c0 to %c13 step %c1 iter_args(%[[TILE:.*]] = %{{.*}})
// CHECK-NEXT: %[[ACC:.*]] = vector.transfer_read %[[TILE]][%c0, %c0, %[[ROW]], %c0], %{{.*}} : tensor<1x1x13x13xf32>, vector<13xf32>
// CHECK-NEXT: %[[X:.*]] = vector.transfer_read %arg0[%c0, %[[C]], %[[ROW]], %c0], %{{.*}} : tensor<1x4x15x15xf32>, vector<13xf32>
// CHECK-NEXT: vector.fma %[[X]], %{{.*}}, %[[ACC]] : vector<13xf32>
func.func @init_read(%x: tensor<1x4x15x15xf32>, %w: tensor<4x3x3xf32>, %init: tensor<1x4x13x13xf32>) -> tensor<1x4x13x13xf32> {
  %r = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x4x15x15xf32>, tensor<4x3x3xf32>) outs(%init : tensor<1x4x13x13xf32>) -> tensor<1x4x13x13xf32>
  return %r : tensor<1x4x13x13xf32>
}

// A row narrower than a vector, with a fill init: two overlapping vector<4>
// pieces, columns 0-3 and 3-6, their FMAs interleaved.
// CHECK-LABEL: func.func @narrow
// CHECK-SAME: "depthwise conv 3x3/1: rows of 7 in 2 x vector<4>, the last overlapping by 1, serial"
// CHECK: scf.for %[[ROW:.*]] = %c0 to %c7
// CHECK-NEXT: vector.transfer_read %arg0[%c0, %{{.*}}, %[[ROW]], %c0], {{.*}} vector<4xf32>
// CHECK-NEXT: vector.fma
// CHECK-NEXT: vector.transfer_read %arg0[%c0, %{{.*}}, %[[ROW]], %c3], {{.*}} vector<4xf32>
// CHECK-NEXT: vector.fma
// CHECK: vector.transfer_write %{{.*}}[%c0, %c0, %[[ROW]], %c0] {in_bounds = [true]} : vector<4xf32>
// CHECK-NEXT: vector.transfer_write %{{.*}}[%c0, %c0, %[[ROW]], %c3] {in_bounds = [true]} : vector<4xf32>
func.func @narrow(%x: tensor<1x4x9x9xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x4x7x7xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x4x7x7xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x4x7x7xf32>) -> tensor<1x4x7x7xf32>
  %r = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x4x9x9xf32>, tensor<4x3x3xf32>) outs(%init : tensor<1x4x7x7xf32>) -> tensor<1x4x7x7xf32>
  return %r : tensor<1x4x7x7xf32>
}

// With AVX2, a row of 80 is 10 vectors: the first reads the left padding, the
// last the right; the 8 between loop in blocks of 4 (a quarter of the 16
// registers), 4 accumulators whose FMAs interleave tap by tap.
// AVX2-LABEL: func.func @row_blocks
// AVX2-SAME: "depthwise conv 3x3/1: rows of 80 in 10 x vector<8>, serial"
// AVX2: scf.for %[[ROW:.*]] = %c1 to %c5 step %c1
// AVX2: vector.shuffle
// AVX2: scf.for %[[COL:.*]] = %c8 to %c72 step %c32
// AVX2-COUNT-4: vector.fma %{{.*}}, %{{.*}}, %cst{{.*}} : vector<8xf32>
// AVX2-COUNT-32: vector.fma
// AVX2: scf.yield
// CHECK-LABEL: func.func @row_blocks
// CHECK-SAME: "depthwise conv 3x3/1: rows of 80 in 5 x vector<16>, serial"
func.func @row_blocks(%x: tensor<1x2x6x80xf32>, %w: tensor<2x3x3xf32>) -> tensor<1x2x6x80xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x2x6x80xf32> to tensor<1x2x8x82xf32>
  %empty = tensor.empty() : tensor<1x2x6x80xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2x6x80xf32>) -> tensor<1x2x6x80xf32>
  %r = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %w : tensor<1x2x8x82xf32>, tensor<2x3x3xf32>) outs(%init : tensor<1x2x6x80xf32>) -> tensor<1x2x6x80xf32>
  return %r : tensor<1x2x6x80xf32>
}

// A column stride of 3 has no vector form here, and a dynamic shape no static
// plan: both are left to wafer-fuse.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: wafer.strategy
// CHECK: linalg.depthwise_conv_2d_nchw_chw {{.*}} strides = dense<3>
// CHECK: linalg.depthwise_conv_2d_nchw_chw {{.*}} tensor<?x4x9x9xf32>
func.func @left_alone(%x: tensor<1x4x9x9xf32>, %w: tensor<4x3x3xf32>, %init: tensor<1x4x3x3xf32>,
                      %dx: tensor<?x4x9x9xf32>, %dinit: tensor<?x4x7x7xf32>) -> (tensor<1x4x3x3xf32>, tensor<?x4x7x7xf32>) {
  %r = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<3> : vector<2xi64>}
      ins(%x, %w : tensor<1x4x9x9xf32>, tensor<4x3x3xf32>) outs(%init : tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  %d = linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%dx, %w : tensor<?x4x9x9xf32>, tensor<4x3x3xf32>) outs(%dinit : tensor<?x4x7x7xf32>) -> tensor<?x4x7x7xf32>
  return %r, %d : tensor<1x4x3x3xf32>, tensor<?x4x7x7xf32>
}
