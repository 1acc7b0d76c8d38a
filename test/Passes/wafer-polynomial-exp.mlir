// RUN: wafer-opt %s -p wafer-polynomial-exp | filecheck %s

// CHECK-LABEL: func.func @scalar
// CHECK-SAME: (%[[X:.*]]: f32)
// CHECK-NOT: math.exp
// CHECK: %[[LO:.*]] = arith.maximumf %[[X]], %{{.*}} : f32
// CHECK: %[[HI:.*]] = arith.minimumf %[[LO]], %{{.*}} : f32
// CHECK: math.floor
// CHECK-COUNT-8: math.fma
// CHECK: arith.fptosi %{{.*}} : f32 to i32
// CHECK: arith.shrsi
// CHECK-COUNT-2: arith.bitcast %{{.*}} : i32 to f32
// CHECK: %[[UNDER:.*]] = arith.cmpf olt, %[[X]], %{{.*}} : f32
// CHECK: arith.select %[[UNDER]], %{{.*}}, %{{.*}} : f32
func.func @scalar(%x: f32) -> f32 {
  %y = math.exp %x : f32
  return %y : f32
}

// CHECK-LABEL: func.func @vector
// CHECK-NOT: math.exp
// CHECK: math.floor %{{.*}} : vector<8x16xf32>
// CHECK: arith.bitcast %{{.*}} : vector<8x16xi32> to vector<8x16xf32>
func.func @vector(%x: vector<8x16xf32>) -> vector<8x16xf32> {
  %y = math.exp %x : vector<8x16xf32>
  return %y : vector<8x16xf32>
}

// Only f32 is rewritten.
// CHECK-LABEL: func.func @f64
// CHECK: math.exp %{{.*}} : f64
func.func @f64(%x: f64) -> f64 {
  %y = math.exp %x : f64
  return %y : f64
}
