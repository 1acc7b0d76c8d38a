// RUN: wafer-opt %s --split-input-file -p wafer-return-allocations | filecheck %s
// RUN: wafer-opt %s --split-input-file -p 'wafer-return-allocations,buffer-results-to-out-params{hoist-static-allocs modify-public-functions},canonicalize' | filecheck %s --check-prefix=OUT

// A packed result (4x2 blocks of 8x32) that is returned collapsed: the
// collapsed shape is allocated, and the blocks are written through its
// inverse view. buffer-results-to-out-params then writes the caller's buffer.
// CHECK-LABEL: func.func @collapsed_result
// CHECK: %[[NEW:.*]] = memref.alloc() {alignment = 64 : i64} : memref<32x64xf32>
// CHECK-NEXT: %[[BLOCKS:.*]] = memref.expand_shape %[[NEW]] {{\[}}[0, 1], [2, 3]] output_shape [4, 8, 2, 32] : memref<32x64xf32> into memref<4x8x2x32xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[BLOCKS]] : memref<4x8x2x32xf32>)
// CHECK-NEXT: return %[[NEW]] : memref<32x64xf32>
// OUT-LABEL: func.func @collapsed_result
// OUT-SAME: (%[[OUT:.*]]: memref<32x64xf32>)
// OUT: %[[BLOCKS:.*]] = memref.expand_shape %[[OUT]]
// OUT-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[BLOCKS]] : memref<4x8x2x32xf32>)
// OUT-NEXT: return
func.func @collapsed_result() -> memref<32x64xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<4x8x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x8x2x32xf32>)
  %r = memref.collapse_shape %c [[0, 1], [2, 3]] : memref<4x8x2x32xf32> into memref<32x64xf32>
  return %r : memref<32x64xf32>
}

// -----

// An expanded result: the buffer is allocated expanded and collapsed back.
// CHECK-LABEL: func.func @expanded_result
// CHECK-NEXT: %[[NEW:.*]] = memref.alloc() : memref<2x3x4xf32>
// CHECK-NEXT: %[[FLAT:.*]] = memref.collapse_shape %[[NEW]] {{\[}}[0, 1], [2]] : memref<2x3x4xf32> into memref<6x4xf32>
// CHECK-NEXT: linalg.copy ins(%arg0 : memref<6x4xf32>) outs(%[[FLAT]] : memref<6x4xf32>)
// CHECK-NEXT: return %[[NEW]] : memref<2x3x4xf32>
// OUT-LABEL: func.func @expanded_result
// OUT-NOT: memref.copy
// OUT: return
func.func @expanded_result(%arg0: memref<6x4xf32>) -> memref<2x3x4xf32> {
  %a = memref.alloc() : memref<6x4xf32>
  linalg.copy ins(%arg0 : memref<6x4xf32>) outs(%a : memref<6x4xf32>)
  %r = memref.expand_shape %a [[0, 1], [2]] output_shape [2, 3, 4] : memref<6x4xf32> into memref<2x3x4xf32>
  return %r : memref<2x3x4xf32>
}

// -----

// A packed convolution's C, [image, channel blocks, 8, pixel blocks, 32],
// returned as NCHW through two reshapes: the NCHW shape is allocated, and the
// blocks are written through both inverse reshapes, in reverse order.
// CHECK-LABEL: func.func @reshaped_twice
// CHECK: %[[NEW:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x16x8x8xf32>
// CHECK-NEXT: %[[FLAT:.*]] = memref.collapse_shape %[[NEW]] {{\[}}[0], [1], [2, 3]] : memref<1x16x8x8xf32> into memref<1x16x64xf32>
// CHECK-NEXT: %[[BLOCKS:.*]] = memref.expand_shape %[[FLAT]] {{\[}}[0], [1, 2], [3, 4]] output_shape [1, 2, 8, 2, 32] : memref<1x16x64xf32> into memref<1x2x8x2x32xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[BLOCKS]] : memref<1x2x8x2x32xf32>)
// CHECK-NEXT: return %[[NEW]] : memref<1x16x8x8xf32>
// OUT-LABEL: func.func @reshaped_twice
// OUT-NOT: memref.copy
// OUT: return
func.func @reshaped_twice() -> memref<1x16x8x8xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<1x2x8x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<1x2x8x2x32xf32>)
  %flat = memref.collapse_shape %c [[0], [1, 2], [3, 4]] : memref<1x2x8x2x32xf32> into memref<1x16x64xf32>
  %r = memref.expand_shape %flat [[0], [1], [2, 3]] output_shape [1, 16, 8, 8] : memref<1x16x64xf32> into memref<1x16x8x8xf32>
  return %r : memref<1x16x8x8xf32>
}

