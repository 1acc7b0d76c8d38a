// RUN: wafer-opt %s -p 'wafer-fuse-rows{machine=avx2},canonicalize,cse' | filecheck %s

#rows = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row_value = affine_map<(d0, d1, d2) -> (d0, d1, 0)>
#weights = affine_map<(d0, d1, d2) -> (d2)>

// A softmax scaled by per-feature weights: the max, the exp, the sum and the
// division are computed a tile of rows at a time, one loop over the 12 rows
// of 16 (a tile of one row: eight tiles for the threads at least). The
// inits are made per tile, the weights (which index no row) read whole, and
// the loop's result replaces the division's. The exp writes into the loop's
// output tile and the division reads it there and writes over it, as ONNX
// Runtime's softmax does.
// CHECK-LABEL: func.func @softmax_scaled
// CHECK-SAME: (%[[X:.*]]: tensor<2x6x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-SAME: wafer.strategy = ["rows fused: 4 ops over 2x6 rows, 1 a tile"]
// CHECK: %[[LOOP:.*]] = scf.forall (%[[I:.*]], %[[J:.*]]) in (2, 6) shared_outs(%[[OUT:.*]] = %{{.*}})
// CHECK: %[[ROWS:.*]] = tensor.extract_slice %[[X]][%[[I]], %[[J]], 0] [1, 1, 16] [1, 1, 1]
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<1x1x1xf32>
// CHECK: %[[LOWEST:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[EMPTY]] : tensor<1x1x1xf32>)
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[ROWS]] : tensor<1x1x16xf32>) outs(%[[LOWEST]] : tensor<1x1x1xf32>)
// CHECK: arith.maximumf
// CHECK: %[[TILE:.*]] = tensor.extract_slice %[[OUT]][%[[I]], %[[J]], 0] [1, 1, 16] [1, 1, 1]
// CHECK: %[[EXP:.*]] = linalg.generic {{.*}} ins(%[[ROWS]], %[[MAX]] : tensor<1x1x16xf32>, tensor<1x1x1xf32>) outs(%[[TILE]] : tensor<1x1x16xf32>)
// CHECK: math.exp
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[EXP]] : tensor<1x1x16xf32>)
// CHECK: arith.addf
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[SUM]], %[[W]] : tensor<1x1x1xf32>, tensor<16xf32>) outs(%[[EXP]] : tensor<1x1x16xf32>)
// CHECK: ^bb0(%[[S:.*]]: f32, %[[WI:.*]]: f32, %[[E:.*]]: f32):
// CHECK: arith.divf %[[E]], %[[S]]
// CHECK: tensor.parallel_insert_slice %[[Y]] into %[[OUT]][%[[I]], %[[J]], 0] [1, 1, 16] [1, 1, 1]
// CHECK: {wafer.serial}
// CHECK: return %[[LOOP]]
func.func @softmax_scaled(%x: tensor<2x6x16xf32>, %w: tensor<16xf32>) -> tensor<2x6x16xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<2x6x1xf32>
  %f1 = linalg.fill ins(%ninf : f32) outs(%e1 : tensor<2x6x1xf32>) -> tensor<2x6x1xf32>
  %max = linalg.generic {indexing_maps = [#rows, #row_value], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x6x16xf32>) outs(%f1 : tensor<2x6x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<2x6x1xf32>
  %e = tensor.empty() : tensor<2x6x16xf32>
  %exp = linalg.generic {indexing_maps = [#rows, #row_value, #rows], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %max : tensor<2x6x16xf32>, tensor<2x6x1xf32>) outs(%e : tensor<2x6x16xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %x2 = math.exp %d : f32
    linalg.yield %x2 : f32
  } -> tensor<2x6x16xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x6x1xf32>) -> tensor<2x6x1xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row_value], iterator_types = ["parallel", "parallel", "reduction"]} ins(%exp : tensor<2x6x16xf32>) outs(%f2 : tensor<2x6x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<2x6x1xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row_value, #weights, #rows], iterator_types = ["parallel", "parallel", "parallel"]} ins(%exp, %sum, %w : tensor<2x6x16xf32>, tensor<2x6x1xf32>, tensor<16xf32>) outs(%e : tensor<2x6x16xf32>) {
  ^bb0(%in: f32, %s: f32, %wi: f32, %out: f32):
    %q = arith.divf %in, %s : f32
    %r = arith.mulf %q, %wi : f32
    linalg.yield %r : f32
  } -> tensor<2x6x16xf32>
  return %y : tensor<2x6x16xf32>
}

