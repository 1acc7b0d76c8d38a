// RUN: wafer-opt %s -p 'wafer-serial-foralls' | filecheck %s

// A bufferized forall marked wafer.serial becomes an scf.for nest; an
// unmarked one stays a forall (then an OpenMP parallel loop).
// CHECK-LABEL: func.func @marked
// CHECK-NOT: scf.forall
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT: memref.load %{{.*}}[%[[I]], %[[J]]]
// CHECK-NOT: scf.forall
func.func @marked(%a: memref<4x6xf32>, %b: memref<4x6xf32>) {
  scf.forall (%i, %j) in (4, 6) {
    %v = memref.load %a[%i, %j] : memref<4x6xf32>
    memref.store %v, %b[%i, %j] : memref<4x6xf32>
  } {wafer.serial}
  return
}

// CHECK-LABEL: func.func @unmarked
// CHECK: scf.forall (%{{.*}}) in (4)
func.func @unmarked(%a: memref<4xf32>, %b: memref<4xf32>) {
  scf.forall (%i) in (4) {
    %v = memref.load %a[%i] : memref<4xf32>
    memref.store %v, %b[%i] : memref<4xf32>
  }
  return
}
