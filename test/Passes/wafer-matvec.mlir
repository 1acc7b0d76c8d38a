// RUN: wafer-opt %s -p 'wafer-matvec{machine=avx512}' | filecheck %s

// A batch-1 linear layer (its weights [N, K], as torch lays them out) becomes
// dot products: 8 weight rows side by side, each an FMA chain of 16 lanes,
// reduced across lanes once and added to the bias the output starts from.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: wafer.strategy = ["matrix-vector 1x40x64: 8 weight rows at a time, 4 vectors a step, serial"]
// CHECK: scf.forall (%[[BLOCK:.*]]) in (5) shared_outs
// CHECK: scf.for {{.*}} to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-32: vector.fma
// CHECK: vector.reduction <add>
// CHECK: vector.from_elements {{.*}} : vector<8xf32>
// CHECK: arith.addf {{.*}} : vector<8xf32>
// CHECK: tensor.parallel_insert_slice {{.*}} into %{{.*}}[0, %{{.*}}] [1, 8] [1, 1]
// CHECK-NOT: linalg.matmul
func.func @linear(%x: tensor<1x64xf32>, %bias: tensor<1x40xf32>) -> tensor<1x40xf32> {
  %w = arith.constant dense<0.5> : tensor<40x64xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
       ins(%x, %w : tensor<1x64xf32>, tensor<40x64xf32>) outs(%bias : tensor<1x40xf32>) -> tensor<1x40xf32>
  return %y : tensor<1x40xf32>
}

// Weights laid out [K, N], two rows of A, K in no whole vectors, or A the constant: left for wafer-pack-matmul.
// CHECK-LABEL: func.func @not_rows
// CHECK-NOT: scf.forall
// CHECK-COUNT-4: linalg.matmul
func.func @not_rows(%x: tensor<1x64xf32>, %x2: tensor<2x64xf32>, %x20: tensor<1x20xf32>, %b: tensor<64x1xf32>)
    -> (tensor<1x40xf32>, tensor<2x40xf32>, tensor<1x40xf32>, tensor<40x1xf32>) {
  %kn = arith.constant dense<0.5> : tensor<64x40xf32>
  %nk = arith.constant dense<0.5> : tensor<40x64xf32>
  %nk20 = arith.constant dense<0.5> : tensor<40x20xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<1x40xf32>
  %c1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x40xf32>) -> tensor<1x40xf32>
  %e2 = tensor.empty() : tensor<2x40xf32>
  %c2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x40xf32>) -> tensor<2x40xf32>
  %e3 = tensor.empty() : tensor<40x1xf32>
  %c3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<40x1xf32>) -> tensor<40x1xf32>
  %0 = linalg.matmul ins(%x, %kn : tensor<1x64xf32>, tensor<64x40xf32>) outs(%c1 : tensor<1x40xf32>) -> tensor<1x40xf32>
  %1 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
       ins(%x2, %nk : tensor<2x64xf32>, tensor<40x64xf32>) outs(%c2 : tensor<2x40xf32>) -> tensor<2x40xf32>
  %2 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
       ins(%x20, %nk20 : tensor<1x20xf32>, tensor<40x20xf32>) outs(%c1 : tensor<1x40xf32>) -> tensor<1x40xf32>
  %3 = linalg.matmul ins(%nk, %b : tensor<40x64xf32>, tensor<64x1xf32>) outs(%c3 : tensor<40x1xf32>) -> tensor<40x1xf32>
  return %0, %1, %2, %3 : tensor<1x40xf32>, tensor<2x40xf32>, tensor<1x40xf32>, tensor<40x1xf32>
}
