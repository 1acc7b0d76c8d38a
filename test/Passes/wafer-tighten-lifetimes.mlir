// RUN: wafer-opt %s --split-input-file -p wafer-tighten-lifetimes | filecheck %s

// Each buffer is allocated just before its first use and freed just after
// its last: a chain of copies holds two buffers at a time, not three.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT: %[[A:.*]] = memref.alloc() : memref<16xf32>
// CHECK-NEXT: linalg.copy ins(%arg0 : memref<16xf32>) outs(%[[A]] : memref<16xf32>)
// CHECK-NEXT: %[[B:.*]] = memref.alloc() : memref<16xf32>
// CHECK-NEXT: linalg.copy ins(%[[A]] : memref<16xf32>) outs(%[[B]] : memref<16xf32>)
// CHECK-NEXT: memref.dealloc %[[A]] : memref<16xf32>
// CHECK-NEXT: %[[C:.*]] = memref.alloc() : memref<16xf32>
// CHECK-NEXT: linalg.copy ins(%[[B]] : memref<16xf32>) outs(%[[C]] : memref<16xf32>)
// CHECK-NEXT: memref.dealloc %[[B]] : memref<16xf32>
// CHECK-NEXT: return %[[C]]
func.func @chain(%arg0: memref<16xf32>) -> memref<16xf32> {
  %a = memref.alloc() : memref<16xf32>
  %b = memref.alloc() : memref<16xf32>
  %c = memref.alloc() : memref<16xf32>
  linalg.copy ins(%arg0 : memref<16xf32>) outs(%a : memref<16xf32>)
  linalg.copy ins(%a : memref<16xf32>) outs(%b : memref<16xf32>)
  linalg.copy ins(%b : memref<16xf32>) outs(%c : memref<16xf32>)
  memref.dealloc %a : memref<16xf32>
  memref.dealloc %b : memref<16xf32>
  return %c : memref<16xf32>
}

// -----

// A use through a view, inside a loop, keeps the buffer alive until the loop ends.
// CHECK-LABEL: func.func @view_used_in_loop
// CHECK: %[[A:.*]] = memref.alloc() : memref<16xf32>
// CHECK: %[[V:.*]] = memref.subview %[[A]]
// CHECK: scf.for
// CHECK: memref.load %[[V]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[A]] : memref<16xf32>
// CHECK-NEXT: %[[LATE:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: linalg.copy ins(%arg0 : memref<4xf32>) outs(%[[LATE]] : memref<4xf32>)
// CHECK-NEXT: memref.dealloc %[[LATE]]
// CHECK-NEXT: return
func.func @view_used_in_loop(%arg0: memref<4xf32>, %out: memref<8xf32>) {
  %a = memref.alloc() : memref<16xf32>
  %late = memref.alloc() : memref<4xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %cst = arith.constant 1.0 : f32
  linalg.fill ins(%cst : f32) outs(%a : memref<16xf32>)
  %v = memref.subview %a[4] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: 4>>
  scf.for %i = %c0 to %c8 step %c1 {
    %x = memref.load %v[%i] : memref<8xf32, strided<[1], offset: 4>>
    memref.store %x, %out[%i] : memref<8xf32>
  }
  linalg.copy ins(%arg0 : memref<4xf32>) outs(%late : memref<4xf32>)
  memref.dealloc %late : memref<4xf32>
  memref.dealloc %a : memref<16xf32>
  return
}

// -----

// A buffer whose address leaves as an integer may be used through it: its
// dealloc stays where it was.
// CHECK-LABEL: func.func @address_escapes
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK-NEXT: call @consume
// CHECK-NEXT: memref.dealloc
func.func private @consume(index)
func.func @address_escapes() {
  %a = memref.alloc() : memref<16xf32>
  %p = memref.extract_aligned_pointer_as_index %a : memref<16xf32> -> index
  call @consume(%p) : (index) -> ()
  memref.dealloc %a : memref<16xf32>
  return
}
