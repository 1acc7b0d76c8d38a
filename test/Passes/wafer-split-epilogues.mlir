// RUN: wafer-opt %s --split-input-file -p 'wafer-split-epilogues,func.func(canonicalize,cse)' | filecheck %s

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#channel = affine_map<(d0, d1, d2) -> (d0)>

// A contraction split at 96 of its 100 columns, the first part an
// scf.forall of three static 32-column tiles, the remainder's init a slice of
// the first insert. A ReLU of the [4, 10, 10] view, plus a per-channel bias,
// is applied to each part in the [4, 100] shape, each piece inserted where
// its part was computed (the parts' own init), so that the first part's
// piece can join its loop; the remainder's init becomes a copy of that
// init's slice, made before the first part.
// CHECK-LABEL: func.func @bias_relu_of_split
// CHECK-SAME: (%[[A:.*]]: tensor<4x96xf32>, %[[INIT:.*]]: tensor<4x100xf32>, %[[BIAS:.*]]: tensor<4xf32>)
// CHECK: %[[REST_INIT:.*]] = tensor.extract_slice %[[INIT]][0, 96] [4, 4] [1, 1]
// CHECK: %[[COPY:.*]] = linalg.copy {{.*}}ins(%[[REST_INIT]] : tensor<4x4xf32>)
// CHECK: %[[FIRST:.*]] = scf.forall
// CHECK: %[[REST:.*]] = arith.addf %[[COPY]], %[[COPY]]
// CHECK: %[[PIECE0:.*]] = linalg.generic {{.*}} ins(%[[FIRST]], %[[BIAS]] : tensor<4x96xf32>, tensor<4xf32>)
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: %[[INS0:.*]] = tensor.insert_slice %[[PIECE0]] into %[[INIT]][0, 0] [4, 96] [1, 1]
// CHECK: %[[PIECE1:.*]] = linalg.generic {{.*}} ins(%[[REST]], %[[BIAS]] : tensor<4x4xf32>, tensor<4xf32>)
// CHECK: %[[INS1:.*]] = tensor.insert_slice %[[PIECE1]] into %[[INS0]][0, 96] [4, 4] [1, 1]
// CHECK: %[[VIEW:.*]] = tensor.expand_shape %[[INS1]] {{\[}}[0], [1, 2]] output_shape [4, 10, 10]
// CHECK: return %[[VIEW]]
func.func @bias_relu_of_split(%a: tensor<4x96xf32>, %init: tensor<4x100xf32>, %bias: tensor<4xf32>) -> tensor<4x10x10xf32> {
  %zero = arith.constant 0.0 : f32
  %first_init = tensor.extract_slice %init[0, 0] [4, 96] [1, 1] : tensor<4x100xf32> to tensor<4x96xf32>
  %first = scf.forall (%i) in (3) shared_outs(%o = %first_init) -> (tensor<4x96xf32>) {
    %offset = affine.apply affine_map<(d0) -> (d0 * 32)>(%i)
    %tile = tensor.extract_slice %a[0, %offset] [4, 32] [1, 1] : tensor<4x96xf32> to tensor<4x32xf32>
    %square = arith.mulf %tile, %tile : tensor<4x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %square into %o[0, %offset] [4, 32] [1, 1] : tensor<4x32xf32> into tensor<4x96xf32>
    }
  }
  %x = tensor.insert_slice %first into %init[0, 0] [4, 96] [1, 1] : tensor<4x96xf32> into tensor<4x100xf32>
  %rest_init = tensor.extract_slice %x[0, 96] [4, 4] [1, 1] : tensor<4x100xf32> to tensor<4x4xf32>
  %rest = arith.addf %rest_init, %rest_init : tensor<4x4xf32>
  %s = tensor.insert_slice %rest into %x[0, 96] [4, 4] [1, 1] : tensor<4x4xf32> into tensor<4x100xf32>
  %v = tensor.expand_shape %s [[0], [1, 2]] output_shape [4, 10, 10] : tensor<4x100xf32> into tensor<4x10x10xf32>
  %e = tensor.empty() : tensor<4x10x10xf32>
  %y = linalg.generic {indexing_maps = [#id3, #channel, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %bias : tensor<4x10x10xf32>, tensor<4xf32>) outs(%e : tensor<4x10x10xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %sum = arith.addf %in, %b : f32
    %relu = arith.maximumf %sum, %zero : f32
    linalg.yield %relu : f32
  } -> tensor<4x10x10xf32>
  return %y : tensor<4x10x10xf32>
}

