// RUN: wafer-opt %s --split-input-file -p 'wafer-fuse-epilogues,func.func(canonicalize,cse)' | filecheck %s

// A packed matmul's tiles (4 x 2 tiles of [8, 8, 1, 32] cover [32, 8, 2, 32]),
// then a bias (read along the last two dims) and ReLU: the epilogue moves
// into the loop and updates each tile in place, a 32-lane row at a time,
// with the tile's slice of the bias; nothing is left after the loop.
// CHECK-LABEL: func.func @bias_relu
// CHECK-SAME: (%[[BIAS:.*]]: tensor<2x32xf32>)
// CHECK-SAME: wafer.strategy = ["epilogue addf, maximumf per 8x8x1x32 tile"]
// CHECK: scf.forall (%[[I:.*]], %[[J:.*]]) in (4, 2)
// CHECK: %[[ROW0:.*]] = affine.apply #{{.*}}(%[[I]])
// CHECK: %[[TILE:.*]] = linalg.fill
// CHECK: %[[PIECE:.*]] = tensor.extract_slice %[[BIAS]][%[[J]], 0] [1, 32] [1, 1]
// CHECK: %[[DONE:.*]] = scf.for {{.*}} iter_args(%[[T0:.*]] = %[[TILE]])
// CHECK: scf.for
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x32xf32>) outs(%{{.*}} : tensor<1x1x1x32xf32>)
// CHECK-NEXT: ^bb0(%[[B:.*]]: f32, %[[C:.*]]: f32):
// CHECK-NEXT: arith.addf %[[C]], %[[B]]
// CHECK: tensor.parallel_insert_slice %[[DONE]] into %{{.*}}[%[[ROW0]], 0, %[[J]], 0] [8, 8, 1, 32]
// CHECK-NOT: linalg.generic
// CHECK: return
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#bias = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
func.func @bias_relu(%bias: tensor<2x32xf32>) -> tensor<32x8x2x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32x8x2x32xf32>
  %c = scf.forall (%i, %j) in (4, 2) shared_outs(%out = %e) -> (tensor<32x8x2x32xf32>) {
    %row = affine.apply affine_map<(d0) -> (d0 * 8)>(%i)
    %slot = tensor.extract_slice %out[%row, 0, %j, 0] [8, 8, 1, 32] [1, 1, 1, 1] : tensor<32x8x2x32xf32> to tensor<8x8x1x32xf32>
    %tile = linalg.fill ins(%zero : f32) outs(%slot : tensor<8x8x1x32xf32>) -> tensor<8x8x1x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[%row, 0, %j, 0] [8, 8, 1, 32] [1, 1, 1, 1] : tensor<8x8x1x32xf32> into tensor<32x8x2x32xf32>
    }
  }
  %r = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c, %bias : tensor<32x8x2x32xf32>, tensor<2x32xf32>) outs(%e : tensor<32x8x2x32xf32>) {
  ^bb0(%x: f32, %b: f32, %o: f32):
    %s = arith.addf %x, %b : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<32x8x2x32xf32>
  return %r : tensor<32x8x2x32xf32>
}

// -----

