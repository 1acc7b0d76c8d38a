// RUN: wafer-opt %s -p 'wafer-fuse,func.func(canonicalize,cse)' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-fuse{tile-sizes=4,32},func.func(canonicalize,cse)' | filecheck %s --check-prefix=TILE
// RUN: wafer-opt %s -p 'wafer-fuse{loose-elements=4096},func.func(canonicalize,cse)' | filecheck %s --check-prefix=LOOSE
// RUN: wafer-opt %s -p 'wafer-fuse{loose-elements=16385},func.func(canonicalize,cse)' | filecheck %s --check-prefix=WHOLE
// RUN: wafer-opt %s -p wafer-fuse 2>&1 >/dev/null | filecheck %s --check-prefix=QUIET --allow-empty
// RUN: not wafer-opt %s -p 'wafer-fuse{tile-sizes=a}' 2>&1 | filecheck %s --check-prefix=ERR
// RUN: not wafer-opt %s -p 'wafer-fuse{tile-size=4}' 2>&1 | filecheck %s --check-prefix=NOOPT

// A bad option value is a driver error: one line, no traceback, exit 1.
// ERR-NOT: Traceback
// ERR: error: option wafer-fuse{tile-sizes}: cannot read 'a' as list of int
// ERR-NOT: {{.}}
// NOOPT-NOT: Traceback
// NOOPT: error: pass 'wafer-fuse' has no option 'tile-size' (options: loose-elements, parallel-elements, tile-sizes)
// NOOPT-NOT: Traceback

#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
#chan = affine_map<(n, c, h, w) -> (c)>
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// The fill, the matmul and the bias + relu consumer all move into one loop
// nest over 8x64 output tiles; nothing of the three is left outside it.
// CHECK-LABEL: func.func @matmul_bias_relu
// CHECK-SAME: (%[[A:.*]]: tensor<16x32xf32>, %[[B:.*]]: tensor<32x128xf32>, %[[BIAS:.*]]: tensor<128xf32>)
// CHECK-NOT: linalg.
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<16x128xf32>
// CHECK-NOT: linalg.
// CHECK: %[[LOOP:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (2, 2) shared_outs(%[[OUT:.*]] = %[[EMPTY]]) -> (tensor<16x128xf32>)
// CHECK: %[[ATILE:.*]] = tensor.extract_slice %[[A]][%{{.*}}, 0] [8, 32] [1, 1]
// CHECK: %[[BTILE:.*]] = tensor.extract_slice %[[B]][0, %{{.*}}] [32, 64] [1, 1]
// CHECK: %[[FILL:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<8x64xf32>) -> tensor<8x64xf32>
// CHECK: %[[MM:.*]] = linalg.matmul ins(%[[ATILE]], %[[BTILE]] : tensor<8x32xf32>, tensor<32x64xf32>) outs(%[[FILL]] : tensor<8x64xf32>) -> tensor<8x64xf32>
// CHECK: %[[BIASTILE:.*]] = tensor.extract_slice %[[BIAS]][%{{.*}}] [64] [1]
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[MM]], %[[BIASTILE]] : tensor<8x64xf32>, tensor<64xf32>)
// CHECK: arith.addf
// CHECK-NEXT: arith.maximumf
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[RELU]] into %[[OUT]]
// Its 4096-element operands are too little work to wake a thread for.
// CHECK: } {wafer.serial}
// CHECK-NOT: linalg.
// CHECK: return %[[LOOP]] : tensor<16x128xf32>

// TILE-LABEL: func.func @matmul_bias_relu
// TILE: scf.forall (%{{.*}}, %{{.*}}) in (4, 4) shared_outs
// TILE: tensor.extract_slice %{{.*}}[%{{.*}}, 0] [4, 32] [1, 1] : tensor<16x32xf32> to tensor<4x32xf32>
// TILE: linalg.fill {{.*}} -> tensor<4x32xf32>
// TILE: linalg.matmul {{.*}} outs(%{{.*}} : tensor<4x32xf32>)
// TILE: linalg.generic
// TILE: tensor.parallel_insert_slice %{{.*}} [4, 32] [1, 1] : tensor<4x32xf32> into tensor<16x128xf32>
func.func @matmul_bias_relu(%a: tensor<16x32xf32>, %b: tensor<32x128xf32>, %bias: tensor<128xf32>) -> tensor<16x128xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x128xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<16x128xf32>) -> tensor<16x128xf32>
  %mm = linalg.matmul ins(%a, %b : tensor<16x32xf32>, tensor<32x128xf32>) outs(%fill : tensor<16x128xf32>) -> tensor<16x128xf32>
  %e2 = tensor.empty() : tensor<16x128xf32>
  %r = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %bias : tensor<16x128xf32>, tensor<128xf32>) outs(%e2 : tensor<16x128xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<16x128xf32>
  return %r : tensor<16x128xf32>
}

