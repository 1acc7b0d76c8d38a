// wse-align-banks moves a buffer a word on where that puts an instruction's two
// vector operands four bytes apart mod 8, in different bank pairs.
// RUN: wafer-opt %s -p wse-align-banks | filecheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 49152 : i64}} {

// Rows of 16 f16 are 32 B: every row of %c starts at 0 mod 8 and, packed
// after it, every row of %a too. One word on, %a's rows start at 4 mod 8; the
// buffer after it follows it.
// CHECK-LABEL: func.func @half
// CHECK: "wse.buffer"() {name = "c", offset = 0 : i64}
// CHECK: "wse.buffer"() {name = "a", offset = 68 : i64}
// CHECK: "wse.buffer"() {name = "d", offset = 132 : i64}
func.func @half(%x: tensor<4x32xf16>) -> tensor<4x32xf16> {
  %y = "wse.region"() ({
    %c = "wse.buffer"() {name = "c", offset = 0 : i64} : () -> memref<2x16xf16>
    %a = "wse.buffer"() {name = "a", offset = 64 : i64} : () -> memref<2x16xf16>
    %d = "wse.buffer"() {name = "d", offset = 128 : i64} : () -> memref<2xf16>
    "wse.scatter"(%x, %c) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (tensor<4x32xf16>, memref<2x16xf16>) -> ()
    "wse.scatter"(%x, %a) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (tensor<4x32xf16>, memref<2x16xf16>) -> ()
    "wse.compute"() ({
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
          ins(%a : memref<2x16xf16>) outs(%c : memref<2x16xf16>) {
      ^bb0(%in: f16, %out: f16):
        %s = arith.addf %in, %out : f16
        linalg.yield %s : f16
      }
    }) : () -> ()
    %t = "wse.gather"(%c) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (memref<2x16xf16>) -> tensor<4x32xf16>
    "wse.yield"(%t) : (tensor<4x32xf16>) -> ()
  }) {sym_name = "add", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 128 : i64} : () -> tensor<4x32xf16>
  return %y : tensor<4x32xf16>
}

// A 32-bit FMA (@fmacs) does one element a cycle whichever banks its operands
// share: the packing stays.
// CHECK-LABEL: func.func @single_fma
// CHECK: "wse.buffer"() {name = "c", offset = 0 : i64}
// CHECK: "wse.buffer"() {name = "a", offset = 128 : i64}
func.func @single_fma(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %y = "wse.region"() ({
    %c = "wse.buffer"() {name = "c", offset = 0 : i64} : () -> memref<2x16xf32>
    %a = "wse.buffer"() {name = "a", offset = 128 : i64} : () -> memref<2x16xf32>
    "wse.scatter"(%x, %c) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (tensor<4x32xf32>, memref<2x16xf32>) -> ()
    "wse.scatter"(%x, %a) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (tensor<4x32xf32>, memref<2x16xf32>) -> ()
    "wse.compute"() ({
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
          ins(%a : memref<2x16xf32>) outs(%c : memref<2x16xf32>) {
      ^bb0(%in: f32, %out: f32):
        %p = arith.mulf %in, %in : f32
        %s = arith.addf %p, %out : f32
        linalg.yield %s : f32
      }
    }) : () -> ()
    %t = "wse.gather"(%c) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (memref<2x16xf32>) -> tensor<4x32xf32>
    "wse.yield"(%t) : (tensor<4x32xf32>) -> ()
  }) {sym_name = "add", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 128 : i64} : () -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// A 32-bit add (@fadds) is SIMD-2: a colliding pair halves it, so its second
// operand moves a word on, as a 16-bit one's does.
// CHECK-LABEL: func.func @single_add
// CHECK: "wse.buffer"() {name = "c", offset = 0 : i64}
// CHECK: "wse.buffer"() {name = "a", offset = 132 : i64}
func.func @single_add(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %y = "wse.region"() ({
    %c = "wse.buffer"() {name = "c", offset = 0 : i64} : () -> memref<2x16xf32>
    %a = "wse.buffer"() {name = "a", offset = 128 : i64} : () -> memref<2x16xf32>
    "wse.scatter"(%x, %c) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (tensor<4x32xf32>, memref<2x16xf32>) -> ()
    "wse.scatter"(%x, %a) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (tensor<4x32xf32>, memref<2x16xf32>) -> ()
    "wse.compute"() ({
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
          ins(%a : memref<2x16xf32>) outs(%c : memref<2x16xf32>) {
      ^bb0(%in: f32, %out: f32):
        %s = arith.addf %in, %out : f32
        linalg.yield %s : f32
      }
    }) : () -> ()
    %t = "wse.gather"(%c) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = -1 : i64} : (memref<2x16xf32>) -> tensor<4x32xf32>
    "wse.yield"(%t) : (tensor<4x32xf32>) -> ()
  }) {sym_name = "add", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 128 : i64} : () -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}
}
