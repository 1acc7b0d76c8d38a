// RUN: wafer-opt %s --split-input-file -p 'wafer-balance-loops{threads=2}' | filecheck %s
// RUN: wafer-opt %s --split-input-file -p 'wafer-balance-loops{threads=2 chunks-per-thread=3}' | filecheck %s --check-prefix=THREE
// RUN: wafer-opt %s --split-input-file -p 'wafer-balance-loops{threads=2 chunks-per-thread=0}' | filecheck %s --check-prefix=STATIC
// RUN: not wafer-opt %s -p 'wafer-balance-loops{chunks-per-thread=-1}' 2>&1 | filecheck %s --check-prefix=BAD

// 100 rows over 2 threads, 8 chunks a thread: chunks of ceil(100 / 16) = 7
// rows, taken by whichever thread is free; 3 a thread: ceil(100 / 6) = 17.
// CHECK-LABEL: func.func @rows
// CHECK: omp.parallel
// CHECK-NEXT: %[[CHUNK:.*]] = arith.constant 7 : i32
// CHECK-NEXT: omp.wsloop schedule(dynamic = %[[CHUNK]] : i32)
// CHECK-NEXT: omp.loop_nest
// THREE-LABEL: func.func @rows
// THREE: arith.constant 17 : i32
// THREE-NEXT: omp.wsloop schedule(dynamic =
// STATIC-LABEL: func.func @rows
// STATIC: omp.wsloop {
// BAD: option wafer-balance-loops{chunks-per-thread}: expected 0 (static) or more, got -1
func.func @rows(%a: memref<100xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  %n = arith.constant 2 : i32
  %v = arith.constant 1.0 : f32
  omp.parallel num_threads(%n : i32) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c100) step (%c1) {
        memref.store %v, %a[%i] : memref<100xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// A collapsed nest counts all its iterations (3 x 5 = 15: chunks of 1), and
// fewer iterations than chunks still make chunks of one.
// CHECK-LABEL: func.func @collapsed
// CHECK: %[[CHUNK:.*]] = arith.constant 1 : i32
// CHECK-NEXT: omp.wsloop schedule(dynamic = %[[CHUNK]] : i32)
// CHECK-NEXT: omp.loop_nest (%{{.*}}, %{{.*}}) : index = (%{{.*}}, %{{.*}}) to (%{{.*}}, %{{.*}})
func.func @collapsed(%a: memref<3x5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %n = arith.constant 2 : i32
  %v = arith.constant 1.0 : f32
  omp.parallel num_threads(%n : i32) {
    omp.wsloop {
      omp.loop_nest (%i, %j) : index = (%c0, %c0) to (%c3, %c5) step (%c1, %c1) {
        memref.store %v, %a[%i, %j] : memref<3x5xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// Bounds known only at run time: the schedule stays static.
// CHECK-LABEL: func.func @dynamic_bounds
// CHECK: omp.wsloop {
func.func @dynamic_bounds(%a: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %t = arith.constant 2 : i32
  %v = arith.constant 1.0 : f32
  omp.parallel num_threads(%t : i32) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %v, %a[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
