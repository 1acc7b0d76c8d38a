// RUN: wafer-opt %s -p 'wafer-scalars-as-tensors' | filecheck %s

// Scalar arguments and results of a public function cross as rank-0 tensors.
// CHECK-LABEL: func.func @step(%arg0: tensor<f64>, %arg1: tensor<4xf64>) -> (tensor<f64>, tensor<i1>)
// CHECK-NEXT: %[[X:.*]] = tensor.extract %arg0[] : tensor<f64>
// CHECK: %[[S:.*]] = arith.addf %[[X]]
// CHECK: %[[B:.*]] = arith.cmpf ogt, %[[S]]
// CHECK: %[[ST:.*]] = tensor.from_elements %[[S]] : tensor<f64>
// CHECK-NEXT: %[[BT:.*]] = tensor.from_elements %[[B]] : tensor<i1>
// CHECK-NEXT: return %[[ST]], %[[BT]] : tensor<f64>, tensor<i1>
func.func @step(%x: f64, %unused: tensor<4xf64>) -> (f64, i1) {
  %one = arith.constant 1.0 : f64
  %s = arith.addf %x, %one : f64
  %b = arith.cmpf ogt, %s, %one : f64
  return %s, %b : f64, i1
}

// Private functions keep their scalars: only the C interface needs tensors.
// CHECK-LABEL: func.func private @helper(%arg0: f32) -> f32
func.func private @helper(%x: f32) -> f32 {
  return %x : f32
}