// Batch norm's per-channel scale is [1, C, 1, 1], read at 0 in its unit dims;
// the rows' offsets are muli of the induction variable (wafer-winograd's).
// The scale made after the loop moves before it, to be sliced in it.
// CHECK-LABEL: func.func @channel_scale
// CHECK: %[[SCALE:.*]] = tensor.expand_shape
// CHECK: scf.forall
// CHECK: tensor.extract_slice %[[SCALE]][0, %{{.*}}, 0, 0] [1, 1, 1, 1]
// CHECK: linalg.generic
// CHECK: tensor.parallel_insert_slice
// CHECK-NOT: linalg.generic
func.func @channel_scale(%s: tensor<4xf32>) -> tensor<1x4x6x8xf32> {
  %c2 = arith.constant 2 : index
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<1x4x6x8xf32>
  %c = scf.forall (%i) in (3) shared_outs(%out = %e) -> (tensor<1x4x6x8xf32>) {
    %row = arith.muli %i, %c2 : index
    %slot = tensor.extract_slice %out[0, 0, %row, 0] [1, 4, 2, 8] [1, 1, 1, 1] : tensor<1x4x6x8xf32> to tensor<1x4x2x8xf32>
    %tile = linalg.fill ins(%one : f32) outs(%slot : tensor<1x4x2x8xf32>) -> tensor<1x4x2x8xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[0, 0, %row, 0] [1, 4, 2, 8] [1, 1, 1, 1] : tensor<1x4x2x8xf32> into tensor<1x4x6x8xf32>
    }
  }
  %scale = tensor.expand_shape %s [[0, 1, 2, 3]] output_shape [1, 4, 1, 1] : tensor<4xf32> into tensor<1x4x1x1xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (0, c, 0, 0)>,
                                        affine_map<(n, c, h, w) -> (n, c, h, w)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c, %scale : tensor<1x4x6x8xf32>, tensor<1x4x1x1xf32>) outs(%e : tensor<1x4x6x8xf32>) {
  ^bb0(%x: f32, %k: f32, %o: f32):
    %m = arith.mulf %x, %k : f32
    linalg.yield %m : f32
  } -> tensor<1x4x6x8xf32>
  return %r : tensor<1x4x6x8xf32>
}

// -----

// Left alone: tiles that leave rows unwritten (3 tiles of 1 row, 4 rows), an
// epilogue that reads its init, and one that transposes the loop's result.
// CHECK-LABEL: func.func @rows_not_covered
// CHECK: scf.forall
// CHECK: }
// CHECK: linalg.generic
// CHECK-LABEL: func.func @reads_its_init
// CHECK: scf.forall
// CHECK: }
// CHECK: linalg.generic
// CHECK-LABEL: func.func @transposes_the_result
// CHECK: scf.forall
// CHECK: }
// CHECK: linalg.generic
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#t2 = affine_map<(d0, d1) -> (d1, d0)>
func.func @rows_not_covered(%init: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %one = arith.constant 1.0 : f32
  %c = scf.forall (%i) in (3) shared_outs(%out = %init) -> (tensor<4x4xf32>) {
    %slot = tensor.extract_slice %out[%i, 0] [1, 4] [1, 1] : tensor<4x4xf32> to tensor<1x4xf32>
    %tile = linalg.fill ins(%one : f32) outs(%slot : tensor<1x4xf32>) -> tensor<1x4xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[%i, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<4x4xf32>
    }
  }
  %e = tensor.empty() : tensor<4x4xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%c : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %m = arith.addf %x, %one : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}
