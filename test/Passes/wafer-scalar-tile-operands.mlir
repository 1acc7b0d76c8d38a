// RUN: wafer-opt %s -p 'wafer-scalar-tile-operands{machine=avx512}' | filecheck %s

#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#channel = affine_map<(d0, d1, d2, d3) -> (0, d1, 0, 0)>
#one = affine_map<(d0, d1, d2, d3) -> (0, 0, 0, 0)>

// A depthwise convolution's epilogue, per channel and row of 7 pixels: its
// channel's mean and variance are 1x1x1x1 slices. They become scalars read from
// above, the square root of the variance moves out of the body (once per row),
// and the generic keeps only the row.
// CHECK-LABEL: func.func @epilogue_row
// CHECK: scf.forall
// CHECK: %[[MEAN:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : tensor<1x1x1x1xf32>
// CHECK: %[[VAR:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : tensor<1x1x1x1xf32>
// CHECK: %[[SCALE:.*]] = math.rsqrt %[[VAR]] : f32
// CHECK: linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%{{.*}} : tensor<1x1x1x7xf32>)
// CHECK-NEXT: ^bb0(%[[OUT:.*]]: f32):
// CHECK-NEXT: %[[CENTERED:.*]] = arith.subf %[[OUT]], %[[MEAN]] : f32
// CHECK-NEXT: arith.mulf %[[CENTERED]], %[[SCALE]] : f32
func.func @epilogue_row(%x: tensor<1x8x7x7xf32>, %mean: tensor<1x8x1x1xf32>, %var: tensor<1x8x1x1xf32>) -> tensor<1x8x7x7xf32> {
  %r = scf.forall (%c, %h) in (8, 7) shared_outs(%acc = %x) -> (tensor<1x8x7x7xf32>) {
    %row = tensor.extract_slice %acc[0, %c, %h, 0] [1, 1, 1, 7] [1, 1, 1, 1] : tensor<1x8x7x7xf32> to tensor<1x1x1x7xf32>
    %m = tensor.extract_slice %mean[0, %c, 0, 0] [1, 1, 1, 1] [1, 1, 1, 1] : tensor<1x8x1x1xf32> to tensor<1x1x1x1xf32>
    %v = tensor.extract_slice %var[0, %c, 0, 0] [1, 1, 1, 1] [1, 1, 1, 1] : tensor<1x8x1x1xf32> to tensor<1x1x1x1xf32>
    %y = linalg.generic {indexing_maps = [#one, #one, #row], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
        ins(%m, %v : tensor<1x1x1x1xf32>, tensor<1x1x1x1xf32>) outs(%row : tensor<1x1x1x7xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %s = math.rsqrt %b : f32
      %d = arith.subf %o, %a : f32
      %n = arith.mulf %d, %s : f32
      linalg.yield %n : f32
    } -> tensor<1x1x1x7xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %y into %acc[0, %c, %h, 0] [1, 1, 1, 7] [1, 1, 1, 1] : tensor<1x1x1x7xf32> into tensor<1x8x7x7xf32>
    }
  }
  return %r : tensor<1x8x7x7xf32>
}

// Rows of 40 (two and a half AVX-512 vectors) whose per-element ops are a
// subtraction: LLVM's loop vectorizer does as well, so the tile is left as it is.
// CHECK-LABEL: func.func @long_plain_row
// CHECK-NOT: tensor.extract %
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x1x1xf32>) outs(%{{.*}} : tensor<1x1x1x40xf32>)
func.func @long_plain_row(%x: tensor<1x8x2x40xf32>, %mean: tensor<1x8x1x1xf32>) -> tensor<1x8x2x40xf32> {
  %r = scf.forall (%c, %h) in (8, 2) shared_outs(%acc = %x) -> (tensor<1x8x2x40xf32>) {
    %row = tensor.extract_slice %acc[0, %c, %h, 0] [1, 1, 1, 40] [1, 1, 1, 1] : tensor<1x8x2x40xf32> to tensor<1x1x1x40xf32>
    %m = tensor.extract_slice %mean[0, %c, 0, 0] [1, 1, 1, 1] [1, 1, 1, 1] : tensor<1x8x1x1xf32> to tensor<1x1x1x1xf32>
    %y = linalg.generic {indexing_maps = [#one, #row], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
        ins(%m : tensor<1x1x1x1xf32>) outs(%row : tensor<1x1x1x40xf32>) {
    ^bb0(%a: f32, %o: f32):
      %d = arith.subf %o, %a : f32
      linalg.yield %d : f32
    } -> tensor<1x1x1x40xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %y into %acc[0, %c, %h, 0] [1, 1, 1, 40] [1, 1, 1, 1] : tensor<1x1x1x40xf32> into tensor<1x8x2x40xf32>
    }
  }
  return %r : tensor<1x8x2x40xf32>
}

// Rows of 32 (two AVX-512 vectors): wafer-vectorize vectorizes them, and would
// read the mean through a broadcast, a loop of lane inserts; it is a scalar.
// CHECK-LABEL: func.func @whole_vector_row
// CHECK: %[[MEAN:.*]] = tensor.extract %{{.*}} : tensor<1x1x1x1xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x1x32xf32>)
// CHECK: arith.subf %{{.*}}, %[[MEAN]] : f32
func.func @whole_vector_row(%x: tensor<1x8x2x32xf32>, %mean: tensor<1x8x1x1xf32>) -> tensor<1x8x2x32xf32> {
  %r = scf.forall (%c, %h) in (8, 2) shared_outs(%acc = %x) -> (tensor<1x8x2x32xf32>) {
    %row = tensor.extract_slice %acc[0, %c, %h, 0] [1, 1, 1, 32] [1, 1, 1, 1] : tensor<1x8x2x32xf32> to tensor<1x1x1x32xf32>
    %m = tensor.extract_slice %mean[0, %c, 0, 0] [1, 1, 1, 1] [1, 1, 1, 1] : tensor<1x8x1x1xf32> to tensor<1x1x1x1xf32>
    %y = linalg.generic {indexing_maps = [#one, #row], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
        ins(%m : tensor<1x1x1x1xf32>) outs(%row : tensor<1x1x1x32xf32>) {
    ^bb0(%a: f32, %o: f32):
      %d = arith.subf %o, %a : f32
      linalg.yield %d : f32
    } -> tensor<1x1x1x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %y into %acc[0, %c, %h, 0] [1, 1, 1, 32] [1, 1, 1, 1] : tensor<1x1x1x32xf32> into tensor<1x8x2x32xf32>
    }
  }
  return %r : tensor<1x8x2x32xf32>
}

// Batch norm's shift and a SiLU over a whole [1, 8, 7, 7] result that no loop
// tiled: it becomes a loop over rows, and each row reads its channel's shift
// as a scalar.
// CHECK-LABEL: func.func @untiled_silu
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[SHIFT:.*]] = tensor.extract %{{.*}} : tensor<1x1x1x1xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x1x7xf32>) outs(%{{.*}} : tensor<1x1x1x7xf32>)
// CHECK: arith.addf %{{.*}}, %[[SHIFT]] : f32
// CHECK: math.exp
func.func @untiled_silu(%x: tensor<1x8x7x7xf32>, %shift: tensor<1x8x1x1xf32>) -> tensor<1x8x7x7xf32> {
  %e = tensor.empty() : tensor<1x8x7x7xf32>
  %y = linalg.generic {indexing_maps = [#row, #channel, #row], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %shift : tensor<1x8x7x7xf32>, tensor<1x8x1x1xf32>) outs(%e : tensor<1x8x7x7xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %s = arith.addf %a, %b : f32
    %n = arith.negf %s : f32
    %x1 = math.exp %n : f32
    %d = arith.addf %x1, %one : f32
    %g = arith.divf %s, %d : f32
    linalg.yield %g : f32
  } -> tensor<1x8x7x7xf32>
  return %y : tensor<1x8x7x7xf32>
}

// Every input read along the rows: nothing to tile for.
// CHECK-LABEL: func.func @plain_add
// CHECK-NOT: scf.for
func.func @plain_add(%x: tensor<1x8x7x7xf32>, %z: tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32> {
  %e = tensor.empty() : tensor<1x8x7x7xf32>
  %y = linalg.generic {indexing_maps = [#row, #row, #row], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %z : tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>) outs(%e : tensor<1x8x7x7xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x8x7x7xf32>
  return %y : tensor<1x8x7x7xf32>
}

// A SiLU alone (a folded batch norm left nothing per channel) over rows of 14,
// not whole vectors: LLVM's loop vectorizer would leave its exp and division
// scalar, so it is tiled into rows, which wafer-vectorize vectorizes.
// CHECK-LABEL: func.func @lone_silu_ragged_rows
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x1x14xf32>) outs(%{{.*}} : tensor<1x1x1x14xf32>)
// CHECK: math.exp
func.func @lone_silu_ragged_rows(%x: tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> {
  %e = tensor.empty() : tensor<1x8x14x14xf32>
  %y = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x8x14x14xf32>) outs(%e : tensor<1x8x14x14xf32>) {
  ^bb0(%a: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %a : f32
    %x1 = math.exp %n : f32
    %d = arith.addf %x1, %one : f32
    %g = arith.divf %a, %d : f32
    linalg.yield %g : f32
  } -> tensor<1x8x14x14xf32>
  return %y : tensor<1x8x14x14xf32>
}

// The same over rows of 32, whole vectors (an NHWC image's rows of channels):
// tiled into rows as well. wafer-vectorize takes only tiles inside a loop, and
// LLVM's loop vectorizer leaves the exponential scalar.
// CHECK-LABEL: func.func @lone_silu_whole_vector_rows
// CHECK: scf.for
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x1x32xf32>)
func.func @lone_silu_whole_vector_rows(%x: tensor<1x8x4x32xf32>) -> tensor<1x8x4x32xf32> {
  %e = tensor.empty() : tensor<1x8x4x32xf32>
  %y = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x8x4x32xf32>) outs(%e : tensor<1x8x4x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %a : f32
    %x1 = math.exp %n : f32
    %d = arith.addf %x1, %one : f32
    %g = arith.divf %a, %d : f32
    linalg.yield %g : f32
  } -> tensor<1x8x4x32xf32>
  return %y : tensor<1x8x4x32xf32>
}
