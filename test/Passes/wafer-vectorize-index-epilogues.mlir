// RUN: wafer-opt %s --split-input-file -p 'wafer-vectorize{machine=avx512}' | filecheck %s

// A tile that adds its innermost position to its init stays scalar: upstream's
// vectorizer took the sum for a reduction of the index's one-dim vector into
// the tile's shape and built an invalid vector.multi_reduction.
// CHECK-LABEL: func.func @init_plus_innermost_index
// CHECK: linalg.generic
// CHECK: linalg.index 1
// CHECK-NOT: vector.multi_reduction
func.func @init_plus_innermost_index(%big: tensor<4x9xf32>) -> tensor<4x9xf32> {
  %r = scf.forall (%i) in (4) shared_outs(%o = %big) -> (tensor<4x9xf32>) {
    %t = tensor.extract_slice %o[%i, 0] [1, 9] [1, 1] : tensor<4x9xf32> to tensor<1x9xf32>
    %g = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} outs(%t : tensor<1x9xf32>) {
    ^bb0(%out: f32):
      %x = linalg.index 1 : index
      %y = arith.index_cast %x : index to i64
      %z = arith.sitofp %y : i64 to f32
      %a = arith.addf %out, %z : f32
      linalg.yield %a : f32
    } -> tensor<1x9xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %g into %o[%i, 0] [1, 9] [1, 1] : tensor<1x9xf32> into tensor<4x9xf32>
    }
  }
  return %r : tensor<4x9xf32>
}

// -----

// The init only selected by its position (a causal mask) vectorizes.
// CHECK-LABEL: func.func @init_selected_by_innermost_index
// CHECK-NOT: linalg.generic
// CHECK: vector.step
// CHECK: arith.select {{.*}} : vector<1x9xi1>, vector<1x9xf32>
func.func @init_selected_by_innermost_index(%big: tensor<4x9xf32>) -> tensor<4x9xf32> {
  %zero = arith.constant 0.0 : f32
  %three = arith.constant 3.0 : f32
  %r = scf.forall (%i) in (4) shared_outs(%o = %big) -> (tensor<4x9xf32>) {
    %t = tensor.extract_slice %o[%i, 0] [1, 9] [1, 1] : tensor<4x9xf32> to tensor<1x9xf32>
    %g = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} outs(%t : tensor<1x9xf32>) {
    ^bb0(%out: f32):
      %x = linalg.index 1 : index
      %y = arith.index_cast %x : index to i64
      %z = arith.sitofp %y : i64 to f32
      %p = arith.cmpf ogt, %z, %three : f32
      %a = arith.select %p, %out, %zero : f32
      linalg.yield %a : f32
    } -> tensor<1x9xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %g into %o[%i, 0] [1, 9] [1, 1] : tensor<1x9xf32> into tensor<4x9xf32>
    }
  }
  return %r : tensor<4x9xf32>
}
