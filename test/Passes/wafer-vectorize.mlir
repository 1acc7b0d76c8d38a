// RUN: wafer-opt %s -p 'wafer-fuse,wafer-vectorize{machine=avx512},canonicalize,cse' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-fuse,wafer-vectorize{machine=avx512 register-tile=2,16,1},canonicalize,cse' | filecheck %s --check-prefix=SMALL
// RUN: wafer-opt %s -p 'wafer-fuse{loose-elements=4096},wafer-vectorize{machine=avx512},canonicalize,cse' | filecheck %s --check-prefix=LOOSE
// RUN: wafer-opt %s -p 'wafer-fuse,canonicalize,wafer-vectorize{machine=avx2},canonicalize,cse' | filecheck %s --check-prefix=AVX2
// RUN: wafer-opt %s -p 'wafer-fuse,canonicalize,wafer-vectorize{machine=avx512},canonicalize,cse' | filecheck %s --check-prefix=ONE-TILE

// The fused matmul + bias + relu tile: the matmul becomes a register-blocked
// K loop over 4x32 vector updates, the bias + relu one 8x64 vector op.
// CHECK-LABEL: func.func @linear_relu
// CHECK: scf.forall
// CHECK: vector.transfer_write %{{.*}} : vector<8x64xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// CHECK: scf.for %{{.*}} = %{{.*}} to %c784 step %c1
// CHECK: vector.transfer_read {{.*}} : tensor<4x32xf32>, vector<4x32xf32>
// CHECK: arith.addf %{{.*}}, %{{.*}} : vector<4x32xf32>
// CHECK: arith.maximumf %{{.*}}, %{{.*}} : vector<8x64xf32>
// CHECK-NOT: linalg.
// SMALL-LABEL: func.func @linear_relu
// SMALL: arith.addf %{{.*}}, %{{.*}} : vector<2x16xf32>
func.func @linear_relu(%a: tensor<16x784xf32>, %w: tensor<784x512xf32>, %b: tensor<512xf32>) -> tensor<16x512xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x512xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<16x512xf32>) -> tensor<16x512xf32>
  %m = linalg.matmul ins(%a, %w : tensor<16x784xf32>, tensor<784x512xf32>) outs(%f : tensor<16x512xf32>) -> tensor<16x512xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%m, %b : tensor<16x512xf32>, tensor<512xf32>) outs(%e : tensor<16x512xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %s = arith.addf %in, %bias : f32
    %y = arith.maximumf %s, %cst : f32
    linalg.yield %y : f32
  } -> tensor<16x512xf32>
  return %r : tensor<16x512xf32>
}

// M = 3 and N = 10 do not divide the register tile: the block shrinks to 3x10,
// so every vector stays static.
// CHECK-LABEL: func.func @odd_sizes
// CHECK: vector<3x10xf32>
func.func @odd_sizes(%a: tensor<3x7xf32>, %w: tensor<7x10xf32>, %c: tensor<3x10xf32>) -> tensor<3x10xf32> {
  %r = linalg.matmul ins(%a, %w : tensor<3x7xf32>, tensor<7x10xf32>) outs(%c : tensor<3x10xf32>) -> tensor<3x10xf32>
  return %r : tensor<3x10xf32>
}

// Dynamic shapes stay scalar: the matmul is left as it is.
// CHECK-LABEL: func.func @dynamic
// CHECK: linalg.matmul
func.func @dynamic(%a: tensor<?x7xf32>, %w: tensor<7x10xf32>, %c: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %r = linalg.matmul ins(%a, %w : tensor<?x7xf32>, tensor<7x10xf32>) outs(%c : tensor<?x10xf32>) -> tensor<?x10xf32>
  return %r : tensor<?x10xf32>
}

// A row reduction tile (softmax's row sum) is vectorized a row at a time: one
// vector.reduction, reassociated so that LLVM sums a row as a tree of vector adds.
// CHECK-LABEL: func.func @row_sum
// CHECK: scf.forall
// CHECK: scf.for %{{.*}} = %c0 to %c8 step %c1
// CHECK: vector.transfer_read {{.*}} : tensor<1x100xf32>, vector<1x100xf32>
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} fastmath<reassoc> : vector<100xf32> into f32
// CHECK-NOT: linalg.generic
func.func @row_sum(%x: tensor<16x100xf32>) -> tensor<16x1xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x1xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<16x1xf32>) -> tensor<16x1xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<16x100xf32>) outs(%f : tensor<16x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<16x1xf32>
  return %r : tensor<16x1xf32>
}

