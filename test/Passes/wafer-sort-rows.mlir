// RUN: wafer-opt %s -p 'wafer-sort-rows,canonicalize' | filecheck %s
// RUN: wafer-opt %s -p 'wafer-sort-rows{insertion-prefix=2},canonicalize' | filecheck %s --check-prefix=MERGE

// topk(3) of rows of 9: each element is compared with the third placed one
// (oge with the operands swapped: a later element goes first only where the
// placed one may not), and enters the first three only if it goes before it
// or one of those places is still free; the placed ones it goes before
// shift one place on, values and indices together.
// CHECK-LABEL: func.func @topk
// CHECK-NOT: tm_tensor.sort
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C3:.*]] = arith.constant 3 : index
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[NEW:.*]] = memref.load %arg0[%[[ROW]], %[[J]]]
// CHECK: %[[NEW_INDEX:.*]] = memref.load %arg1[%[[ROW]], %[[J]]]
// CHECK: %[[FREE:.*]] = arith.cmpi ult, %[[J]], %[[C3]]
// CHECK: %[[THIRD:.*]] = memref.load %arg0[%[[ROW]], %[[C2]]]
// CHECK: %[[ALLOWED:.*]] = arith.cmpf oge, %[[THIRD]], %[[NEW]]
// CHECK: %[[BEFORE:.*]] = arith.xori %[[ALLOWED]], %true
// CHECK: %[[ENTERS:.*]] = arith.ori %[[FREE]], %[[BEFORE]]
// CHECK: scf.if %[[ENTERS]]
// CHECK: %[[START:.*]] = arith.minui %[[J]], %[[C2]]
// CHECK: %[[PLACE:.*]] = scf.while (%{{.*}} = %[[START]])
// CHECK: arith.cmpf oge
// CHECK: scf.condition
// CHECK: memref.store %{{.*}}, %arg0
// CHECK: memref.store %{{.*}}, %arg1
// CHECK: memref.store %[[NEW]], %arg0[%[[ROW]], %[[PLACE]]]
// CHECK: memref.store %[[NEW_INDEX]], %arg1[%[[ROW]], %[[PLACE]]]
// A prefix past `insertion-prefix`: a merge sort of whole rows of 9, runs of
// 1, 2, 4 and 8 merged pass by pass into scratch copies and back (four
// passes, the last one pair a row: the result is in the buffers). The right run's element goes first
// only where it goes before the left's, and both reads are clamped into the row.
// MERGE-LABEL: func.func @topk
// MERGE-NOT: tm_tensor.sort
// MERGE-DAG: %[[LAST:.*]] = arith.constant 8 : index
// MERGE: %[[VALUES:.*]] = memref.alloc() : memref<2x9xf32>
// MERGE: %[[INDICES:.*]] = memref.alloc() : memref<2x9xi64>
// MERGE: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step
// MERGE: scf.for %[[LOW:.*]] = %{{.*}} to %{{.*}} step %c2
// MERGE: scf.for %[[OUT:.*]] = %[[LOW]] to %{{.*}} step %{{.*}} iter_args(%[[I:.*]] = %[[LOW]], %[[J:.*]] = %{{.*}})
// MERGE: %[[CLAMPED:.*]] = arith.minui %[[I]], %[[LAST]]
// MERGE: %[[LEFT:.*]] = memref.load %arg0[%[[ROW]], %[[CLAMPED]]]
// MERGE: %[[RIGHT:.*]] = memref.load %arg0[%[[ROW]], %{{.*}}]
// MERGE: arith.cmpf oge, %[[LEFT]], %[[RIGHT]]
// MERGE: %[[FIRST:.*]] = arith.select %{{.*}}, %[[RIGHT]], %[[LEFT]] : f32
// MERGE: memref.store %[[FIRST]], %[[VALUES]][%[[ROW]], %[[OUT]]]
// MERGE: memref.store %{{.*}}, %[[INDICES]][%[[ROW]], %[[OUT]]]
// MERGE: step %c4
// MERGE: memref.store %{{.*}}, %arg0
// MERGE: step %c8
// MERGE: memref.store %{{.*}}, %[[VALUES]]
// MERGE: memref.store %{{.*}}, %arg0
// MERGE-NOT: memref.copy
// MERGE: memref.dealloc %[[VALUES]]
// MERGE: memref.dealloc %[[INDICES]]
func.func @topk(%x: memref<2x9xf32>, %i: memref<2x9xi64>) {
  tm_tensor.sort {wafer.sorted_prefix = 3 : i64} dimension(1) outs(%x, %i : memref<2x9xf32>, memref<2x9xi64>) {
  ^bb0(%a: f32, %b: f32, %ia: i64, %ib: i64):
    %c = arith.cmpf oge, %a, %b : f32
    tm_tensor.yield %c : i1
  }
  return
}