// -----

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d1)>

// An input that reads one dim of the reshape's [10, 10] group (a per-row
// term) has no form over the collapsed 100 columns: nothing changes.
// CHECK-LABEL: func.func @reads_part_of_a_group
// CHECK: tensor.insert_slice
// CHECK: tensor.insert_slice
// CHECK: tensor.expand_shape
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<4x10x10xf32>, tensor<10xf32>)
func.func @reads_part_of_a_group(%a: tensor<4x96xf32>, %rest: tensor<4x4xf32>, %init: tensor<4x100xf32>,
                                 %row: tensor<10xf32>) -> tensor<4x10x10xf32> {
  %first_init = tensor.extract_slice %init[0, 0] [4, 96] [1, 1] : tensor<4x100xf32> to tensor<4x96xf32>
  %first = scf.forall (%i) in (3) shared_outs(%o = %first_init) -> (tensor<4x96xf32>) {
    %offset = affine.apply affine_map<(d0) -> (d0 * 32)>(%i)
    %tile = tensor.extract_slice %a[0, %offset] [4, 32] [1, 1] : tensor<4x96xf32> to tensor<4x32xf32>
    %square = arith.mulf %tile, %tile : tensor<4x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %square into %o[0, %offset] [4, 32] [1, 1] : tensor<4x32xf32> into tensor<4x96xf32>
    }
  }
  %x = tensor.insert_slice %first into %init[0, 0] [4, 96] [1, 1] : tensor<4x96xf32> into tensor<4x100xf32>
  %s = tensor.insert_slice %rest into %x[0, 96] [4, 4] [1, 1] : tensor<4x4xf32> into tensor<4x100xf32>
  %v = tensor.expand_shape %s [[0], [1, 2]] output_shape [4, 10, 10] : tensor<4x100xf32> into tensor<4x10x10xf32>
  %e = tensor.empty() : tensor<4x10x10xf32>
  %y = linalg.generic {indexing_maps = [#id3, #row, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %row : tensor<4x10x10xf32>, tensor<10xf32>) outs(%e : tensor<4x10x10xf32>) {
  ^bb0(%in: f32, %r: f32, %out: f32):
    %sum = arith.addf %in, %r : f32
    linalg.yield %sum : f32
  } -> tensor<4x10x10xf32>
  return %y : tensor<4x10x10xf32>
}

// -----

#id2 = affine_map<(d0, d1) -> (d0, d1)>

// Boxes that leave a gap (columns 64 to 95) do not tile the tensor: nothing changes.
// CHECK-LABEL: func.func @boxes_with_a_gap
// CHECK: %[[X:.*]] = tensor.insert_slice
// CHECK: %[[S:.*]] = tensor.insert_slice %{{.*}} into %[[X]]
// CHECK: linalg.generic {{.*}} ins(%[[S]] : tensor<4x100xf32>)
func.func @boxes_with_a_gap(%a: tensor<4x64xf32>, %rest: tensor<4x4xf32>, %init: tensor<4x100xf32>) -> tensor<4x100xf32> {
  %zero = arith.constant 0.0 : f32
  %first_init = tensor.extract_slice %init[0, 0] [4, 64] [1, 1] : tensor<4x100xf32> to tensor<4x64xf32>
  %first = scf.forall (%i) in (2) shared_outs(%o = %first_init) -> (tensor<4x64xf32>) {
    %offset = affine.apply affine_map<(d0) -> (d0 * 32)>(%i)
    %tile = tensor.extract_slice %a[0, %offset] [4, 32] [1, 1] : tensor<4x64xf32> to tensor<4x32xf32>
    %square = arith.mulf %tile, %tile : tensor<4x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %square into %o[0, %offset] [4, 32] [1, 1] : tensor<4x32xf32> into tensor<4x64xf32>
    }
  }
  %x = tensor.insert_slice %first into %init[0, 0] [4, 64] [1, 1] : tensor<4x64xf32> into tensor<4x100xf32>
  %s = tensor.insert_slice %rest into %x[0, 96] [4, 4] [1, 1] : tensor<4x4xf32> into tensor<4x100xf32>
  %e = tensor.empty() : tensor<4x100xf32>
  %y = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<4x100xf32>) outs(%e : tensor<4x100xf32>) {
  ^bb0(%in: f32, %out: f32):
    %relu = arith.maximumf %in, %zero : f32
    linalg.yield %relu : f32
  } -> tensor<4x100xf32>
  return %y : tensor<4x100xf32>
}

