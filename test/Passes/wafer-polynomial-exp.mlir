// RUN: wafer-opt %s -p wafer-polynomial-exp | filecheck %s
// RUN: wafer-opt %s -p wafer-polynomial-exp | filecheck %s --check-prefix=POLY
// RUN: wafer-opt %s -p 'wafer-polynomial-exp{scalef=true}' | filecheck %s --check-prefix=SCALEF

// n = round(x log2 e) by adding 1.5 * 2^23; the polynomial in r = x - n ln2;
// n's bits shifted into the exponent of exp(r); past the top inf (or NaN),
// below the bottom 0.
// CHECK-LABEL: func.func @scalar
// CHECK-SAME: (%[[X:.*]]: f32)
// CHECK-NOT: math.exp
// CHECK-DAG: %[[ROUNDING:.*]] = arith.constant 0x4B400000 : f32
// CHECK: %[[ROUNDED:.*]] = math.fma %[[X]], %{{.*}}, %[[ROUNDING]] : f32
// CHECK: %[[N:.*]] = arith.subf %[[ROUNDED]], %[[ROUNDING]] : f32
// CHECK: math.fma %[[N]], %{{.*}}, %[[X]] : f32
// CHECK-COUNT-7: math.fma
// exp(r) is Horner's all the way, 1 + r(1 + r q(r)): no multiply or add beside the FMAs.
// POLY-LABEL: func.func @scalar
// POLY-NOT: arith.mulf
// POLY: return
// CHECK: %[[N_BITS:.*]] = arith.bitcast %[[ROUNDED]] : f32 to i32
// CHECK: %[[POWER:.*]] = arith.shli %[[N_BITS]], %{{.*}} : i32
// CHECK: %[[EXP_R:.*]] = arith.bitcast %{{.*}} : f32 to i32
// CHECK: %[[SCALED:.*]] = arith.addi %[[EXP_R]], %[[POWER]] : i32
// CHECK: %[[RESULT:.*]] = arith.bitcast %[[SCALED]] : i32 to f32
// CHECK: %[[OVER:.*]] = arith.cmpf uge, %[[X]], %{{.*}} : f32
// CHECK: %[[INF:.*]] = arith.addf %[[X]], %{{.*}} : f32
// CHECK: %[[TOP:.*]] = arith.select %[[OVER]], %[[INF]], %[[RESULT]] : f32
// CHECK: %[[UNDER:.*]] = arith.cmpf olt, %[[X]], %{{.*}} : f32
// CHECK: arith.select %[[UNDER]], %{{.*}}, %[[TOP]] : f32
func.func @scalar(%x: f32) -> f32 {
  %y = math.exp %x : f32
  return %y : f32
}

// CHECK-LABEL: func.func @vector
// CHECK-NOT: math.exp
// CHECK: math.fma %{{.*}} : vector<8x16xf32>
// CHECK: arith.bitcast %{{.*}} : vector<8x16xi32> to vector<8x16xf32>
// With scalef, whole zmm vectors are clamped (a NaN passes both selects) and
// scaled by vscalefps 16 lanes at a time; no exponent bits, no select after.
// SCALEF-LABEL: func.func @vector
// SCALEF-SAME: (%[[X:.*]]: vector<8x16xf32>)
// SCALEF: %[[BELOW:.*]] = arith.cmpf olt, %[[X]], %{{.*}} : vector<8x16xf32>
// SCALEF: %[[LOW:.*]] = arith.select %[[BELOW]], %{{.*}}, %[[X]]
// SCALEF: %[[ABOVE:.*]] = arith.cmpf ogt, %[[LOW]], %{{.*}} : vector<8x16xf32>
// SCALEF: %[[CLAMPED:.*]] = arith.select %[[ABOVE]], %{{.*}}, %[[LOW]]
// SCALEF: math.fma %[[CLAMPED]], %{{.*}} : vector<8x16xf32>
// SCALEF-NOT: arith.shli
// SCALEF: vector.shape_cast %{{.*}} : vector<8x16xf32> to vector<128xf32>
// SCALEF-COUNT-8: x86.avx512.mask.scalef
// SCALEF-NOT: arith.select
// SCALEF: vector.shape_cast %{{.*}} : vector<128xf32> to vector<8x16xf32>
func.func @vector(%x: vector<8x16xf32>) -> vector<8x16xf32> {
  %y = math.exp %x : vector<8x16xf32>
  return %y : vector<8x16xf32>
}

// A vector of part of a zmm, and a scalar, keep the exponent bits.
// SCALEF-LABEL: func.func @part_of_a_register
// SCALEF-NOT: x86.avx512
// SCALEF: arith.shli %{{.*}} : vector<8xi32>
func.func @part_of_a_register(%x: vector<8xf32>) -> vector<8xf32> {
  %y = math.exp %x : vector<8xf32>
  return %y : vector<8xf32>
}

// Only f32 is rewritten.
// CHECK-LABEL: func.func @f64
// CHECK: math.exp %{{.*}} : f64
func.func @f64(%x: f64) -> f64 {
  %y = math.exp %x : f64
  return %y : f64
}
