// Every wse op parses, verifies and prints back in generic form.
// RUN: wafer-opt %s | wafer-opt | filecheck %s

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 49152 : i64}} {
// CHECK-LABEL: func.func @all_ops
func.func @all_ops(%x: tensor<8x32xf32>) -> tensor<8x32xf32> {
  // CHECK: "wse.region"() ({
  %y = "wse.region"() ({
    // CHECK-NEXT: %[[A:.*]] = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<4x8xf32>
    %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<4x8xf32>
    %p = "wse.buffer"() {name = "p", offset = 128 : i64} : () -> memref<4x4xf32>
    %s = "wse.buffer"() {name = "s", offset = 196 : i64} : () -> memref<4x8xf32>
    // CHECK: "wse.scatter"(%{{.*}}, %[[A]]) {col_dim = 1 : i64, col_panel = 0 : i64, color = 1 : i64, row_dim = 0 : i64, row_panel = 0 : i64, skew = 0 : i64}
    "wse.scatter"(%x, %a) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = 1 : i64} : (tensor<8x32xf32>, memref<4x8xf32>) -> ()
    // CHECK: "wse.steps"() ({
    // CHECK-NEXT: ^bb0(%[[K:.*]]: index):
    "wse.steps"() ({
    ^bb0(%k: index):
      // CHECK-NEXT: "wse.multicast"(%[[A]], %{{.*}}, %[[K]]) {axis = "row", color = 3 : i64, panel = 4 : i64, panel_dim = 1 : i64, root = 0 : i64}
      "wse.multicast"(%a, %p, %k) {axis = "row", root = 0 : i64, panel_dim = 1 : i64, panel = 4 : i64, color = 3 : i64} : (memref<4x8xf32>, memref<4x4xf32>, index) -> ()
    }) {count = 2 : i64, buffers = 1 : i64} : () -> ()
    // CHECK: "wse.shift"(%[[A]], %{{.*}}) {color = 4 : i64, dx = -1 : i64, dy = 0 : i64, wrap = 1 : i64}
    "wse.shift"(%a, %s) {dx = -1 : i64, dy = 0 : i64, wrap = 1 : i64, color = 4 : i64} : (memref<4x8xf32>, memref<4x8xf32>) -> ()
    // CHECK: "wse.reduce"(%{{.*}}, %[[A]]) {axis = "col", color = 5 : i64, kind = "max", root = 1 : i64}
    "wse.reduce"(%s, %a) {axis = "col", root = 1 : i64, kind = "max", color = 5 : i64} : (memref<4x8xf32>, memref<4x8xf32>) -> ()
    // CHECK: "wse.lookup"(%{{.*}}, %{{.*}}, %[[A]]) {axis = "col", color = 6 : i64, root = 0 : i64} : (memref<3x8xf32>, memref<4xi64>, memref<4x8xf32>) -> ()
    %table = "wse.buffer"() {name = "table", offset = 324 : i64} : () -> memref<3x8xf32>
    %rows = "wse.buffer"() {name = "rows", offset = 420 : i64} : () -> memref<4xi64>
    "wse.lookup"(%table, %rows, %a) {axis = "col", root = 0 : i64, color = 6 : i64} : (memref<3x8xf32>, memref<4xi64>, memref<4x8xf32>) -> ()
    // CHECK: "wse.compute"() ({
    // CHECK: linalg.fill
    "wse.compute"() ({
      %zero = arith.constant 0.0 : f32
      linalg.fill ins(%zero : f32) outs(%s : memref<4x8xf32>)
    }) : () -> ()
    // CHECK: %[[T:.*]] = "wse.gather"(%[[A]]) {col_dim = 1 : i64, col_panel = 0 : i64, color = 1 : i64, row_dim = 0 : i64, row_panel = 0 : i64, skew = 0 : i64} : (memref<4x8xf32>) -> tensor<8x32xf32>
    %t = "wse.gather"(%a) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = 1 : i64} : (memref<4x8xf32>) -> tensor<8x32xf32>
    // CHECK-NEXT: "wse.yield"(%[[T]])
    "wse.yield"(%t) : (tensor<8x32xf32>) -> ()
  // CHECK: {flops = 0 : i64, height = 2 : i64, kind = "summa", slot = 0 : i64, sym_name = "fc", width = 4 : i64, x = 0 : i64, y = 0 : i64}
  }) {sym_name = "fc", kind = "summa", x = 0 : i64, y = 0 : i64, width = 4 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}
}
