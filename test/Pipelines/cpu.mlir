// One compile per option set; stdout (the LLVM dialect module) and stderr
// (the IR dumps after each pass) are checked separately.
// RUN: wafer-opt %s --pipeline 'cpu{machine=avx512}' --mlir-print-ir-after-all -o %t 2> %t.dumps
// RUN: filecheck %s --input-file %t
// RUN: filecheck %s --input-file %t --check-prefix=LOWERED
// RUN: filecheck %s --input-file %t.dumps --check-prefix=DEFAULT
// RUN: filecheck %s --input-file %t.dumps --check-prefix=PAD
// RUN: wafer-opt %s --pipeline 'cpu{pack=false tile-sizes=4,4}' --mlir-print-ir-after-all -o %t.tile 2> %t.tile.dumps
// RUN: filecheck %s --input-file %t.tile
// RUN: filecheck %s --input-file %t.tile --check-prefix=LOWERED
// RUN: filecheck %s --input-file %t.tile.dumps --check-prefix=TILE
// RUN: wafer-opt %s --pipeline 'cpu{pack=false vectorize=false}' | filecheck %s --check-prefix=SCALAR
// RUN: wafer-opt %s --pipeline 'cpu{threads=2 wake-instructions=0}' | filecheck %s --check-prefix=THREADS
// RUN: wafer-opt %s --pipeline 'cpu{threads=2 wake-instructions=1000000000}' | filecheck %s --check-prefix=SHORT
// RUN: wafer-opt %s --pipeline 'cpu{threads=1}' | filecheck %s --check-prefix=SERIAL
// RUN: wafer-opt %s --pipeline 'cpu{register-tile=4,16 cache-tile=8,32}' --mlir-print-ir-after-all -o /dev/null 2>&1 | filecheck %s --check-prefix=KERNEL

// The whole module ends in the LLVM dialect: each public function gets a
// C-interface wrapper the JIT calls, and nothing of the tensor world is left.
// The result is the last argument (out-params): the caller's buffer.
// CHECK: llvm.func @matmul_bias_relu(%{{.*}}: !llvm.ptr,
// CHECK: llvm.func @_mlir_ciface_matmul_bias_relu(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr {bufferize.result}) attributes {{{.*}}llvm.emit_c_interface
// CHECK: llvm.call @matmul_bias_relu(
// The first product of @two_matmuls is an intermediate buffer: a view of the
// function's arena (wafer-plan-buffers), a global the call takes on entry
// and gives back on exit; a call that finds it taken allocates its own.
// CHECK: llvm.mlir.global private @wafer_arena_two_matmuls() {{.*}} : !llvm.array<{{[0-9]+}} x i8>
// CHECK: llvm.func @wafer_arena_two_matmuls_take(
// CHECK-DAG: llvm.mlir.addressof @wafer_arena_two_matmuls :
// CHECK-DAG: %[[TAKEN:.*]] = llvm.mlir.addressof @wafer_arena_two_matmuls_taken :
// CHECK: llvm.atomicrmw xchg %[[TAKEN]]
// CHECK: llvm.call @_mlir_memref_to_llvm_alloc
// CHECK: llvm.func @two_matmuls(
// CHECK: llvm.call @wafer_arena_two_matmuls_take()
// CHECK: llvm.call @wafer_arena_two_matmuls_give_back(
// CHECK: llvm.func @_mlir_ciface_two_matmuls(
// Allocations go through malloc and free, counted (wafer-count-heap).
// Every function aligns its own frame (wafer-realign-stack).
// CHECK: llvm.func @_mlir_memref_to_llvm_alloc(%{{.*}}: i64) -> !llvm.ptr attributes {passthrough = ["stackrealign"]} {
// CHECK: llvm.call @malloc(
// CHECK: llvm.func @_mlir_memref_to_llvm_free(%{{.*}}: !llvm.ptr) attributes {passthrough = ["stackrealign"]} {
// CHECK: llvm.call @free(

// LOWERED-NOT: linalg.
// LOWERED-NOT: tensor.
// LOWERED-NOT: scf.
// LOWERED-NOT: memref.
// LOWERED-NOT: vector.
// LOWERED-NOT: func.func
// LOWERED-NOT: unrealized_conversion_cast

// By default the matmuls are packed and tiled by wafer-pack-matmul, which
// names its strategy on the function; wafer-fuse then fuses the rest.
// DEFAULT: IR Dump After wafer-pack-matmul
// DEFAULT: func.func @matmul_bias_relu
// DEFAULT-SAME: wafer.strategy = ["packed matmul 16x128x32: register block 8x32, k unroll 8, cache tile 16x128, serial"]
// DEFAULT: IR Dump After wafer-fuse

// The pipeline's kernel options reach the pass: 4x16 blocks, 8x32 cache tiles.
// KERNEL: IR Dump After wafer-pack-matmul
// KERNEL: func.func @matmul_bias_relu
// KERNEL-SAME: wafer.strategy = ["packed matmul 16x128x32: register block 4x16, k unroll 8, cache tile 8x32, serial"]
// KERNEL: scf.for %{{.*}} = %c0 to %c4 step %c1