// A row of more than four vectors (softmax's max over 384 keys) is folded
// chunk after chunk into four vectors before the tree that reduces them, so
// that its loads come in address order (with AVX2, twelve chunks of four 8-lane
// vectors). A ragged row is left to the tree.
// CHECK-LABEL: func.func @row_max_in_order
// CHECK: %[[CHUNKS:.*]] = vector.shape_cast %{{.*}} : vector<{{.*}}384xf32> to vector<6x64xf32>
// CHECK: %[[FIRST:.*]] = vector.extract %[[CHUNKS]][0] : vector<64xf32> from vector<6x64xf32>
// CHECK: %[[SECOND:.*]] = vector.extract %[[CHUNKS]][1] : vector<64xf32> from vector<6x64xf32>
// CHECK: %[[FOLDED:.*]] = arith.maximumf %[[FIRST]], %[[SECOND]] : vector<64xf32>
// CHECK-COUNT-4: arith.maximumf %{{.*}} : vector<64xf32>
// CHECK: vector.reduction <maximumf>, %{{.*}}, %{{.*}} fastmath<reassoc> : vector<64xf32> into f32
// AVX2-LABEL: func.func @row_max_in_order
// AVX2: vector.shape_cast %{{.*}} : vector<{{.*}}384xf32> to vector<12x32xf32>
// AVX2: vector.reduction <maximumf>, %{{.*}}, %{{.*}} fastmath<reassoc> : vector<32xf32> into f32
func.func @row_max_in_order(%x: tensor<16x384xf32>) -> tensor<16x1xf32> {
  %cst = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<16x1xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<16x1xf32>) -> tensor<16x1xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<16x384xf32>) outs(%f : tensor<16x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<16x1xf32>
  return %r : tensor<16x1xf32>
}

// A fused elementwise tile that reads a kept unit dim back (x - a per-row value)
// is vectorized when its rows are whole 16-lane vectors... The per-row values
// are read as a column and broadcast along the rows: a read broadcasting its
// last dim lowered to one lane inserted at a time, through the stack.
// CHECK-LABEL: func.func @matmul_minus_row_32
// CHECK: scf.forall
// CHECK: %[[ROWS:.*]] = vector.transfer_read {{.*}} : tensor<8x1xf32>, vector<8x1xf32>
// CHECK: %[[SPREAD:.*]] = vector.broadcast %[[ROWS]] : vector<8x1xf32> to vector<8x32xf32>
// CHECK: arith.subf %{{.*}}, %[[SPREAD]] : vector<8x32xf32>
// CHECK-NOT: linalg.generic
func.func @matmul_minus_row_32(%a: tensor<16x8xf32>, %w: tensor<8x32xf32>, %m: tensor<16x1xf32>) -> tensor<16x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x32xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<16x32xf32>) -> tensor<16x32xf32>
  %p = linalg.matmul ins(%a, %w : tensor<16x8xf32>, tensor<8x32xf32>) outs(%f : tensor<16x32xf32>) -> tensor<16x32xf32>
  %d = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p, %m : tensor<16x32xf32>, tensor<16x1xf32>) outs(%e : tensor<16x32xf32>) {
  ^bb0(%in: f32, %row: f32, %out: f32):
    %r = arith.subf %in, %row : f32
    linalg.yield %r : f32
  } -> tensor<16x32xf32>
  return %d : tensor<16x32xf32>
}

// ...and left to the scalar loop when they are ragged (56 = 3.5 vectors, like
// batch norm's per-channel scale over a 56-pixel row), where its vector form was slower.
// CHECK-LABEL: func.func @matmul_minus_row_56
// CHECK: scf.forall
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.subf {{.*}} : f32
func.func @matmul_minus_row_56(%a: tensor<16x8xf32>, %w: tensor<8x56xf32>, %m: tensor<16x1xf32>) -> tensor<16x56xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x56xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<16x56xf32>) -> tensor<16x56xf32>
  %p = linalg.matmul ins(%a, %w : tensor<16x8xf32>, tensor<8x56xf32>) outs(%f : tensor<16x56xf32>) -> tensor<16x56xf32>
  %d = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p, %m : tensor<16x56xf32>, tensor<16x1xf32>) outs(%e : tensor<16x56xf32>) {
  ^bb0(%in: f32, %row: f32, %out: f32):
    %r = arith.subf %in, %row : f32
    linalg.yield %r : f32
  } -> tensor<16x56xf32>
  return %d : tensor<16x56xf32>
}

