// RUN: wafer-opt %s -p wafer-unshare-inits | filecheck %s

// Two unrelated matmuls that CSE left writing into one fill of one empty:
// each gets its own empty and fill, made just before it, so bufferization
// gives them separate buffers with separate lifetimes (and copies nothing).
// CHECK-LABEL: func.func @two_matmuls
// CHECK: %[[E1:.*]] = tensor.empty() : tensor<4x4xf32>
// CHECK-NEXT: %[[F1:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E1]] : tensor<4x4xf32>)
// CHECK-NEXT: %[[M1:.*]] = linalg.matmul ins(%arg0, %arg1 : {{.*}}) outs(%[[F1]] : tensor<4x4xf32>)
// CHECK-NEXT: %[[E2:.*]] = tensor.empty() : tensor<4x4xf32>
// CHECK-NEXT: %[[F2:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E2]] : tensor<4x4xf32>)
// CHECK-NEXT: %[[M2:.*]] = linalg.matmul ins(%[[M1]], %arg1 : {{.*}}) outs(%[[F2]] : tensor<4x4xf32>)
func.func @two_matmuls(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x4xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %m1 = linalg.matmul ins(%a, %b : tensor<4x4xf32>, tensor<4x4xf32>) outs(%f : tensor<4x4xf32>) -> tensor<4x4xf32>
  %m2 = linalg.matmul ins(%m1, %b : tensor<4x4xf32>, tensor<4x4xf32>) outs(%f : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %m2 : tensor<4x4xf32>
}

// A use inside a loop keeps the original: a clone there would be a whole
// 64x64 buffer made on every trip, to be sliced.
// CHECK-LABEL: func.func @sliced_in_loop
// CHECK: %[[E:.*]] = tensor.empty() : tensor<64x64xf32>
// CHECK-NOT: tensor.empty
// CHECK: scf.forall
// CHECK: tensor.extract_slice %[[E]]
func.func @sliced_in_loop(%a: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %e = tensor.empty() : tensor<64x64xf32>
  %r = scf.forall (%i) in (4) shared_outs(%out = %a) -> tensor<64x64xf32> {
    %o = affine.apply affine_map<(d0) -> (d0 * 16)>(%i)
    %tile = tensor.extract_slice %e[%o, 0] [16, 64] [1, 1] : tensor<64x64xf32> to tensor<16x64xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %tile into %out[%o, 0] [16, 64] [1, 1] : tensor<16x64xf32> into tensor<64x64xf32>
    }
  }
  return %r : tensor<64x64xf32>
}