// Exponentials the function returns as well are one of the loop's results:
// the division must not write over them, and keeps a tile of its own.
// CHECK-LABEL: func.func @softmax_and_exponentials
// CHECK: scf.forall
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<1x1x16xf32>
// CHECK: %[[EXP:.*]] = linalg.generic {{.*}} outs(%[[EMPTY]] : tensor<1x1x16xf32>)
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} ins(%[[EXP]], %{{.*}} : tensor<1x1x16xf32>, tensor<1x1x1xf32>) outs(%[[EMPTY]] : tensor<1x1x16xf32>)
// CHECK: arith.divf
func.func @softmax_and_exponentials(%x: tensor<2x6x16xf32>) -> (tensor<2x6x16xf32>, tensor<2x6x16xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<2x6x1xf32>
  %f1 = linalg.fill ins(%ninf : f32) outs(%e1 : tensor<2x6x1xf32>) -> tensor<2x6x1xf32>
  %max = linalg.generic {indexing_maps = [#rows, #row_value], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x6x16xf32>) outs(%f1 : tensor<2x6x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<2x6x1xf32>
  %e = tensor.empty() : tensor<2x6x16xf32>
  %exp = linalg.generic {indexing_maps = [#rows, #row_value, #rows], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %max : tensor<2x6x16xf32>, tensor<2x6x1xf32>) outs(%e : tensor<2x6x16xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %x2 = math.exp %d : f32
    linalg.yield %x2 : f32
  } -> tensor<2x6x16xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x6x1xf32>) -> tensor<2x6x1xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row_value], iterator_types = ["parallel", "parallel", "reduction"]} ins(%exp : tensor<2x6x16xf32>) outs(%f2 : tensor<2x6x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<2x6x1xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row_value, #rows], iterator_types = ["parallel", "parallel", "parallel"]} ins(%exp, %sum : tensor<2x6x16xf32>, tensor<2x6x1xf32>) outs(%e : tensor<2x6x16xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %q = arith.divf %in, %s : f32
    linalg.yield %q : f32
  } -> tensor<2x6x16xf32>
  return %y, %exp : tensor<2x6x16xf32>, tensor<2x6x16xf32>
}

// A row sum that no other op reads back passes over its rows once: nothing to fuse.
// CHECK-LABEL: func.func @sum_only
// CHECK-NOT: scf.forall
func.func @sum_only(%x: tensor<2x6x16xf32>) -> tensor<2x6x1xf32> {
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<2x6x1xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x6x1xf32>) -> tensor<2x6x1xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row_value], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x6x16xf32>) outs(%f : tensor<2x6x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<2x6x1xf32>
  return %sum : tensor<2x6x1xf32>
}

// Rows whose positions the body reads: each tile's members count them from the
// tile's first row, not their own (a tile of one row: its position is the loop's).
// CHECK-LABEL: func.func @row_positions
// CHECK: scf.forall (%[[I:.*]], %[[J:.*]]) in (2, 6)
// CHECK: arith.index_cast %[[J]] : index to i64
func.func @row_positions(%x: tensor<2x6x16xf32>) -> tensor<2x6x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<2x6x1xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x6x1xf32>) -> tensor<2x6x1xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row_value], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x6x16xf32>) outs(%f : tensor<2x6x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<2x6x1xf32>
  %e = tensor.empty() : tensor<2x6x16xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row_value, #rows], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %sum : tensor<2x6x16xf32>, tensor<2x6x1xf32>) outs(%e : tensor<2x6x16xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %row = linalg.index 1 : index
    %i = arith.index_cast %row : index to i64
    %r = arith.sitofp %i : i64 to f32
    %q = arith.divf %in, %s : f32
    %t = arith.addf %q, %r : f32
    linalg.yield %t : f32
  } -> tensor<2x6x16xf32>
  return %y : tensor<2x6x16xf32>
}