// A tiled transpose becomes one vector read, a transpose of its outer dims
// and one vector write per tile: rows of 64 lanes, no scalar loop.
// LOOSE-LABEL: func.func @transpose_tiles
// LOOSE: scf.forall
// LOOSE: %[[ROWS:.*]] = vector.transfer_read {{.*}} : tensor<8x1x64xf32>, vector<8x1x64xf32>
// LOOSE: %[[T:.*]] = vector.transpose %[[ROWS]], [1, 0, 2] : vector<8x1x64xf32> to vector<1x8x64xf32>
// LOOSE: vector.transfer_write %[[T]]
// LOOSE-NOT: linalg.transpose
func.func @transpose_tiles(%a: tensor<16x16x64xf32>) -> tensor<16x16x64xf32> {
  %e = tensor.empty() : tensor<16x16x64xf32>
  %t = linalg.transpose ins(%a : tensor<16x16x64xf32>) outs(%e : tensor<16x16x64xf32>) permutation = [1, 0, 2]
  return %t : tensor<16x16x64xf32>
}

// A transpose of the innermost dims would gather one lane at a time: its
// tiles stay linalg ops, which LLVM turns into loops of its own.
// LOOSE-LABEL: func.func @transpose_rows_into_columns
// LOOSE: scf.forall
// LOOSE: linalg.transpose {{.*}} permutation = [0, 2, 1]
// LOOSE-NOT: vector.transpose
func.func @transpose_rows_into_columns(%a: tensor<16x64x16xf32>) -> tensor<16x16x64xf32> {
  %e = tensor.empty() : tensor<16x16x64xf32>
  %t = linalg.transpose ins(%a : tensor<16x64x16xf32>) outs(%e : tensor<16x16x64xf32>) permutation = [0, 2, 1]
  return %t : tensor<16x16x64xf32>
}

// A tile of 28 rows of 128 (wafer-fuse's whole rows) whose body computes a math
// function is cut into pieces of one row of 64 (4 vectors): as one vector the
// exponential's polynomial would expand over more values than the registers hold.
// LOOSE-LABEL: func.func @exp_tile_in_rows
// LOOSE: scf.forall (%{{.*}}) in (2)
// LOOSE: scf.for %{{.*}} = %c0 to %c28 step %c1
// LOOSE: scf.for %{{.*}} = %c0 to %c128 step %c64
// LOOSE: math.exp %{{.*}} : vector<1x1x64xf32>
// LOOSE-NOT: vector<1x28x128xf32>
func.func @exp_tile_in_rows(%x: tensor<2x28x128xf32>) -> tensor<2x28x128xf32> {
  %e = tensor.empty() : tensor<2x28x128xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<2x28x128xf32>) outs(%e : tensor<2x28x128xf32>) {
  ^bb0(%v: f32, %o: f32):
    %y = math.exp %v : f32
    linalg.yield %y : f32
  } -> tensor<2x28x128xf32>
  return %r : tensor<2x28x128xf32>
}

