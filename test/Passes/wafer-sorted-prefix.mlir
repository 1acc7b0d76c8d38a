// RUN: wafer-opt %s -p 'wafer-sorted-prefix' | filecheck %s

// topk(3): both results are read through slices of the first 3 places.
// CHECK-LABEL: func.func @topk
// CHECK: tm_tensor.sort {wafer.sorted_prefix = 3 : i64} dimension(1)
func.func @topk(%x: tensor<2x9xf32>, %i: tensor<2x9xi64>) -> (tensor<2x3xf32>, tensor<2x3xi64>) {
  %r:2 = tm_tensor.sort dimension(1) outs(%x, %i : tensor<2x9xf32>, tensor<2x9xi64>) {
  ^bb0(%a: f32, %b: f32, %ia: i64, %ib: i64):
    %c = arith.cmpf oge, %a, %b : f32
    tm_tensor.yield %c : i1
  } -> tensor<2x9xf32>, tensor<2x9xi64>
  %v = tensor.extract_slice %r#0[0, 0] [2, 3] [1, 1] : tensor<2x9xf32> to tensor<2x3xf32>
  %j = tensor.extract_slice %r#1[0, 0] [2, 3] [1, 1] : tensor<2x9xi64> to tensor<2x3xi64>
  return %v, %j : tensor<2x3xf32>, tensor<2x3xi64>
}

// A slice past the start reads up to its end; a slice of the other dim does not count.
// CHECK-LABEL: func.func @middle
// CHECK: tm_tensor.sort {wafer.sorted_prefix = 6 : i64} dimension(0)
func.func @middle(%x: tensor<9x4xf32>) -> tensor<4x2xf32> {
  %r = tm_tensor.sort dimension(0) outs(%x : tensor<9x4xf32>) {
  ^bb0(%a: f32, %b: f32):
    %c = arith.cmpf ole, %a, %b : f32
    tm_tensor.yield %c : i1
  } -> tensor<9x4xf32>
  %v = tensor.extract_slice %r[2, 1] [4, 2] [1, 1] : tensor<9x4xf32> to tensor<4x2xf32>
  return %v : tensor<4x2xf32>
}

// A reader of the whole row (here the return), or a strided slice: the whole row is sorted.
// CHECK-LABEL: func.func @whole_rows
// CHECK-NOT: wafer.sorted_prefix
func.func @whole_rows(%x: tensor<9xf32>, %y: tensor<9xf32>) -> (tensor<9xf32>, tensor<3xf32>) {
  %r = tm_tensor.sort dimension(0) outs(%x : tensor<9xf32>) {
  ^bb0(%a: f32, %b: f32):
    %c = arith.cmpf ole, %a, %b : f32
    tm_tensor.yield %c : i1
  } -> tensor<9xf32>
  %s = tm_tensor.sort dimension(0) outs(%y : tensor<9xf32>) {
  ^bb0(%a: f32, %b: f32):
    %c = arith.cmpf ole, %a, %b : f32
    tm_tensor.yield %c : i1
  } -> tensor<9xf32>
  %v = tensor.extract_slice %s[0] [3] [2] : tensor<9xf32> to tensor<3xf32>
  return %r, %v : tensor<9xf32>, tensor<3xf32>
}
