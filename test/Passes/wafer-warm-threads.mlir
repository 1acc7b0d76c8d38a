// RUN: wafer-opt %s --split-input-file -p 'wafer-warm-threads{threads=2}' | filecheck %s

// Two parallel loops in one call: the worker spins between them (block time
// 1 ms from entry) and sleeps after the empty loop before each return.
// CHECK-LABEL: func.func @two_loops
// CHECK-NEXT: call @wafer_warm_threads()
// CHECK: omp.parallel
// CHECK: omp.parallel
// CHECK: call @wafer_rest_threads()
// CHECK-NEXT: return
// CHECK: func.func private @kmp_set_blocktime(i32)
// CHECK-LABEL: func.func private @wafer_warm_threads()
// CHECK-NEXT: %[[MS:.*]] = arith.constant 1 : i32
// CHECK-NEXT: call @kmp_set_blocktime(%[[MS]])
// CHECK-LABEL: func.func private @wafer_rest_threads()
// CHECK-NEXT: %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK-NEXT: call @kmp_set_blocktime(%[[ZERO]])
// CHECK-NEXT: %[[THREADS:.*]] = arith.constant 2 : i32
// CHECK-NEXT: omp.parallel num_threads(%[[THREADS]] : i32) {
// CHECK-NEXT: llvm.inline_asm has_side_effects "", ""
// CHECK-NEXT: omp.terminator
func.func @two_loops(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %n = arith.constant 2 : i32
  %v = arith.constant 1.0 : f32
  omp.parallel num_threads(%n : i32) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
        memref.store %v, %a[%i] : memref<4xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel num_threads(%n : i32) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
        memref.store %v, %a[%i] : memref<4xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// One parallel loop inside a serial loop runs many times per call: warmed too.
// CHECK-LABEL: func.func @loop_in_loop
// CHECK-NEXT: call @wafer_warm_threads()
// CHECK: call @wafer_rest_threads()
func.func @loop_in_loop(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %n = arith.constant 2 : i32
  %v = arith.constant 1.0 : f32
  scf.for %j = %c0 to %c4 step %c1 {
    omp.parallel num_threads(%n : i32) {
      omp.wsloop {
        omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
          memref.store %v, %a[%i] : memref<4xf32>
          omp.yield
        }
      }
      omp.terminator
    }
  }
  return
}

// -----

// A single parallel loop is warmed too: at a block time of 0 the thread that
// reached the loop's closing barrier first would sleep there until woken.
// CHECK-LABEL: func.func @one_loop
// CHECK-NEXT: call @wafer_warm_threads()
// CHECK: omp.parallel
// CHECK: call @wafer_rest_threads()
// CHECK-NEXT: return
func.func @one_loop(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %n = arith.constant 2 : i32
  %v = arith.constant 1.0 : f32
  omp.parallel num_threads(%n : i32) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
        memref.store %v, %a[%i] : memref<4xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// No parallel loop: nothing to wake or put to sleep.
// CHECK-LABEL: func.func @serial
// CHECK-NOT: call
// CHECK: return
func.func @serial(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %v = arith.constant 1.0 : f32
  memref.store %v, %a[%c0] : memref<4xf32>
  return
}

// -----

// A parallel loop in a private function runs within its public caller's warm
// stretch: the caller is warmed, the callee (whose returns would put the
// workers to sleep at every call) is not.
// CHECK-LABEL: func.func @caller
// CHECK-NEXT: call @wafer_warm_threads()
// CHECK: call @loop
// CHECK: call @wafer_rest_threads()
// CHECK-LABEL: func.func private @loop
// CHECK-NOT: call
// CHECK: return
func.func @caller(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %j = %c0 to %c4 step %c1 {
    func.call @loop(%a) : (memref<4xf32>) -> ()
  }
  return
}
func.func private @loop(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %n = arith.constant 2 : i32
  %v = arith.constant 1.0 : f32
  omp.parallel num_threads(%n : i32) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
        memref.store %v, %a[%i] : memref<4xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
