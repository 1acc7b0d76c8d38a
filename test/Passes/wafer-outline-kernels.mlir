// RUN: wafer-opt %s --split-input-file -p 'wafer-outline-kernels' | filecheck %s

// Two layers that run the same loop on other buffers and weights, a third
// whose loop adds another constant, and a loop of another shape. The first
// two become calls of one function, which takes the buffers in order of first
// use and copies in the constants; the others become a function each. What
// is left of @layers, allocations and calls, is tagged as glue.
// CHECK-LABEL: func.func @layers
// CHECK-SAME: (%[[X:.*]]: memref<8xf32>, %[[W1:.*]]: memref<8xf32>, %[[W2:.*]]: memref<8xf32>, %[[Y:.*]]: memref<8xf32>)
// CHECK-SAME: attributes {wafer.glue}
// CHECK: %[[H:.*]] = memref.alloc
// CHECK-NEXT: call @wafer_kernel0(%[[X]], %[[W1]], %[[H]])
// CHECK-NEXT: call @wafer_kernel0(%[[H]], %[[W2]], %[[Y]])
// CHECK-NEXT: call @wafer_kernel1(%[[Y]], %[[W2]])
// CHECK-NEXT: call @wafer_kernel2(%[[Y]], %[[H]])
// CHECK-NEXT: memref.dealloc %[[H]]
// CHECK-NEXT: return
// CHECK: func.func private @wafer_kernel0(%[[IN:.*]]: memref<8xf32>, %[[W:.*]]: memref<8xf32>, %[[OUT:.*]]: memref<8xf32>)
// CHECK-DAG: arith.constant 0 : index
// CHECK-DAG: arith.constant 8 : index
// CHECK-DAG: arith.constant 1 : index
// CHECK-DAG: arith.constant 1.000000e+00 : f32
// CHECK: scf.for
// CHECK: memref.load %[[IN]]
// CHECK: memref.load %[[W]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: func.func private @wafer_kernel1(%{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>)
// CHECK: arith.constant 2.000000e+00
// CHECK: func.func private @wafer_kernel2(
// CHECK-NOT: func.func private
func.func @layers(%x: memref<8xf32>, %w1: memref<8xf32>, %w2: memref<8xf32>, %y: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %h = memref.alloc() : memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    %a = memref.load %x[%i] : memref<8xf32>
    %b = memref.load %w1[%i] : memref<8xf32>
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %m, %one : f32
    memref.store %s, %h[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %a = memref.load %h[%i] : memref<8xf32>
    %b = memref.load %w2[%i] : memref<8xf32>
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %m, %one : f32
    memref.store %s, %y[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %a = memref.load %y[%i] : memref<8xf32>
    %b = memref.load %w2[%i] : memref<8xf32>
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %m, %two : f32
    memref.store %s, %y[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %a = memref.load %y[%i] : memref<8xf32>
    memref.store %a, %h[%i] : memref<8xf32>
  }
  memref.dealloc %h : memref<8xf32>
  return
}

// -----

// A function the module already defines keeps its name; the outlined ones take the next.
// CHECK-LABEL: func.func @taken
// CHECK: call @wafer_kernel1(%{{.*}})
// CHECK: call @wafer_kernel1(%{{.*}})
// CHECK: call @wafer_kernel0()
// CHECK: func.func private @wafer_kernel0()
// CHECK: func.func private @wafer_kernel1(
func.func @taken(%x: memref<4xf32>, %y: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %zero, %x[%i] : memref<4xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %zero, %y[%i] : memref<4xf32>
  }
  call @wafer_kernel0() : () -> ()
  return
}
func.func private @wafer_kernel0() {
  return
}

// -----

// A function with no loop nest has nothing to outline and is not glue.
// CHECK-LABEL: func.func @straight(%{{.*}}: memref<4xf32>) {
// CHECK: memref.store
func.func @straight(%x: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  memref.store %zero, %x[%c0] : memref<4xf32>
  return
}

// -----

// Two nests write rows of one buffer, each into its own static place of it
// (DenseNet's layers, each adding channels to the block's concatenated
// features), through slices at run-time offsets: the offset crosses the call
// at run time, and the two are one function. A third nest reads its buffer
// directly, where the static offset is what it indexes from: its argument
// keeps that offset.
// CHECK-LABEL: func.func @places
// CHECK: %[[A:.*]] = memref.subview %{{.*}}[8] [8] [1] : memref<24xf32> to memref<8xf32, strided<[1], offset: 8>>
// CHECK: %[[B:.*]] = memref.subview %{{.*}}[16] [8] [1] : memref<24xf32> to memref<8xf32, strided<[1], offset: 16>>
// CHECK: %[[CA:.*]] = memref.cast %[[A]] : memref<8xf32, strided<[1], offset: 8>> to memref<8xf32, strided<[1], offset: ?>>
// CHECK-NEXT: call @wafer_kernel0(%[[CA]])
// CHECK: %[[CB:.*]] = memref.cast %[[B]] : memref<8xf32, strided<[1], offset: 16>> to memref<8xf32, strided<[1], offset: ?>>
// CHECK-NEXT: call @wafer_kernel0(%[[CB]])
// CHECK: call @wafer_kernel1(%[[B]])
// CHECK: func.func private @wafer_kernel0(%{{.*}}: memref<8xf32, strided<[1], offset: ?>>)
// CHECK: func.func private @wafer_kernel1(%{{.*}}: memref<8xf32, strided<[1], offset: 16>>)
// CHECK-NOT: func.func private
func.func @places(%x: memref<24xf32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  %a = memref.subview %x[8] [8] [1] : memref<24xf32> to memref<8xf32, strided<[1], offset: 8>>
  %b = memref.subview %x[16] [8] [1] : memref<24xf32> to memref<8xf32, strided<[1], offset: 16>>
  scf.for %i = %c0 to %c8 step %c4 {
    %row = memref.subview %a[%i] [4] [1] : memref<8xf32, strided<[1], offset: 8>> to memref<4xf32, strided<[1], offset: ?>>
    memref.store %one, %row[%c0] : memref<4xf32, strided<[1], offset: ?>>
  }
  scf.for %i = %c0 to %c8 step %c4 {
    %row = memref.subview %b[%i] [4] [1] : memref<8xf32, strided<[1], offset: 16>> to memref<4xf32, strided<[1], offset: ?>>
    memref.store %one, %row[%c0] : memref<4xf32, strided<[1], offset: ?>>
  }
  scf.for %i = %c0 to %c8 step %c4 {
    memref.store %one, %b[%i] : memref<8xf32, strided<[1], offset: 16>>
  }
  return
}