// -----

#id2 = affine_map<(d0, d1) -> (d0, d1)>

// The first part is no loop of static tiles, which the consumer's piece could
// join: its pieces would only be smaller passes than the whole (and an oddly
// shaped one may not vectorize). Nothing changes.
// CHECK-LABEL: func.func @first_part_is_no_loop
// CHECK: %[[X:.*]] = tensor.insert_slice
// CHECK: %[[S:.*]] = tensor.insert_slice %{{.*}} into %[[X]]
// CHECK: linalg.generic {{.*}} ins(%[[S]] : tensor<4x100xf32>)
func.func @first_part_is_no_loop(%first: tensor<4x96xf32>, %rest: tensor<4x4xf32>, %init: tensor<4x100xf32>) -> tensor<4x100xf32> {
  %zero = arith.constant 0.0 : f32
  %x = tensor.insert_slice %first into %init[0, 0] [4, 96] [1, 1] : tensor<4x96xf32> into tensor<4x100xf32>
  %s = tensor.insert_slice %rest into %x[0, 96] [4, 4] [1, 1] : tensor<4x4xf32> into tensor<4x100xf32>
  %e = tensor.empty() : tensor<4x100xf32>
  %y = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<4x100xf32>) outs(%e : tensor<4x100xf32>) {
  ^bb0(%in: f32, %out: f32):
    %relu = arith.maximumf %in, %zero : f32
    linalg.yield %relu : f32
  } -> tensor<4x100xf32>
  return %y : tensor<4x100xf32>
}

// -----

// An epilogue that reads its loop positions (linalg.index) is not split: each
// piece would count them from its own origin.
// CHECK-LABEL: func.func @positions_of_split
// CHECK: %[[VIEW:.*]] = tensor.expand_shape
// CHECK: linalg.generic {{.*}} ins(%[[VIEW]] : tensor<4x10x10xf32>)
// CHECK: linalg.index 2
// CHECK-NOT: linalg.generic
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @positions_of_split(%a: tensor<4x96xf32>, %init: tensor<4x100xf32>) -> tensor<4x10x10xf32> {
  %first_init = tensor.extract_slice %init[0, 0] [4, 96] [1, 1] : tensor<4x100xf32> to tensor<4x96xf32>
  %first = scf.forall (%i) in (3) shared_outs(%o = %first_init) -> (tensor<4x96xf32>) {
    %offset = affine.apply affine_map<(d0) -> (d0 * 32)>(%i)
    %tile = tensor.extract_slice %a[0, %offset] [4, 32] [1, 1] : tensor<4x96xf32> to tensor<4x32xf32>
    %square = arith.mulf %tile, %tile : tensor<4x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %square into %o[0, %offset] [4, 32] [1, 1] : tensor<4x32xf32> into tensor<4x96xf32>
    }
  }
  %x = tensor.insert_slice %first into %init[0, 0] [4, 96] [1, 1] : tensor<4x96xf32> into tensor<4x100xf32>
  %rest_init = tensor.extract_slice %x[0, 96] [4, 4] [1, 1] : tensor<4x100xf32> to tensor<4x4xf32>
  %rest = arith.addf %rest_init, %rest_init : tensor<4x4xf32>
  %s = tensor.insert_slice %rest into %x[0, 96] [4, 4] [1, 1] : tensor<4x4xf32> into tensor<4x100xf32>
  %v = tensor.expand_shape %s [[0], [1, 2]] output_shape [4, 10, 10] : tensor<4x100xf32> into tensor<4x10x10xf32>
  %e = tensor.empty() : tensor<4x10x10xf32>
  %y = linalg.generic {indexing_maps = [#same, #same], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v : tensor<4x10x10xf32>) outs(%e : tensor<4x10x10xf32>) {
  ^bb0(%in: f32, %out: f32):
    %p = linalg.index 2 : index
    %n = arith.index_cast %p : index to i32
    %f = arith.sitofp %n : i32 to f32
    %sum = arith.addf %in, %f : f32
    linalg.yield %sum : f32
  } -> tensor<4x10x10xf32>
  return %y : tensor<4x10x10xf32>
}
