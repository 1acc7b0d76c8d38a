// RUN: wafer-opt %s -p 'wafer-sort-nan-order' | filecheck %s

// Ascending (torch.sort): a NaN right-hand element sorts after the left one.
// CHECK-LABEL: func.func @ascending
// CHECK: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: f32, %{{.*}}: i64, %{{.*}}: i64):
// CHECK-NEXT: %[[NAN:.*]] = arith.cmpf uno, %[[B]], %[[B]] : f32
// CHECK-NEXT: %[[LE:.*]] = arith.cmpf ole, %[[A]], %[[B]] : f32
// CHECK-NEXT: %[[BEFORE:.*]] = arith.ori %[[LE]], %[[NAN]] : i1
// CHECK-NEXT: tm_tensor.yield %[[BEFORE]] : i1
func.func @ascending(%x: tensor<2x6xf32>, %i: tensor<2x6xi64>) -> (tensor<2x6xf32>, tensor<2x6xi64>) {
  %r:2 = tm_tensor.sort dimension(1) outs(%x, %i : tensor<2x6xf32>, tensor<2x6xi64>) {
  ^bb0(%a: f32, %b: f32, %ia: i64, %ib: i64):
    %c = arith.cmpf ole, %a, %b : f32
    tm_tensor.yield %c : i1
  } -> tensor<2x6xf32>, tensor<2x6xi64>
  return %r#0, %r#1 : tensor<2x6xf32>, tensor<2x6xi64>
}

// Descending, strict: a NaN left-hand element comes first, unless both are NaN.
// CHECK-LABEL: func.func @descending_strict
// CHECK: ^bb0(%[[A:.*]]: f64, %[[B:.*]]: f64):
// CHECK-NEXT: %[[NAN:.*]] = arith.cmpf uno, %[[A]], %[[A]] : f64
// CHECK-NEXT: %[[NUMBER:.*]] = arith.cmpf ord, %[[B]], %[[B]] : f64
// CHECK-NEXT: %[[WINS:.*]] = arith.andi %[[NAN]], %[[NUMBER]] : i1
// CHECK-NEXT: %[[GT:.*]] = arith.cmpf ogt, %[[A]], %[[B]] : f64
// CHECK-NEXT: %[[BEFORE:.*]] = arith.ori %[[GT]], %[[WINS]] : i1
// CHECK-NEXT: tm_tensor.yield %[[BEFORE]] : i1
func.func @descending_strict(%x: tensor<7xf64>) -> tensor<7xf64> {
  %r = tm_tensor.sort dimension(0) outs(%x : tensor<7xf64>) {
  ^bb0(%a: f64, %b: f64):
    %c = arith.cmpf ogt, %a, %b : f64
    tm_tensor.yield %c : i1
  } -> tensor<7xf64>
  return %r : tensor<7xf64>
}

// Integers have no NaN: the comparator is left alone.
// CHECK-LABEL: func.func @integers
// CHECK: arith.cmpi sle
// CHECK-NEXT: tm_tensor.yield
func.func @integers(%x: tensor<5xi32>) -> tensor<5xi32> {
  %r = tm_tensor.sort dimension(0) outs(%x : tensor<5xi32>) {
  ^bb0(%a: i32, %b: i32):
    %c = arith.cmpi sle, %a, %b : i32
    tm_tensor.yield %c : i1
  } -> tensor<5xi32>
  return %r : tensor<5xi32>
}
