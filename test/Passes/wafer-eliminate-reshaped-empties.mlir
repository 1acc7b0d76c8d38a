// RUN: wafer-opt %s -p wafer-eliminate-reshaped-empties | filecheck %s
// RUN: wafer-opt %s -p wafer-eliminate-reshaped-empties,eliminate-empty-tensors,one-shot-bufferize,canonicalize,cse,canonicalize | filecheck %s --check-prefix=BUF

// The first part of a split contraction: computed into C reshaped to whole
// 8x32 blocks, collapsed back and inserted into the whole result. The empty
// it is computed into becomes the slice it lands in, reshaped, so that it is
// bufferized in place: one buffer, no copy.
// CHECK-LABEL: func.func @collapsed_into_a_slice
// CHECK: %[[WHOLE:.*]] = tensor.empty() : tensor<16x100xf32>
// CHECK-NEXT: %[[SLICE:.*]] = tensor.extract_slice %[[WHOLE]][0, 0] [16, 64] [1, 1]
// CHECK-NEXT: %[[BLOCKS:.*]] = tensor.expand_shape %[[SLICE]] {{\[}}[0, 1], [2, 3]] output_shape [2, 8, 2, 32]
// CHECK-NEXT: scf.forall (%{{.*}}) in (2) shared_outs(%{{.*}} = %[[BLOCKS]])
// CHECK-NOT: tensor.empty
// BUF-LABEL: func.func @collapsed_into_a_slice
// BUF-COUNT-1: memref.alloc
// BUF-NOT: memref.alloc
// BUF-NOT: memref.copy
func.func @collapsed_into_a_slice(%x: f32) -> tensor<16x100xf32> {
  %e = tensor.empty() : tensor<2x8x2x32xf32>
  %r = scf.forall (%i) in (2) shared_outs(%o = %e) -> (tensor<2x8x2x32xf32>) {
    %t = tensor.extract_slice %o[0, 0, %i, 0] [2, 8, 1, 32] [1, 1, 1, 1] : tensor<2x8x2x32xf32> to tensor<2x8x1x32xf32>
    %f = linalg.fill ins(%x : f32) outs(%t : tensor<2x8x1x32xf32>) -> tensor<2x8x1x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %f into %o[0, 0, %i, 0] [2, 8, 1, 32] [1, 1, 1, 1] : tensor<2x8x1x32xf32> into tensor<2x8x2x32xf32>
    }
  }
  %c = tensor.collapse_shape %r [[0, 1], [2, 3]] : tensor<2x8x2x32xf32> into tensor<16x64xf32>
  %whole = tensor.empty() : tensor<16x100xf32>
  %in = tensor.insert_slice %c into %whole[0, 0] [16, 64] [1, 1] : tensor<16x64xf32> into tensor<16x100xf32>
  return %in : tensor<16x100xf32>
}

// An empty another op also reads is left alone: the slice would be written
// under that reader.
// CHECK-LABEL: func.func @shared_empty
// BUF-LABEL: func.func @shared_empty
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x8xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[E]]
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[E]]
func.func @shared_empty(%x: f32, %y: f32) -> (tensor<16x100xf32>, tensor<2x8xf32>) {
  %e = tensor.empty() : tensor<2x8xf32>
  %f = linalg.fill ins(%x : f32) outs(%e : tensor<2x8xf32>) -> tensor<2x8xf32>
  %g = linalg.fill ins(%y : f32) outs(%e : tensor<2x8xf32>) -> tensor<2x8xf32>
  %c = tensor.collapse_shape %f [[0, 1]] : tensor<2x8xf32> into tensor<16xf32>
  %whole = tensor.empty() : tensor<16x100xf32>
  %in = tensor.insert_slice %c into %whole[0, 0] [16, 1] [1, 1] : tensor<16xf32> into tensor<16x100xf32>
  return %in, %g : tensor<16x100xf32>, tensor<2x8xf32>
}

