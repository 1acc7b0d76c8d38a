// RUN: wafer-opt %s -p wafer-rational-math | filecheck %s

// tanh: x P(x^2) / Q(x^2) (Horner in FMAs), +-1 beyond 7.9, and x itself below 4e-4.
// CHECK-LABEL: func.func @tanh
// CHECK-SAME: (%[[X:.*]]: vector<8xf32>)
// CHECK-NOT: math.tanh
// CHECK: %[[SQ:.*]] = arith.mulf %[[X]], %[[X]]
// CHECK-COUNT-6: math.fma
// CHECK: %[[NUM:.*]] = arith.mulf %[[X]], %{{.*}}
// CHECK-COUNT-3: math.fma
// CHECK: %[[R:.*]] = arith.divf %[[NUM]], %{{.*}} : vector<8xf32>
// CHECK: %[[ABS:.*]] = math.absf %[[X]]
// CHECK: %[[BEYOND:.*]] = arith.cmpf ogt, %[[ABS]]
// CHECK: %[[ONE:.*]] = math.copysign %{{.*}}, %[[X]]
// CHECK: %[[S:.*]] = arith.select %[[BEYOND]], %[[ONE]], %[[R]]
// CHECK: %[[TINY:.*]] = arith.cmpf olt, %[[ABS]]
// CHECK: %[[Y:.*]] = arith.select %[[TINY]], %[[X]], %[[S]]
// CHECK: return %[[Y]]
func.func @tanh(%x: vector<8xf32>) -> vector<8xf32> {
  %y = math.tanh %x : vector<8xf32>
  return %y : vector<8xf32>
}

// erf: +-1 beyond 4, no small-x case.
// CHECK-LABEL: func.func @erf
// CHECK-NOT: math.erf
// CHECK-DAG: arith.constant 4.000000e+00 : f32
// CHECK: %[[R:.*]] = arith.divf
// CHECK: %[[Y:.*]] = arith.select %{{.*}}, %{{.*}}, %[[R]]
// CHECK-NEXT: return %[[Y]]
func.func @erf(%x: f32) -> f32 {
  %y = math.erf %x : f32
  return %y : f32
}

// Only f32 is rewritten.
// CHECK-LABEL: func.func @f64
// CHECK: math.tanh
// CHECK: math.erf
func.func @f64(%x: f64) -> f64 {
  %y = math.tanh %x : f64
  %z = math.erf %y : f64
  return %z : f64
}