// -----

// A reshaped argument or a reshaped dynamic buffer has no static allocation
// to replace: left as it is (and copied by buffer-results-to-out-params).
// CHECK-LABEL: func.func @reshaped_argument
// CHECK-NEXT: %[[R:.*]] = memref.collapse_shape %arg0
// CHECK-NEXT: return %[[R]]
// CHECK-LABEL: func.func @reshaped_dynamic_buffer
// CHECK-NEXT: %[[A:.*]] = memref.alloc(%arg0) : memref<?x4xf32>
// CHECK-NEXT: %[[R:.*]] = memref.collapse_shape %[[A]]
// CHECK-NEXT: return %[[R]]
// OUT-LABEL: func.func @reshaped_argument
// OUT: memref.copy
func.func @reshaped_argument(%arg0: memref<2x8xf32>) -> memref<16xf32> {
  %r = memref.collapse_shape %arg0 [[0, 1]] : memref<2x8xf32> into memref<16xf32>
  return %r : memref<16xf32>
}
func.func @reshaped_dynamic_buffer(%n: index) -> memref<?xf32> {
  %a = memref.alloc(%n) : memref<?x4xf32>
  %r = memref.collapse_shape %a [[0, 1]] : memref<?x4xf32> into memref<?xf32>
  return %r : memref<?xf32>
}

// -----

// One buffer returned through two reshapes: the first becomes the new
// buffer; the second then reshapes a view, not an allocation, and is left
// (buffer-results-to-out-params copies it into its own result).
// CHECK-LABEL: func.func @returned_twice
// CHECK-NEXT: %[[NEW:.*]] = memref.alloc() : memref<16xf32>
// CHECK-NEXT: %[[BACK:.*]] = memref.expand_shape %[[NEW]]
// CHECK-NEXT: memref.copy %arg0, %[[BACK]]
// CHECK-NEXT: %[[SECOND:.*]] = memref.collapse_shape %[[BACK]] {{\[}}[0], [1, 2]]
// CHECK-NEXT: return %[[NEW]], %[[SECOND]] : memref<16xf32>, memref<2x8xf32>
// OUT-LABEL: func.func @returned_twice
// OUT-SAME: (%[[FIRST:.*]]: memref<16xf32>, %[[SECOND:.*]]: memref<2x8xf32>)
// OUT: memref.copy %{{.*}}, %[[SECOND]]
func.func @returned_twice(%arg0: memref<2x2x4xf32>) -> (memref<16xf32>, memref<2x8xf32>) {
  %a = memref.alloc() : memref<2x2x4xf32>
  memref.copy %arg0, %a : memref<2x2x4xf32> to memref<2x2x4xf32>
  %r = memref.collapse_shape %a [[0, 1, 2]] : memref<2x2x4xf32> into memref<16xf32>
  %s = memref.collapse_shape %a [[0], [1, 2]] : memref<2x2x4xf32> into memref<2x8xf32>
  return %r, %s : memref<16xf32>, memref<2x8xf32>
}

// -----

// One buffer returned three times: the second and third results are copies
// in buffers of their own, so that buffer-results-to-out-params hoists each
// into its own result (hoisting one allocation into two crashed it).
// CHECK-LABEL: func.func @same_buffer_twice
// CHECK: %[[A:.*]] = memref.alloc() : memref<8xf32>
// CHECK: %[[COPY:.*]] = memref.alloc() : memref<8xf32>
// CHECK-NEXT: memref.copy %[[A]], %[[COPY]]
// CHECK-NEXT: %[[COPY2:.*]] = memref.alloc() : memref<8xf32>
// CHECK-NEXT: memref.copy %[[A]], %[[COPY2]]
// CHECK-NEXT: return %[[A]], %[[COPY]], %[[COPY2]]
// OUT-LABEL: func.func @same_buffer_twice
// OUT-SAME: (%{{.*}}: memref<8xf32>, %[[FIRST:[^:]*]]: memref<8xf32>, %[[SECOND:[^:]*]]: memref<8xf32>, %[[THIRD:[^:]*]]: memref<8xf32>)
// OUT: memref.copy %arg0, %[[FIRST]]
// OUT: memref.copy %[[FIRST]], %[[SECOND]]
// OUT: memref.copy %[[FIRST]], %[[THIRD]]
func.func @same_buffer_twice(%arg0: memref<8xf32>) -> (memref<8xf32>, memref<8xf32>, memref<8xf32>) {
  %a = memref.alloc() : memref<8xf32>
  memref.copy %arg0, %a : memref<8xf32> to memref<8xf32>
  return %a, %a, %a : memref<8xf32>, memref<8xf32>, memref<8xf32>
}