// An insert into a tensor made after the empty: a static empty dest moves up.
// CHECK-LABEL: func.func @expanded_into_a_later_dest
// CHECK: %[[WHOLE:.*]] = tensor.empty() : tensor<4x4x8xf32>
// CHECK-NEXT: %[[SLICE:.*]] = tensor.extract_slice %[[WHOLE]][0, 0, 0] [1, 4, 8] [1, 1, 1]
// CHECK-NEXT: %[[FLAT:.*]] = tensor.collapse_shape %[[SLICE]] {{\[}}[0, 1], [2]]
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[FLAT]] : tensor<4x8xf32>)
func.func @expanded_into_a_later_dest(%x: f32) -> tensor<4x4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%x : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %c = tensor.expand_shape %f [[0, 1], [2]] output_shape [1, 4, 8] : tensor<4x8xf32> into tensor<1x4x8xf32>
  %whole = tensor.empty() : tensor<4x4x8xf32>
  %in = tensor.insert_slice %c into %whole[0, 0, 0] [1, 4, 8] [1, 1, 1] : tensor<1x4x8xf32> into tensor<4x4x8xf32>
  return %in : tensor<4x4x8xf32>
}

// A slice at a dynamic offset is left alone: the offset need not be defined
// where the empty is.
// CHECK-LABEL: func.func @at_a_dynamic_offset
// CHECK: %[[E:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[E]]
func.func @at_a_dynamic_offset(%x: f32, %whole: tensor<4x4x8xf32>, %i: index) -> tensor<4x4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%x : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %c = tensor.expand_shape %f [[0, 1], [2]] output_shape [1, 4, 8] : tensor<4x8xf32> into tensor<1x4x8xf32>
  %in = tensor.insert_slice %c into %whole[%i, 0, 0] [1, 4, 8] [1, 1, 1] : tensor<1x4x8xf32> into tensor<4x4x8xf32>
  return %in : tensor<4x4x8xf32>
}

// A split contraction's result (its first part computed into whole blocks,
// the rest inserted after it), reshaped and inserted into a larger tensor,
// as a convolution's result into a concatenation: the outer insert is
// resolved first, so that the part's tensor becomes a slice of the larger
// one and the first part's empty a slice of that, moved up with the views
// it reads. Inner first, the part's tensor would have two readers and a
// copy into the larger one.
// CHECK-LABEL: func.func @split_into_a_larger_tensor
// CHECK: %[[WHOLE:.*]] = tensor.empty() : tensor<4x3x8xf32>
// CHECK-NEXT: %[[SLICE:.*]] = tensor.extract_slice %[[WHOLE]][0, 0, 0] [2, 3, 8] [1, 1, 1]
// CHECK-NEXT: %[[PARTS:.*]] = tensor.collapse_shape %[[SLICE]] {{\[}}[0], [1, 2]]
// CHECK-NEXT: %[[FIRST:.*]] = tensor.extract_slice %[[PARTS]][0, 0] [2, 16] [1, 1]
// CHECK-NEXT: %[[BLOCKS:.*]] = tensor.expand_shape %[[FIRST]] {{\[}}[0], [1, 2]] output_shape [2, 2, 8]
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[BLOCKS]] : tensor<2x2x8xf32>)
// BUF-LABEL: func.func @split_into_a_larger_tensor
// BUF-COUNT-1: memref.alloc
// BUF-NOT: memref.alloc
// BUF-NOT: memref.copy
func.func @split_into_a_larger_tensor(%x: f32, %y: f32) -> tensor<4x3x8xf32> {
  %e = tensor.empty() : tensor<2x2x8xf32>
  %f = linalg.fill ins(%x : f32) outs(%e : tensor<2x2x8xf32>) -> tensor<2x2x8xf32>
  %c = tensor.collapse_shape %f [[0], [1, 2]] : tensor<2x2x8xf32> into tensor<2x16xf32>
  %parts = tensor.empty() : tensor<2x24xf32>
  %first = tensor.insert_slice %c into %parts[0, 0] [2, 16] [1, 1] : tensor<2x16xf32> into tensor<2x24xf32>
  %r = tensor.empty() : tensor<2x8xf32>
  %g = linalg.fill ins(%y : f32) outs(%r : tensor<2x8xf32>) -> tensor<2x8xf32>
  %both = tensor.insert_slice %g into %first[0, 16] [2, 8] [1, 1] : tensor<2x8xf32> into tensor<2x24xf32>
  %ex = tensor.expand_shape %both [[0], [1, 2]] output_shape [2, 3, 8] : tensor<2x24xf32> into tensor<2x3x8xf32>
  %whole = tensor.empty() : tensor<4x3x8xf32>
  %in = tensor.insert_slice %ex into %whole[0, 0, 0] [2, 3, 8] [1, 1, 1] : tensor<2x3x8xf32> into tensor<4x3x8xf32>
  return %in : tensor<4x3x8xf32>
}
