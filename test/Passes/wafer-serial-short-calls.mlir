// RUN: wafer-opt %s --split-input-file -p 'wafer-serial-short-calls{machine=avx512 threads=2 wake-instructions=13}' | filecheck %s --check-prefix=WAKE13
// RUN: wafer-opt %s --split-input-file -p 'wafer-serial-short-calls{machine=avx512 threads=2 wake-instructions=12}' | filecheck %s --check-prefix=WAKE12
// RUN: wafer-opt %s --split-input-file -p 'wafer-serial-short-calls{machine=avx2 threads=2 wake-instructions=13}' | filecheck %s --check-prefix=AVX2
// RUN: wafer-opt %s --split-input-file -p 'wafer-serial-short-calls{machine=avx512 threads=2 wake-instructions=0}' | filecheck %s --check-prefix=NEVER

// Two rows of 64 floats, one a thread: each row is a read, an add and a write
// of four 16-lane vectors, 12 instructions, and the second thread saves the
// caller one row. Waking it for 13 does not pay: the loop is marked serial and
// the choice recorded. At 12 it pays (the loop stays parallel). With AVX2's
// 8 lanes the row is 24 instructions. wake-instructions=0 never marks.
// WAKE13-LABEL: func.func @two_rows
// WAKE13-SAME: wafer.strategy = ["one thread: the parallel loops would save 12 instructions, waking a worker takes 13"]
// WAKE13: scf.forall
// WAKE13: } {wafer.serial}
// WAKE12-LABEL: func.func @two_rows
// WAKE12-NOT: wafer.serial
// AVX2-LABEL: func.func @two_rows
// AVX2-NOT: wafer.serial
// NEVER-LABEL: func.func @two_rows
// NEVER-NOT: wafer.serial
func.func @two_rows(%a: memref<2x64xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  scf.forall (%i) in (2) {
    %v = vector.transfer_read %a[%i, %c0], %zero {in_bounds = [true]} : memref<2x64xf32>, vector<64xf32>
    %w = arith.addf %v, %v : vector<64xf32>
    vector.transfer_write %w, %a[%i, %c0] {in_bounds = [true]} : vector<64xf32>, memref<2x64xf32>
  }
  return
}

// -----

// Three iterations on two threads: the caller keeps two of them, the other
// thread saves it one, 3 instructions (a scalar load, add and store). A loop
// around it runs it 4 times: 12 saved.
// WAKE13-LABEL: func.func @in_a_loop
// WAKE13: } {wafer.serial}
// WAKE12-LABEL: func.func @in_a_loop
// WAKE12-NOT: wafer.serial
// AVX2-LABEL: func.func @in_a_loop
// AVX2: } {wafer.serial}
// NEVER-LABEL: func.func @in_a_loop
// NEVER-NOT: wafer.serial
func.func @in_a_loop(%a: memref<3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %t = %c0 to %c4 step %c1 {
    scf.forall (%i) in (3) {
      %v = memref.load %a[%i] : memref<3xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %a[%i] : memref<3xf32>
    }
  }
  return
}

// -----

// A bound known only at run time: the work is not static, the loop stays parallel.
// WAKE13-LABEL: func.func @dynamic
// WAKE13-NOT: wafer.serial
// NEVER-LABEL: func.func @dynamic
func.func @dynamic(%a: memref<?xf32>, %n: index) {
  scf.forall (%i) in (%n) {
    %v = memref.load %a[%i] : memref<?xf32>
    memref.store %v, %a[%i] : memref<?xf32>
  }
  return
}

// -----

// A call's work is in another function: not counted, the loop stays parallel.
// WAKE13-LABEL: func.func @calls
// WAKE13-NOT: wafer.serial
func.func private @work(f32) -> f32
func.func @calls(%a: memref<2xf32>) {
  scf.forall (%i) in (2) {
    %v = memref.load %a[%i] : memref<2xf32>
    %w = func.call @work(%v) : (f32) -> f32
    memref.store %w, %a[%i] : memref<2xf32>
  }
  return
}
