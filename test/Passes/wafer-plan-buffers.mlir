// RUN: wafer-opt %s --pass-pipeline='builtin.module(wafer-plan-buffers)' | filecheck %s

// Three temporaries in a chain: %a and %c are never live at once and share
// offset 0; %b, live beside each, goes after them. The arena is a global that
// a helper takes with an atomic exchange on its flag (a call that finds it
// taken allocates its own), and another gives back: the function itself
// stays free of branches.
// CHECK: memref.global "private" @wafer_arena_chain : memref<192xi8> = uninitialized {alignment = 64 : i64}
// CHECK: memref.global "private" @wafer_arena_chain_taken : memref<i32> = dense<0>
// CHECK-LABEL: func.func private @wafer_arena_chain_take() -> (i1, memref<192xi8>)
// CHECK: %[[TAKEN:.*]] = memref.get_global @wafer_arena_chain_taken
// CHECK: %[[BEFORE:.*]] = memref.atomic_rmw assign %{{.*}}, %[[TAKEN]][]
// CHECK: %[[FREE:.*]] = arith.cmpi eq, %[[BEFORE]]
// CHECK: %[[ARENA:.*]] = scf.if %[[FREE]] -> (memref<192xi8>) {
// CHECK: memref.get_global @wafer_arena_chain : memref<192xi8>
// CHECK: } else {
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<192xi8>
// CHECK: return %[[FREE]], %[[ARENA]]
// CHECK-LABEL: func.func private @wafer_arena_chain_give_back(
// CHECK-SAME: %[[OWNED:.*]]: i1, %[[BUFFER:.*]]: memref<192xi8>)
// CHECK: scf.if %[[OWNED]] {
// CHECK: %[[FLAG:.*]] = memref.get_global @wafer_arena_chain_taken
// CHECK: memref.atomic_rmw assign %{{.*}}, %[[FLAG]][]
// CHECK: } else {
// CHECK: memref.dealloc %[[BUFFER]]
// CHECK-LABEL: func.func @chain(
// CHECK-SAME: attributes {wafer.arena_bytes = 192 : i64}
// CHECK: %[[HELD:.*]]:2 = call @wafer_arena_chain_take()
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: memref.view %[[HELD]]#1[%[[C0]]][] : memref<192xi8> to memref<16xf32>
// CHECK: %[[C128:.*]] = arith.constant 128 : index
// CHECK: memref.view %[[HELD]]#1[%[[C128]]][] : memref<192xi8> to memref<2x8xf32>
// CHECK: %[[C0_2:.*]] = arith.constant 0 : index
// CHECK: memref.view %[[HELD]]#1[%[[C0_2]]][] : memref<192xi8> to memref<32xf32>
// CHECK-NOT: memref.dealloc
// CHECK: call @wafer_arena_chain_give_back(%[[HELD]]#0, %[[HELD]]#1) {wafer.on_exit}
// CHECK-NEXT: return
func.func @chain(%in: memref<16xf32>, %out: memref<32xf32>) {
  %a = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
  memref.copy %in, %a : memref<16xf32> to memref<16xf32>
  %b = memref.alloc() {alignment = 64 : i64} : memref<2x8xf32>
  %flat = memref.collapse_shape %b [[0, 1]] : memref<2x8xf32> into memref<16xf32>
  memref.copy %a, %flat : memref<16xf32> to memref<16xf32>
  memref.dealloc %a : memref<16xf32>
  %c = memref.alloc() {alignment = 64 : i64} : memref<32xf32>
  %half = memref.subview %c[0] [16] [1] : memref<32xf32> to memref<16xf32, strided<[1]>>
  memref.copy %flat, %half : memref<16xf32> to memref<16xf32, strided<[1]>>
  memref.dealloc %b : memref<2x8xf32>
  memref.copy %c, %out : memref<32xf32> to memref<32xf32>
  memref.dealloc %c : memref<32xf32>
  return
}

// A buffer allocated in a serial loop lives, for the plan, as long as the
// loop: each iteration reuses the same bytes, here those of %before, freed
// before the loop starts. A parallel loop's iterations each keep their own.
// CHECK-LABEL: func.func @loops(
// CHECK-SAME: attributes {wafer.arena_bytes = 64 : i64}
// CHECK: memref.view {{.*}} : memref<64xi8> to memref<16xf32>
// CHECK: scf.for
// CHECK: memref.view {{.*}} : memref<64xi8> to memref<4xf32>
// CHECK: scf.parallel
// CHECK: memref.alloc() : memref<4xf32>
func.func @loops(%out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %before = memref.alloc() : memref<16xf32>
  memref.dealloc %before : memref<16xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %tile = memref.alloc() : memref<4xf32>
    memref.copy %tile, %out : memref<4xf32> to memref<4xf32>
    memref.dealloc %tile : memref<4xf32>
  }
  scf.parallel (%j) = (%c0) to (%c4) step (%c1) {
    %private = memref.alloc() : memref<4xf32>
    memref.dealloc %private : memref<4xf32>
    scf.reduce
  }
  return
}

// What a view of the arena cannot stand for keeps its own allocation: a
// dynamic size, a buffer freed in a nested region or not at all (a result),
// and an alignment past the arena's. With none left, the function gets no arena.
// CHECK-LABEL: func.func @unplanned(
// CHECK-NOT: wafer.arena_bytes
// CHECK: memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: memref.alloc() : memref<8xf32>
// CHECK: memref.alloc() {alignment = 128 : i64} : memref<8xf32>
// CHECK: memref.alloc() : memref<8xf32>
// CHECK-NOT: memref.view
func.func @unplanned(%n: index, %flag: i1) -> memref<8xf32> {
  %dynamic = memref.alloc(%n) : memref<?xf32>
  memref.dealloc %dynamic : memref<?xf32>
  %conditional = memref.alloc() : memref<8xf32>
  scf.if %flag {
    memref.dealloc %conditional : memref<8xf32>
  }
  %aligned = memref.alloc() {alignment = 128 : i64} : memref<8xf32>
  memref.dealloc %aligned : memref<8xf32>
  %result = memref.alloc() : memref<8xf32>
  return %result : memref<8xf32>
}

// A loop body's temporaries live from their alloc to their dealloc within each
// iteration: two that are not live at once share their 128 bytes, after the
// 64 bytes of one live across the whole loop (320 bytes were they each to
// hold a region for the whole loop).
// CHECK-LABEL: func.func @loop_body_shares(
// CHECK-SAME: attributes {wafer.arena_bytes = 192 : i64}
// CHECK: %[[ACROSS:.*]] = arith.constant 128 : index
// CHECK: memref.view {{.*}}[%[[ACROSS]]][] : memref<192xi8> to memref<16xf32>
// CHECK: scf.for
// CHECK: %[[FIRST:.*]] = arith.constant 0 : index
// CHECK: memref.view {{.*}}[%[[FIRST]]][] : memref<192xi8> to memref<32xf32>
// CHECK: %[[SECOND:.*]] = arith.constant 0 : index
// CHECK: memref.view {{.*}}[%[[SECOND]]][] : memref<192xi8> to memref<32xf32>
func.func @loop_body_shares(%out: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %across = memref.alloc() : memref<16xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %first = memref.alloc() : memref<32xf32>
    memref.dealloc %first : memref<32xf32>
    %second = memref.alloc() : memref<32xf32>
    memref.dealloc %second : memref<32xf32>
  }
  memref.copy %across, %out : memref<16xf32> to memref<16xf32>
  memref.dealloc %across : memref<16xf32>
  return
}
