// RUN: wafer-opt %s -p 'wafer-slice-elementwise' | filecheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
#unit = affine_map<(d0, d1) -> (0, d1)>

// A bool buffer converted from bytes, then sliced twice (GPT-Neo's causal
// mask): the conversion runs on the 4x4 window alone.
// CHECK-LABEL: func.func @mask_window
// CHECK:      %[[ROWS:.*]] = tensor.extract_slice %arg0[0, 0] [4, 64] [1, 1] : tensor<64x64xi8> to tensor<4x64xi8>
// CHECK:      %[[WINDOW:.*]] = tensor.extract_slice %[[ROWS]][0, 0] [4, 4] [1, 1] : tensor<4x64xi8> to tensor<4x4xi8>
// CHECK:      %[[MASK:.*]] = linalg.generic {{.*}} ins(%[[WINDOW]] : tensor<4x4xi8>) outs(%{{.*}} : tensor<4x4xi1>)
// CHECK:        arith.cmpi ne
// CHECK:      return %[[MASK]] : tensor<4x4xi1>
func.func @mask_window(%bytes: tensor<64x64xi8>) -> tensor<4x4xi1> {
  %zero = arith.constant 0 : i8
  %e = tensor.empty() : tensor<64x64xi1>
  %mask = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%bytes : tensor<64x64xi8>) outs(%e : tensor<64x64xi1>) {
  ^bb0(%in: i8, %out: i1):
    %b = arith.cmpi ne, %in, %zero : i8
    linalg.yield %b : i1
  } -> tensor<64x64xi1>
  %rows = tensor.extract_slice %mask[0, 0] [4, 64] [1, 1] : tensor<64x64xi1> to tensor<4x64xi1>
  %window = tensor.extract_slice %rows[0, 0] [4, 4] [1, 1] : tensor<4x64xi1> to tensor<4x4xi1>
  return %window : tensor<4x4xi1>
}

// Broadcast inputs are cut along the loops they read: a row along d1, a unit
// dim kept at 0 one wide.
// CHECK-LABEL: func.func @broadcast_inputs
// CHECK-DAG:  tensor.extract_slice %arg0[2, 8] [3, 5] [1, 1] : tensor<16x32xf32> to tensor<3x5xf32>
// CHECK-DAG:  tensor.extract_slice %arg1[8] [5] [1] : tensor<32xf32> to tensor<5xf32>
// CHECK-DAG:  tensor.extract_slice %arg2[0, 8] [1, 5] [1, 1] : tensor<1x32xf32> to tensor<1x5xf32>
// CHECK:      linalg.generic {{.*}} outs(%{{.*}} : tensor<3x5xf32>)
func.func @broadcast_inputs(%x: tensor<16x32xf32>, %b: tensor<32xf32>, %s: tensor<1x32xf32>) -> tensor<3x5xf32> {
  %e = tensor.empty() : tensor<16x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #unit, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b, %s : tensor<16x32xf32>, tensor<32xf32>, tensor<1x32xf32>) outs(%e : tensor<16x32xf32>) {
  ^bb0(%in: f32, %bias: f32, %scale: f32, %out: f32):
    %sum = arith.addf %in, %bias : f32
    %product = arith.mulf %sum, %scale : f32
    linalg.yield %product : f32
  } -> tensor<16x32xf32>
  %slice = tensor.extract_slice %y[2, 8] [3, 5] [1, 1] : tensor<16x32xf32> to tensor<3x5xf32>
  return %slice : tensor<3x5xf32>
}

// Two elementwise ops in a row: the slice moves through both, so each
// computes the 4x4 window alone.
// CHECK-LABEL: func.func @through_two
// CHECK:      tensor.extract_slice %arg0[8, 8] [4, 4] [1, 1] : tensor<64x64xf32> to tensor<4x4xf32>
// CHECK:      %[[NEG:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x4xf32>)
// CHECK:        arith.negf
// CHECK:      %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[NEG]] : tensor<4x4xf32>) outs(%{{.*}} : tensor<4x4xf32>)
// CHECK:        arith.addf
// CHECK:      return %[[SUM]] : tensor<4x4xf32>
func.func @through_two(%x: tensor<64x64xf32>) -> tensor<4x4xf32> {
  %e = tensor.empty() : tensor<64x64xf32>
  %neg = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x64xf32>) outs(%e : tensor<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<64x64xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%neg : tensor<64x64xf32>) outs(%e : tensor<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<64x64xf32>
  %window = tensor.extract_slice %sum[8, 8] [4, 4] [1, 1] : tensor<64x64xf32> to tensor<4x4xf32>
  return %window : tensor<4x4xf32>
}

// Left alone: a result used besides the slice, a body that reads its loop
// indices (a slice would shift them), and a strided slice.
// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-3: linalg.generic {{.*}} outs(%{{.*}} : tensor<8x8xf32>)
func.func @left_alone(%x: tensor<8x8xf32>) -> (tensor<2x2xf32>, tensor<8x8xf32>, tensor<2x2xf32>, tensor<2x2xf32>) {
  %e = tensor.empty() : tensor<8x8xf32>
  %twice = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<8x8xf32>
  %a = tensor.extract_slice %twice[0, 0] [2, 2] [1, 1] : tensor<8x8xf32> to tensor<2x2xf32>
  %iota = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<8x8xf32>) {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %n = arith.index_cast %i : index to i32
    %f = arith.sitofp %n : i32 to f32
    linalg.yield %f : f32
  } -> tensor<8x8xf32>
  %b = tensor.extract_slice %iota[4, 4] [2, 2] [1, 1] : tensor<8x8xf32> to tensor<2x2xf32>
  %neg = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %c = tensor.extract_slice %neg[0, 0] [2, 2] [2, 2] : tensor<8x8xf32> to tensor<2x2xf32>
  return %a, %twice, %b, %c : tensor<2x2xf32>, tensor<8x8xf32>, tensor<2x2xf32>, tensor<2x2xf32>
}
