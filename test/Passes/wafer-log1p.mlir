// RUN: wafer-opt %s -p wafer-log1p | filecheck %s

// log1p(x) = log(u) * (x / (u - 1)), u = 1 + x; x where u is 1, u where u is inf.
// CHECK-LABEL: func.func @log1p
// CHECK-SAME: (%[[X:.*]]: vector<8xf32>)
// CHECK-NOT: math.log1p
// CHECK-DAG: %[[INFS:.*]] = arith.constant dense<0x7F800000> : vector<8xf32>
// CHECK-DAG: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : vector<8xf32>
// CHECK: %[[U:.*]] = arith.addf %[[X]], %[[ONES]] : vector<8xf32>
// CHECK: %[[LOG:.*]] = math.log %[[U]] : vector<8xf32>
// CHECK: %[[D:.*]] = arith.subf %[[U]], %[[ONES]] : vector<8xf32>
// CHECK: %[[Q:.*]] = arith.divf %[[X]], %[[D]] : vector<8xf32>
// CHECK: %[[S:.*]] = arith.mulf %[[LOG]], %[[Q]] : vector<8xf32>
// CHECK: %[[ONE:.*]] = arith.cmpf oeq, %[[U]], %[[ONES]] : vector<8xf32>
// CHECK: %[[INF:.*]] = arith.cmpf oeq, %[[U]], %[[INFS]] : vector<8xf32>
// CHECK: %[[T:.*]] = arith.select %[[INF]], %[[U]], %[[S]]
// CHECK: %[[Y:.*]] = arith.select %[[ONE]], %[[X]], %[[T]]
// CHECK: return %[[Y]]
func.func @log1p(%x: vector<8xf32>) -> vector<8xf32> {
  %y = math.log1p %x : vector<8xf32>
  return %y : vector<8xf32>
}