// A conv whose init is the bias broadcast over the output: the broadcast, the
// conv and the relu fuse. Output tile 8x8 (H, W) per channel: 8 iterations.
// CHECK-LABEL: func.func @conv_bias_relu
// CHECK-SAME: (%[[X:.*]]: tensor<1x3x10x10xf32>, %[[W:.*]]: tensor<8x3x3x3xf32>, %[[BIAS:.*]]: tensor<8xf32>)
// CHECK-NOT: linalg.
// CHECK: %[[LOOP:.*]] = scf.forall (%[[C:.*]]) in (8) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1x8x8x8xf32>)
// CHECK-DAG: %[[WTILE:.*]] = tensor.extract_slice %[[W]][%[[C]], 0, 0, 0] [1, 3, 3, 3] [1, 1, 1, 1]
// CHECK-DAG: %[[BTILE:.*]] = tensor.extract_slice %[[BIAS]][%[[C]]] [1] [1]
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[BTILE]] : tensor<1xf32>) outs(%{{.*}} : tensor<1x1x8x8xf32>)
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%[[X]], %[[WTILE]] : tensor<1x3x10x10xf32>, tensor<1x3x3x3xf32>) outs(%[[INIT]] : tensor<1x1x8x8xf32>)
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[CONV]] : tensor<1x1x8x8xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.maximumf
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[RELU]] into %[[OUT]][0, %[[C]], 0, 0] [1, 1, 8, 8] [1, 1, 1, 1]
// CHECK-NOT: linalg.
// CHECK: return %[[LOOP]]

// With tile-sizes=4,32 the H dim is tiled by 4 (the W extent 8 < 32 is kept
// whole), so the input tile shrinks to 4 + 2 rows of halo.
// TILE-LABEL: func.func @conv_bias_relu
// TILE: scf.forall (%{{.*}}, %{{.*}}) in (8, 2) shared_outs
// TILE: tensor.extract_slice %{{.*}}[0, 0, %{{.*}}, 0] [1, 3, 6, 10] [1, 1, 1, 1] : tensor<1x3x10x10xf32> to tensor<1x3x6x10xf32>
// TILE: linalg.conv_2d_nchw_fchw {{.*}} outs(%{{.*}} : tensor<1x1x4x8xf32>)
func.func @conv_bias_relu(%x: tensor<1x3x10x10xf32>, %w: tensor<8x3x3x3xf32>, %bias: tensor<8xf32>) -> tensor<1x8x8x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x8x8x8xf32>
  %init = linalg.generic {indexing_maps = [#chan, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : tensor<8xf32>) outs(%e : tensor<1x8x8x8xf32>) {
  ^bb0(%b: f32, %o: f32):
    linalg.yield %b : f32
  } -> tensor<1x8x8x8xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x3x10x10xf32>, tensor<8x3x3x3xf32>) outs(%init : tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %e2 = tensor.empty() : tensor<1x8x8x8xf32>
  %relu = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv : tensor<1x8x8x8xf32>) outs(%e2 : tensor<1x8x8x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %m = arith.maximumf %v, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x8x8x8xf32>
  return %relu : tensor<1x8x8x8xf32>
}

// The matmul's result is also returned, so the relu is not its sole user and
// stays outside; the fill still fuses into the matmul's loop.
// CHECK-LABEL: func.func @matmul_two_users
// CHECK-NOT: linalg.
// CHECK: %[[LOOP:.*]] = scf.forall
// CHECK: linalg.fill
// CHECK: linalg.matmul
// CHECK-NOT: linalg.generic
// CHECK: scf.forall.in_parallel
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[LOOP]] : tensor<16x128xf32>)
// CHECK: return %[[LOOP]], %[[RELU]]
func.func @matmul_two_users(%a: tensor<16x32xf32>, %b: tensor<32x128xf32>) -> (tensor<16x128xf32>, tensor<16x128xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x128xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<16x128xf32>) -> tensor<16x128xf32>
  %mm = linalg.matmul ins(%a, %b : tensor<16x32xf32>, tensor<32x128xf32>) outs(%fill : tensor<16x128xf32>) -> tensor<16x128xf32>
  %e2 = tensor.empty() : tensor<16x128xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm : tensor<16x128xf32>) outs(%e2 : tensor<16x128xf32>) {
  ^bb0(%x: f32, %o: f32):
    %m = arith.maximumf %x, %zero : f32
    linalg.yield %m : f32
  } -> tensor<16x128xf32>
  return %mm, %r : tensor<16x128xf32>, tensor<16x128xf32>
}