// A row reduction whose rows fill a single tile is left without a loop
// (canonicalize drops wafer-fuse's one-trip loop); it is still vectorized a
// row at a time: the exponential over vectors, not one scalar at a time, its
// ragged rows of 300 in pieces of 64 and a last one of 44 (see below).
// ONE-TILE-LABEL: func.func @exp_row_sum_in_one_tile
// ONE-TILE-NOT: scf.forall
// ONE-TILE: scf.for %{{.*}} = %c0 to %c8 step %c1
// ONE-TILE: scf.for %{{.*}} = %c0 to %c256 step %c64
// ONE-TILE: math.exp %{{.*}} : vector<1x64xf32>
// ONE-TILE: vector.reduction <add>, %{{.*}}, %{{.*}} fastmath<reassoc> : vector<64xf32> into f32
// ONE-TILE: math.exp %{{.*}} : vector<1x44xf32>
// ONE-TILE: vector.reduction <add>, %{{.*}}, %{{.*}} fastmath<reassoc> : vector<44xf32> into f32
// ONE-TILE-NOT: linalg.generic
func.func @exp_row_sum_in_one_tile(%x: tensor<8x300xf32>) -> tensor<8xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x300xf32>) outs(%f : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = math.exp %in : f32
    %s = arith.addf %v, %out : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// A row longer than max-row-elements (a group norm's 8 groups of 64 channels
// of 98 pixels: 6272) is reduced in chunks that fit half the vector registers:
// 224 (14 vectors) with AVX-512, 64 (8 vectors) with AVX2, each chunk's sum
// added to the row's. LLVM kept the whole row scalar. A chunk is folded into
// vectors as a row is (above): two of 16 lanes divide 224, four of 8 lanes 64.
// ONE-TILE-LABEL: func.func @long_row_sum
// ONE-TILE: scf.for %{{.*}} = %c0 to %c4 step %c1
// ONE-TILE: scf.for %{{.*}} = %c0 to %c6272 step %c224
// ONE-TILE: vector.shape_cast %{{.*}} : vector<{{.*}}224xf32> to vector<7x32xf32>
// ONE-TILE: vector.reduction <add>, %{{.*}}, %{{.*}} fastmath<reassoc> : vector<32xf32> into f32
// ONE-TILE-NOT: linalg.generic
// AVX2-LABEL: func.func @long_row_sum
// AVX2: scf.for %{{.*}} = %c0 to %c6272 step %c64
// AVX2: vector.shape_cast %{{.*}} : vector<{{.*}}64xf32> to vector<2x32xf32>
// AVX2: vector.reduction <add>, %{{.*}}, %{{.*}} fastmath<reassoc> : vector<32xf32> into f32
func.func @long_row_sum(%x: tensor<4x6272xf32>) -> tensor<4xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x6272xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// Ragged rows longer than four vectors are cut into pieces of 64 lanes, and
// the loop over the pieces peeled, so that the last piece (40 of 1000) is a
// static vector too: a whole-tile op's rows (wafer-fuse-rows' softmax
// exponentials), and the reduced rows of a reduction computing a math
// function (log-softmax's sum of exponentials). As one vector<1000> the
// exponential's polynomial spilled to the stack.
// CHECK-LABEL: func.func @ragged_whole_tile
// CHECK: scf.forall
// CHECK: scf.for %{{.*}} = %c0 to %c960 step %c64
// CHECK: math.exp %{{.*}} : vector<1x64xf32>
// CHECK: math.exp %{{.*}} : vector<1x40xf32>
// CHECK-NOT: vector<1x1000xf32>
// CHECK-LABEL: func.func @exp_sum_of_ragged_rows
// CHECK: scf.for %{{.*}} = %c0 to %c960 step %c64
// CHECK: math.exp %{{.*}} : vector<1x64xf32>
// CHECK: math.exp %{{.*}} : vector<1x40xf32>
// CHECK-NOT: vector<1000xf32>
func.func @ragged_whole_tile(%x: tensor<4x1000xf32>) -> tensor<4x1000xf32> {
  %e = tensor.empty() : tensor<4x1000xf32>
  %r = scf.forall (%i) in (4) shared_outs(%o = %e) -> (tensor<4x1000xf32>) {
    %s = tensor.extract_slice %x[%i, 0] [1, 1000] [1, 1] : tensor<4x1000xf32> to tensor<1x1000xf32>
    %os = tensor.extract_slice %o[%i, 0] [1, 1000] [1, 1] : tensor<4x1000xf32> to tensor<1x1000xf32>
    %g = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                         iterator_types = ["parallel", "parallel"]} ins(%s : tensor<1x1000xf32>)
        outs(%os : tensor<1x1000xf32>) attrs = {wafer.whole_tile} {
    ^bb0(%v: f32, %out: f32):
      %y = math.exp %v : f32
      linalg.yield %y : f32
    } -> tensor<1x1000xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %g into %o[%i, 0] [1, 1000] [1, 1] : tensor<1x1000xf32> into tensor<4x1000xf32>
    }
  }
  return %r : tensor<4x1000xf32>
}

func.func @exp_sum_of_ragged_rows(%x: tensor<4x1000xf32>) -> tensor<4xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x1000xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %y = math.exp %v : f32
    %s = arith.addf %y, %acc : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}
