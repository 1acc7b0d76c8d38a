// RUN: wafer-opt %s -p wafer-reciprocal-powers | filecheck %s

// A negative constant power, scalar or vector, is one divided by the positive one.
// CHECK-LABEL: func.func @negative
// CHECK-SAME: (%[[X:.*]]: f32, %[[V:.*]]: vector<16xf32>)
// CHECK-DAG: %[[THREE:.*]] = arith.constant 3 : i64
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[TWOS:.*]] = arith.constant dense<2> : vector<16xi64>
// CHECK-DAG: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : vector<16xf32>
// CHECK: %[[P:.*]] = math.fpowi %[[X]], %[[THREE]] : f32, i64
// CHECK: %[[R:.*]] = arith.divf %[[ONE]], %[[P]] : f32
// CHECK: %[[PV:.*]] = math.fpowi %[[V]], %[[TWOS]] : vector<16xf32>, vector<16xi64>
// CHECK: %[[RV:.*]] = arith.divf %[[ONES]], %[[PV]] : vector<16xf32>
// CHECK: return %[[R]], %[[RV]]
func.func @negative(%x: f32, %v: vector<16xf32>) -> (f32, vector<16xf32>) {
  %n = arith.constant -3 : i64
  %ns = arith.constant dense<-2> : vector<16xi64>
  %y = math.fpowi %x, %n : f32, i64
  %w = math.fpowi %v, %ns : vector<16xf32>, vector<16xi64>
  return %y, %w : f32, vector<16xf32>
}

// Positive and unknown exponents stay.
// CHECK-LABEL: func.func @others
// CHECK: math.fpowi %arg0, %{{.*}} : f32, i64
// CHECK: math.fpowi %arg0, %arg1 : f32, i64
// CHECK-NOT: arith.divf
func.func @others(%x: f32, %n: i64) -> (f32, f32) {
  %two = arith.constant 2 : i64
  %y = math.fpowi %x, %two : f32, i64
  %z = math.fpowi %x, %n : f32, i64
  return %y, %z : f32, f32
}