func.func @reads_its_init(%init: tensor<4x4xf32>, %acc: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %one = arith.constant 1.0 : f32
  %c = scf.forall (%i) in (4) shared_outs(%out = %init) -> (tensor<4x4xf32>) {
    %slot = tensor.extract_slice %out[%i, 0] [1, 4] [1, 1] : tensor<4x4xf32> to tensor<1x4xf32>
    %tile = linalg.fill ins(%one : f32) outs(%slot : tensor<1x4xf32>) -> tensor<1x4xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[%i, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<4x4xf32>
    }
  }
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%c : tensor<4x4xf32>) outs(%acc : tensor<4x4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %m = arith.addf %x, %o : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}
func.func @transposes_the_result(%init: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %one = arith.constant 1.0 : f32
  %c = scf.forall (%i) in (4) shared_outs(%out = %init) -> (tensor<4x4xf32>) {
    %slot = tensor.extract_slice %out[%i, 0] [1, 4] [1, 1] : tensor<4x4xf32> to tensor<1x4xf32>
    %tile = linalg.fill ins(%one : f32) outs(%slot : tensor<1x4xf32>) -> tensor<1x4xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[%i, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<4x4xf32>
    }
  }
  %e = tensor.empty() : tensor<4x4xf32>
  %r = linalg.generic {indexing_maps = [#t2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%c : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %m = arith.addf %x, %one : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}

// -----

// A packed convolution's result, [image, channel blocks, 8, pixel blocks, 16],
// read as NCHW through a collapse and an expand, as wafer-pack-matmul leaves
// it: each tile [1, 2, 8, 2, 16] is the box [1, 16, 4, 8] of the NCHW result
// (all 16 channels, 4 of the 8 image rows), so the batch norm moves into the
// loop. The tile is reshaped to that box (canonicalize moves the fill after
// the reshapes), updated a row at a time with its channel's shift, and
// reshaped back.
// CHECK-LABEL: func.func @through_reshapes
// CHECK-SAME: wafer.strategy = ["epilogue addf per 1x16x4x8 tile"]
// CHECK: scf.forall (%[[IMAGE:.*]], %[[PIXELS:.*]]) in (2, 2)
// CHECK: %[[SLOT:.*]] = tensor.extract_slice
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[SLOT]] {{\[}}[0], [1, 2], [3, 4]] : tensor<1x2x8x2x16xf32> into tensor<1x16x32xf32>
// CHECK: %[[BOX:.*]] = tensor.expand_shape %[[FLAT]] {{\[}}[0], [1], [2, 3]] output_shape [1, 16, 4, 8]
// CHECK: %[[TILE:.*]] = linalg.fill {{.*}} outs(%[[BOX]]
// CHECK: %[[DONE:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[TILE]])
// CHECK: arith.addf
// CHECK: %[[BACK:.*]] = tensor.collapse_shape %[[DONE]] {{\[}}[0], [1], [2, 3]] : tensor<1x16x4x8xf32> into tensor<1x16x32xf32>
// CHECK: %[[PACKED:.*]] = tensor.expand_shape %[[BACK]] {{\[}}[0], [1, 2], [3, 4]] output_shape [1, 2, 8, 2, 16]
// CHECK: tensor.parallel_insert_slice %[[PACKED]]
// CHECK-NOT: linalg.generic
// CHECK: return
#nchw = affine_map<(n, c, h, w) -> (n, c, h, w)>
#channel = affine_map<(n, c, h, w) -> (0, c, 0, 0)>
func.func @through_reshapes(%shift: tensor<1x16x1x1xf32>) -> tensor<2x16x8x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2x8x4x16xf32>
  %c = scf.forall (%i, %j) in (2, 2) shared_outs(%out = %e) -> (tensor<2x2x8x4x16xf32>) {
    %blocks = affine.apply affine_map<(d0) -> (d0 * 2)>(%j)
    %slot = tensor.extract_slice %out[%i, 0, 0, %blocks, 0] [1, 2, 8, 2, 16] [1, 1, 1, 1, 1] : tensor<2x2x8x4x16xf32> to tensor<1x2x8x2x16xf32>
    %tile = linalg.fill ins(%zero : f32) outs(%slot : tensor<1x2x8x2x16xf32>) -> tensor<1x2x8x2x16xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[%i, 0, 0, %blocks, 0] [1, 2, 8, 2, 16] [1, 1, 1, 1, 1] : tensor<1x2x8x2x16xf32> into tensor<2x2x8x4x16xf32>
    }
  }
  %flat = tensor.collapse_shape %c [[0], [1, 2], [3, 4]] : tensor<2x2x8x4x16xf32> into tensor<2x16x64xf32>
  %image = tensor.expand_shape %flat [[0], [1], [2, 3]] output_shape [2, 16, 8, 8] : tensor<2x16x64xf32> into tensor<2x16x8x8xf32>
  %init = tensor.empty() : tensor<2x16x8x8xf32>
  %r = linalg.generic {indexing_maps = [#nchw, #channel, #nchw], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%image, %shift : tensor<2x16x8x8xf32>, tensor<1x16x1x1xf32>) outs(%init : tensor<2x16x8x8xf32>) {
  ^bb0(%x: f32, %s: f32, %o: f32):
    %y = arith.addf %x, %s : f32
    linalg.yield %y : f32
  } -> tensor<2x16x8x8xf32>
  return %r : tensor<2x16x8x8xf32>
}

// -----

// Left alone: each tile of 32 pixels is 2 2/3 rows of a 12-pixel-wide image,
// no box of it.
// CHECK-LABEL: func.func @tile_not_a_box
// CHECK: scf.forall
// CHECK: }
// CHECK: tensor.expand_shape
// CHECK: linalg.generic
#nchw2 = affine_map<(n, c, h, w) -> (n, c, h, w)>
func.func @tile_not_a_box() -> tensor<1x8x8x12xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<1x1x8x3x32xf32>
  %c = scf.forall (%j) in (3) shared_outs(%out = %e) -> (tensor<1x1x8x3x32xf32>) {
    %slot = tensor.extract_slice %out[0, 0, 0, %j, 0] [1, 1, 8, 1, 32] [1, 1, 1, 1, 1] : tensor<1x1x8x3x32xf32> to tensor<1x1x8x1x32xf32>
    %tile = linalg.fill ins(%zero : f32) outs(%slot : tensor<1x1x8x1x32xf32>) -> tensor<1x1x8x1x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[0, 0, 0, %j, 0] [1, 1, 8, 1, 32] [1, 1, 1, 1, 1] : tensor<1x1x8x1x32xf32> into tensor<1x1x8x3x32xf32>
    }
  }
  %flat = tensor.collapse_shape %c [[0], [1, 2], [3, 4]] : tensor<1x1x8x3x32xf32> into tensor<1x8x96xf32>
  %image = tensor.expand_shape %flat [[0], [1], [2, 3]] output_shape [1, 8, 8, 12] : tensor<1x8x96xf32> into tensor<1x8x8x12xf32>
  %init = tensor.empty() : tensor<1x8x8x12xf32>
  %r = linalg.generic {indexing_maps = [#nchw2, #nchw2], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%image : tensor<1x8x8x12xf32>) outs(%init : tensor<1x8x8x12xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.addf %x, %one : f32
    linalg.yield %y : f32
  } -> tensor<1x8x8x12xf32>
  return %r : tensor<1x8x8x12xf32>
}