// A dynamic row count: the loop bound is computed from the dim, tiles clamp.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK-SAME: (%[[A:.*]]: tensor<?x32xf32>, %{{.*}}: tensor<32x128xf32>, %[[INIT:.*]]: tensor<?x128xf32>)
// CHECK: %[[DIM:.*]] = tensor.dim %[[A]]
// CHECK: %[[ROWS:.*]] = affine.apply #{{.*}}()[%[[DIM]]]
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%[[ROWS]], 2) shared_outs(%{{.*}} = %[[INIT]]) -> (tensor<?x128xf32>)
// CHECK: affine.min
// CHECK: linalg.matmul {{.*}} -> tensor<?x64xf32>
func.func @dynamic_rows(%a: tensor<?x32xf32>, %b: tensor<32x128xf32>, %init: tensor<?x128xf32>) -> tensor<?x128xf32> {
  %mm = linalg.matmul ins(%a, %b : tensor<?x32xf32>, tensor<32x128xf32>) outs(%init : tensor<?x128xf32>) -> tensor<?x128xf32>
  return %mm : tensor<?x128xf32>
}

// A sum of everything to a scalar has no parallel loop to tile: left as is.
// CHECK-LABEL: func.func @full_reduction
// CHECK-NOT: scf.forall
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]
func.func @full_reduction(%a: tensor<3x5xf32>) -> tensor<f32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r = linalg.generic {indexing_maps = [#id, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]}
      ins(%a : tensor<3x5xf32>) outs(%init : tensor<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}

// No contraction, no anchor: the pass leaves the function alone.
// CHECK-LABEL: func.func @no_anchor
// CHECK-SAME: (%[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<4x8xf32>)
// CHECK-NOT: scf.forall
// CHECK: %[[SUM:.*]] = linalg.add ins(%[[A]], %[[B]] : tensor<4x8xf32>, tensor<4x8xf32>) outs(%{{.*}} : tensor<4x8xf32>)
// CHECK-NEXT: return %[[SUM]]
func.func @no_anchor(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.add ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// A transpose is a loose elementwise op too: from `loose-elements` on (by
// default 16K, this one's size) it is tiled over its output (8x64 of the
// innermost dims), so its tiles spread over the threads and become vector code
// (the transformer's head transposes). Smaller, it stays whole.
// LOOSE-LABEL: func.func @big_transpose
// LOOSE: scf.forall (%{{.*}}, %{{.*}}) in (16, 2)
// LOOSE: linalg.transpose ins(%{{.*}} : tensor<8x1x64xf32>) outs(%{{.*}} : tensor<1x8x64xf32>) permutation = [1, 0, 2]
// CHECK-LABEL: func.func @big_transpose
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (16, 2)
// WHOLE-LABEL: func.func @big_transpose
// WHOLE-NOT: scf.forall
// WHOLE: linalg.transpose ins(%{{.*}} : tensor<16x16x64xf32>)
func.func @big_transpose(%a: tensor<16x16x64xf32>) -> tensor<16x16x64xf32> {
  %e = tensor.empty() : tensor<16x16x64xf32>
  %t = linalg.transpose ins(%a : tensor<16x16x64xf32>) outs(%e : tensor<16x16x64xf32>) permutation = [1, 0, 2]
  return %t : tensor<16x16x64xf32>
}

// A loose op's tiles divide its extents: 14 rows of a 14x14 plane are two
// tiles of 7, not 8 and a ragged 6, whose dynamic sizes would keep the SiLU
// scalar (wafer-vectorize vectorizes static tiles only). A transpose's tiles
// divide its result's dims the same way.
// LOOSE-LABEL: func.func @silu_planes
// LOOSE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 16, 2)
// LOOSE: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x7x14xf32>)
// LOOSE: math.exp
// LOOSE-LABEL: func.func @ragged_transpose
// LOOSE: scf.forall (%{{.*}}, %{{.*}}) in (14, 2)
// LOOSE: linalg.transpose ins(%{{.*}} : tensor<7x1x24xf32>) outs(%{{.*}} : tensor<1x7x24xf32>)
func.func @silu_planes(%x: tensor<2x16x14x14xf32>) -> tensor<2x16x14x14xf32> {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<2x16x14x14xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<2x16x14x14xf32>) outs(%e : tensor<2x16x14x14xf32>) {
  ^bb0(%v: f32, %o: f32):
    %n = arith.negf %v : f32
    %x1 = math.exp %n : f32
    %d = arith.addf %x1, %one : f32
    %s = arith.divf %v, %d : f32
    linalg.yield %s : f32
  } -> tensor<2x16x14x14xf32>
  return %r : tensor<2x16x14x14xf32>
}

func.func @ragged_transpose(%a: tensor<14x14x24xf32>) -> tensor<14x14x24xf32> {
  %e = tensor.empty() : tensor<14x14x24xf32>
  %t = linalg.transpose ins(%a : tensor<14x14x24xf32>) outs(%e : tensor<14x14x24xf32>) permutation = [1, 0, 2]
  return %t : tensor<14x14x24xf32>
}

// An elementwise op reading every operand as it writes its result (identity
// maps), with rows wider than the tile's 64, takes tiles of whole rows: one
// contiguous run of memory each (2 rows of 2048), where 8 rows x 64 walked
// eight streams at once. Rows past 4096 are cut into runs dividing them.
// LOOSE-LABEL: func.func @wide_rows
// LOOSE: scf.forall (%{{.*}}, %{{.*}}) in (4, 4)
// LOOSE: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x2048xf32>)
// LOOSE-LABEL: func.func @rows_past_a_tile
// LOOSE: scf.forall (%{{.*}}, %{{.*}}) in (2, 2)
// LOOSE: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4096xf32>)
func.func @wide_rows(%x: tensor<4x8x2048xf32>) -> tensor<4x8x2048xf32> {
  %e = tensor.empty() : tensor<4x8x2048xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<4x8x2048xf32>) outs(%e : tensor<4x8x2048xf32>) {
  ^bb0(%v: f32, %o: f32):
    %y = math.exp %v : f32
    linalg.yield %y : f32
  } -> tensor<4x8x2048xf32>
  return %r : tensor<4x8x2048xf32>
}

func.func @rows_past_a_tile(%x: tensor<2x8192xf32>) -> tensor<2x8192xf32> {
  %e = tensor.empty() : tensor<2x8192xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<2x8192xf32>) outs(%e : tensor<2x8192xf32>) {
  ^bb0(%v: f32, %o: f32):
    %y = math.exp %v : f32
    linalg.yield %y : f32
  } -> tensor<2x8192xf32>
  return %r : tensor<2x8192xf32>
}