// No prefix: the whole row, here the only dim; a dynamic row is left as it is.
// CHECK-LABEL: func.func @whole_row
// CHECK: arith.constant 6 : index
// CHECK: scf.while
// CHECK: tm_tensor.sort dimension(0) outs(%arg1 : memref<?xf32>)
func.func @whole_row(%x: memref<7xf32>, %y: memref<?xf32>) {
  tm_tensor.sort dimension(0) outs(%x : memref<7xf32>) {
  ^bb0(%a: f32, %b: f32):
    %c = arith.cmpf ole, %a, %b : f32
    tm_tensor.yield %c : i1
  }
  tm_tensor.sort dimension(0) outs(%y : memref<?xf32>) {
  ^bb0(%a: f32, %b: f32):
    %c = arith.cmpf ole, %a, %b : f32
    tm_tensor.yield %c : i1
  }
  return
}

// topk(3) of rows of 40: the first three places filled one by one, then the
// next 32 elements compared with the third placed one 16 at a time (the
// comparator on vectors; the placed value and the comparator's constants,
// which canonicalize folds here, broadcast), inserted one by one only in a
// group where one goes before it;
// the last 5 one by one.
// CHECK-LABEL: func.func @long_rows
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %{{.*}} = %c0 to %c3 step %c1
// CHECK: scf.for %[[START:.*]] = %c3 to %c35 step %c16
// CHECK: %[[THIRD:.*]] = memref.load %arg0[%[[ROW]], %c2]
// CHECK: %[[GROUP:.*]] = vector.transfer_read %arg0[%[[ROW]], %[[START]]], %{{.*}} {in_bounds = [true]} : memref<2x40xf32>, vector<16xf32>
// CHECK: %[[PLACED:.*]] = vector.broadcast %[[THIRD]] : f32 to vector<16xf32>
// CHECK: %[[ALLOWED:.*]] = arith.cmpf oge, %[[PLACED]], %[[GROUP]] : vector<16xf32>
// CHECK: %[[BEFORE:.*]] = arith.xori %[[ALLOWED]], %{{.*}} : vector<16xi1>
// CHECK: %[[ANY:.*]] = vector.reduction <or>, %[[BEFORE]] : vector<16xi1> into i1
// CHECK: scf.if %[[ANY]]
// CHECK: scf.for %{{.*}} = %[[START]] to %{{.*}} step %c1
// CHECK: scf.for %{{.*}} = %c35 to %c40 step %c1
func.func @long_rows(%x: memref<2x40xf32>, %i: memref<2x40xi64>) {
  tm_tensor.sort {wafer.sorted_prefix = 3 : i64} dimension(1) outs(%x, %i : memref<2x40xf32>, memref<2x40xi64>) {
  ^bb0(%a: f32, %b: f32, %ia: i64, %ib: i64):
    %t = arith.constant true
    %o = arith.cmpf oge, %a, %b : f32
    %c = arith.andi %o, %t : i1
    tm_tensor.yield %c : i1
  }
  return
}

// A comparator reading a value from outside its block is compared one element
// at a time (its vector form would need that value broadcast too).
// CHECK-LABEL: func.func @captured
// CHECK-NOT: vector.reduction
// CHECK: scf.for %{{.*}} = %c0 to %c40 step %c1
// CHECK: return
func.func @captured(%x: memref<2x40xf32>, %i: memref<2x40xi64>, %t: f32) {
  tm_tensor.sort {wafer.sorted_prefix = 3 : i64} dimension(1) outs(%x, %i : memref<2x40xf32>, memref<2x40xi64>) {
  ^bb0(%a: f32, %b: f32, %ia: i64, %ib: i64):
    %s = arith.addf %a, %t : f32
    %c = arith.cmpf oge, %s, %b : f32
    tm_tensor.yield %c : i1
  }
  return
}