// -----

// A gather's position (linalg.index) in the epilogue counts from the tile's
// offset: rows 8i to 8i+7 of the whole result, not 0 to 7 in every tile.
// CHECK-LABEL: func.func @positions
// CHECK: scf.forall (%[[I:.*]]) in (4)
// CHECK: %[[ROW0:.*]] = affine.apply #{{.*}}(%[[I]])
// CHECK: scf.for %[[R:[a-z0-9_]+]] =
// CHECK: %[[ROW:.*]] = arith.addi %[[R]], %[[ROW0]] : index
// CHECK-NEXT: tensor.extract %{{.*}}[%[[ROW]]]
#rows = affine_map<(d0, d1) -> (d0, d1)>
func.func @positions(%table: tensor<32xf32>) -> tensor<32x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32x32xf32>
  %c = scf.forall (%i) in (4) shared_outs(%out = %e) -> (tensor<32x32xf32>) {
    %row = affine.apply affine_map<(d0) -> (d0 * 8)>(%i)
    %slot = tensor.extract_slice %out[%row, 0] [8, 32] [1, 1] : tensor<32x32xf32> to tensor<8x32xf32>
    %tile = linalg.fill ins(%zero : f32) outs(%slot : tensor<8x32xf32>) -> tensor<8x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[%row, 0] [8, 32] [1, 1] : tensor<8x32xf32> into tensor<32x32xf32>
    }
  }
  %r = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%c : tensor<32x32xf32>) outs(%e : tensor<32x32xf32>) {
  ^bb0(%x: f32, %o: f32):
    %p = linalg.index 0 : index
    %t = tensor.extract %table[%p] : tensor<32xf32>
    %s = arith.addf %x, %t : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  return %r : tensor<32x32xf32>
}