// Adaptive average pooling to 1x1 sums into a result indexed by constant 0s,
// not loops: it is tiled, but its consumer (the mean's division) is not fused
// around it, which cannot be done (the pass once asked the transform
// interpreter to, which printed a failure for every such pool).
// CHECK-LABEL: func.func @sum_to_unit_dims
// CHECK: scf.forall
// CHECK: iterator_types = ["parallel", "parallel", "reduction", "reduction"]
// CHECK: scf.forall.in_parallel
// CHECK: arith.divf
// QUIET-NOT: {{.}}
#nchw = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#unit = affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, 0)>
func.func @sum_to_unit_dims(%x: tensor<1x1000x13x13xf32>, %init: tensor<1x1000x1x1xf32>) -> tensor<1x1000x1x1xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x1000x13x13xf32>
  %relu = linalg.generic {indexing_maps = [#nchw, #nchw], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<1x1000x13x13xf32>) outs(%e : tensor<1x1000x13x13xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x1000x13x13xf32>
  %sum = linalg.generic {indexing_maps = [#nchw, #unit], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%relu : tensor<1x1000x13x13xf32>) outs(%init : tensor<1x1000x1x1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  } -> tensor<1x1000x1x1xf32>
  %area = arith.constant 169.0 : f32
  %e1 = tensor.empty() : tensor<1x1000x1x1xf32>
  %mean = linalg.generic {indexing_maps = [#nchw, #nchw], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x1000x1x1xf32>) outs(%e1 : tensor<1x1000x1x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.divf %in, %area : f32
    linalg.yield %d : f32
  } -> tensor<1x1000x1x1xf32>
  return %mean : tensor<1x1000x1x1xf32>
}

// Two reductions of one tensor, then their difference: the subtraction is
// the only user of both. It joins the first reduction's group, and the second
// reduction is a group of its own (it took the subtraction too, and tiled a
// tiled op: "requires exactly one containing_op handle (got 0)").
// CHECK-LABEL: func.func @range_of_rows
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: arith.subf
func.func @range_of_rows(%x: tensor<17x4xf32>) -> tensor<17xf32> {
  %lowest = arith.constant 0xFF800000 : f32
  %highest = arith.constant 0x7F800000 : f32
  %e = tensor.empty() : tensor<17xf32>
  %init_max = linalg.fill ins(%lowest : f32) outs(%e : tensor<17xf32>) -> tensor<17xf32>
  %init_min = linalg.fill ins(%highest : f32) outs(%e : tensor<17xf32>) -> tensor<17xf32>
  %max = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<17x4xf32>) outs(%init_max : tensor<17xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<17xf32>
  %min = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<17x4xf32>) outs(%init_min : tensor<17xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.minimumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<17xf32>
  %range = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                           iterator_types = ["parallel"]}
      ins(%max, %min : tensor<17xf32>, tensor<17xf32>) outs(%e : tensor<17xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %d = arith.subf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<17xf32>
  return %range : tensor<17xf32>
}