// TILE: IR Dump After wafer-fuse
// TILE: scf.forall (%{{.*}}, %{{.*}}) in (4, 32)
// TILE: linalg.matmul {{.*}} -> tensor<4x4xf32>
// TILE: IR Dump After

// threads=2: the forall loops become OpenMP parallel loops on two threads
// (lowered by the JIT's OpenMP translation to __kmpc calls); threads=1 has none,
// and neither has threads=2 where the loops save less than waking a worker.
// THREADS-LABEL: llvm.func @tiled_matmul
// THREADS: omp.parallel num_threads(%{{.*}} : i32)
// THREADS: omp.wsloop
// SERIAL-NOT: omp.
// SHORT-NOT: omp.

// Without vectorize the tiles stay scalar loops: no vector types anywhere.
// SCALAR-LABEL: llvm.func @matmul_bias_relu
// SCALAR-NOT: vector<
// SCALAR: llvm.func @_mlir_ciface_matmul_bias_relu
func.func @matmul_bias_relu(%a: tensor<16x32xf32>, %b: tensor<32x128xf32>, %bias: tensor<128xf32>) -> tensor<16x128xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x128xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<16x128xf32>) -> tensor<16x128xf32>
  %mm = linalg.matmul ins(%a, %b : tensor<16x32xf32>, tensor<32x128xf32>) outs(%fill : tensor<16x128xf32>) -> tensor<16x128xf32>
  %e2 = tensor.empty() : tensor<16x128xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %bias : tensor<16x128xf32>, tensor<128xf32>) outs(%e2 : tensor<16x128xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<16x128xf32>
  return %r : tensor<16x128xf32>
}

func.func @two_matmuls(%a: tensor<16x32xf32>, %b: tensor<32x128xf32>, %c: tensor<128x8xf32>) -> tensor<16x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x128xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<16x128xf32>) -> tensor<16x128xf32>
  %ab = linalg.matmul ins(%a, %b : tensor<16x32xf32>, tensor<32x128xf32>) outs(%fill : tensor<16x128xf32>) -> tensor<16x128xf32>
  %e2 = tensor.empty() : tensor<16x8xf32>
  %fill2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<16x8xf32>) -> tensor<16x8xf32>
  %abc = linalg.matmul ins(%ab, %c : tensor<16x128xf32>, tensor<128x8xf32>) outs(%fill2 : tensor<16x8xf32>) -> tensor<16x8xf32>
  return %abc : tensor<16x8xf32>
}

// Large enough (8 MFLOP, 2x4 cache tiles) for the packed kernel to keep its forall.
func.func @tiled_matmul(%a: tensor<128x64xf32>, %b: tensor<64x512xf32>) -> tensor<128x512xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<128x512xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%e : tensor<128x512xf32>) -> tensor<128x512xf32>
  %r = linalg.matmul ins(%a, %b : tensor<128x64xf32>, tensor<64x512xf32>) outs(%fill : tensor<128x512xf32>) -> tensor<128x512xf32>
  return %r : tensor<128x512xf32>
}

// The relu writes straight into the interior of the zero-padded buffer that
// tensor.pad makes (eliminate-empty-tensors), not into a buffer then copied;
// that buffer is the caller's result (buffer-results-to-out-params hoists it).
// PAD: IR Dump After wafer-tighten-lifetimes
// PAD: func.func @relu_into_pad
// PAD-SAME: %[[PAD:arg[0-9]+]]: memref<1x4x10x10xf32> {bufferize.result}
// PAD-NOT: memref.alloc
// PAD: %[[IN:.*]] = memref.subview %[[PAD]][0, 0, 1, 1] [1, 4, 8, 8]
// PAD: linalg.generic {{.*}} outs(%[[IN]] :
// PAD-NOT: memref.copy
// PAD: return
func.func @relu_into_pad(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x10x10xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x4x8x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, c, h, w)>, affine_map<(n, c, h, w) -> (n, c, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x4x8x8xf32>) outs(%e : tensor<1x4x8x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %m = arith.maximumf %v, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x4x8x8xf32>
  %p = tensor.pad %r low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x4x8x8xf32> to tensor<1x4x10x10xf32>
  return %p : tensor<1x4x10x10xf32>
}

// A padded argument has no producer to write in place: it is copied in.
// PAD: func.func @argument_into_pad
// PAD-SAME: %[[PAD:arg[0-9]+]]: memref<1x4x10x10xf32> {bufferize.result}
// PAD: %[[IN:.*]] = memref.subview %[[PAD]][0, 0, 1, 1] [1, 4, 8, 8]
// PAD: memref.copy %arg0, %[[IN]]
func.func @argument_into_pad(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x10x10xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x4x8x8xf32> to tensor<1x4x10x10xf32>
  return %p : tensor<1x4x10x10xf32>
}
