// RUN: wafer-opt %s -p wafer-lower-contractions | filecheck %s

// A packed kernel's K step, as wafer-pack-matmul leaves it: A's panel [k][m],
// B's [k][n]. Each of the 2 K steps is one outer product, a broadcast-FMA per
// row of the 3x8 accumulator.
// CHECK-LABEL: func.func @panel_step
// CHECK-NOT: vector.contract
// CHECK-COUNT-6: vector.fma %{{.*}} : vector<8xf32>
// CHECK-NOT: vector.fma
#a = affine_map<(m, n, k) -> (k, m)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @panel_step(%a: memref<2x3xf32>, %b: memref<2x8xf32>, %c: memref<3x8xf32>) {
  %i0 = arith.constant 0 : index
  %f0 = arith.constant 0.0 : f32
  %va = vector.transfer_read %a[%i0, %i0], %f0 {in_bounds = [true, true]} : memref<2x3xf32>, vector<2x3xf32>
  %vb = vector.transfer_read %b[%i0, %i0], %f0 {in_bounds = [true, true]} : memref<2x8xf32>, vector<2x8xf32>
  %vc = vector.transfer_read %c[%i0, %i0], %f0 {in_bounds = [true, true]} : memref<3x8xf32>, vector<3x8xf32>
  %r = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"],
                        kind = #vector.kind<add>} %va, %vb, %vc : vector<2x3xf32>, vector<2x8xf32> into vector<3x8xf32>
  vector.transfer_write %r, %c[%i0, %i0] {in_bounds = [true, true]} : vector<3x8xf32>, memref<3x8xf32>
  return
}

// A row-major A ([m][k]) is transposed to the same outer products.
// CHECK-LABEL: func.func @row_major
// CHECK-NOT: vector.contract
// CHECK-COUNT-8: vector.fma %{{.*}} : vector<16xf32>
// CHECK-NOT: vector.fma
#ra = affine_map<(m, n, k) -> (m, k)>
func.func @row_major(%a: vector<2x4xf32>, %b: vector<4x16xf32>, %c: vector<2x16xf32>) -> vector<2x16xf32> {
  %r = vector.contract {indexing_maps = [#ra, #b, #c], iterator_types = ["parallel", "parallel", "reduction"],
                        kind = #vector.kind<add>} %a, %b, %c : vector<2x4xf32>, vector<4x16xf32> into vector<2x16xf32>
  return %r : vector<2x16xf32>
}

// A direct convolution's tap, 4 filters' weights times an input row of 8
// pixels: one FMA per filter, its weight broadcast along the row.
// CHECK-LABEL: func.func @tap
// CHECK-NOT: vector.outerproduct
// CHECK-COUNT-4: vector.fma %{{.*}} : vector<8xf32>
// CHECK-NOT: vector.fma
func.func @tap(%w: vector<4xf32>, %x: vector<8xf32>, %acc: vector<4x8xf32>) -> vector<4x8xf32> {
  %r = vector.outerproduct %w, %x, %acc : vector<4xf32>, vector<8xf32>
  return %r : vector<4x8xf32>
}

// A module with no contraction is left as it is.
// CHECK-LABEL: func.func @no_contraction
// CHECK-NEXT: arith.addf
func.func @no_contraction(%x: vector<8xf32>) -> vector<8xf32> {
  %y = arith.addf %x, %x : vector<8xf32>
  return %y : vector<8xf32>
}
