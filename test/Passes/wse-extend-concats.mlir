// RUN: wafer-opt %s -p wse-extend-concats | filecheck %s

// A densely connected block: each layer's input concatenates every earlier
// feature map anew. Each concat then reads the one before it and the new map.
// CHECK-LABEL: func.func @dense
// CHECK: %[[C1:.*]] = tensor.concat dim(1) %arg0, %arg1 :
// CHECK: %[[C2:.*]] = tensor.concat dim(1) %[[C1]], %arg2 : (tensor<2x6xf32>, tensor<2x3xf32>) -> tensor<2x9xf32>
// CHECK: %[[C3:.*]] = tensor.concat dim(1) %[[C2]], %arg3 : (tensor<2x9xf32>, tensor<2x3xf32>) -> tensor<2x12xf32>
// CHECK: return %[[C1]], %[[C2]], %[[C3]]
func.func @dense(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>, %c: tensor<2x3xf32>, %d: tensor<2x3xf32>)
    -> (tensor<2x6xf32>, tensor<2x9xf32>, tensor<2x12xf32>) {
  %0 = tensor.concat dim(1) %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x6xf32>
  %1 = tensor.concat dim(1) %a, %b, %c : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x9xf32>
  %2 = tensor.concat dim(1) %a, %b, %c, %d
      : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x12xf32>
  return %0, %1, %2 : tensor<2x6xf32>, tensor<2x9xf32>, tensor<2x12xf32>
}

// The longest earlier run wins, wherever it stands among the operands.
// CHECK-LABEL: func.func @middle
// CHECK: %[[BC:.*]] = tensor.concat dim(0) %arg1, %arg2 :
// CHECK: %[[BCD:.*]] = tensor.concat dim(0) %[[BC]], %arg3 :
// CHECK: tensor.concat dim(0) %arg0, %[[BCD]], %arg0 : (tensor<2x3xf32>, tensor<6x3xf32>, tensor<2x3xf32>) -> tensor<10x3xf32>
func.func @middle(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>, %c: tensor<2x3xf32>, %d: tensor<2x3xf32>)
    -> (tensor<4x3xf32>, tensor<6x3xf32>, tensor<10x3xf32>) {
  %0 = tensor.concat dim(0) %b, %c : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  %1 = tensor.concat dim(0) %b, %c, %d : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<6x3xf32>
  %2 = tensor.concat dim(0) %a, %b, %c, %d, %a
      : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<10x3xf32>
  return %0, %1, %2 : tensor<4x3xf32>, tensor<6x3xf32>, tensor<10x3xf32>
}

// Left alone: an earlier concat along another dim, a run out of order, and a
// later concat (it does not dominate).
// CHECK-LABEL: func.func @kept
// CHECK: tensor.concat dim(0) %arg0, %arg1 :
// CHECK: tensor.concat dim(1) %arg0, %arg1, %arg2 :
// CHECK: tensor.concat dim(1) %arg1, %arg0, %arg2 :
// CHECK: tensor.concat dim(1) %arg1, %arg0 :
func.func @kept(%a: tensor<2x2xf32>, %b: tensor<2x2xf32>, %c: tensor<2x2xf32>)
    -> (tensor<4x2xf32>, tensor<2x6xf32>, tensor<2x6xf32>, tensor<2x4xf32>) {
  %0 = tensor.concat dim(0) %a, %b : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %1 = tensor.concat dim(1) %a, %b, %c : (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x6xf32>
  %2 = tensor.concat dim(1) %b, %a, %c : (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x6xf32>
  %3 = tensor.concat dim(1) %b, %a : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x4xf32>
  return %0, %1, %2, %3 : tensor<4x2xf32>, tensor<2x6xf32>, tensor<2x6xf32>, tensor<2x4xf32>
}
