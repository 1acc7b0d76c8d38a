// wse-route colors transfers: regions reuse low colors, streams get their own.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition' | sed 's/height = 1 : i64, kind = "summa", slot = -1 : i64, sym_name = "summa0", width = 1 : i64/height = 16 : i64, kind = "summa", slot = 0 : i64, sym_name = "summa0", width = 8 : i64/' | wafer-opt -p 'wse-distribute,wse-route' | filecheck %s --check-prefix=ROUTE

// ROUTE-LABEL: func.func @linear
// The product placed to step k by SUMMA (wse-place would run a product this
// small rowwise, with no step): its streams take colors of their own, its
// panels' row and column multicasts the region's low ones.
// ROUTE: "wse.scatter"(%arg0, {{.*}}) {{{.*}}color = [[X:[2-9]]] : i64
// ROUTE-NOT: color = [[X]] : i64
// ROUTE: "wse.multicast"({{.*}}) {axis = "row", color = 0 : i64
// ROUTE: "wse.multicast"({{.*}}) {axis = "col", color = 1 : i64
// ROUTE: "wse.gather"({{.*}}) {{{.*}}color = {{[2-9]}} : i64

// A machine with two colors cannot carry a step's two transfers and its streams.
// RUN: not wafer-opt %s --pipeline wse 2>&1 | filecheck %s --check-prefix=BUDGET
// BUDGET: error: routing needs more than the 2 colors the machine has

module attributes {wse.machine = {name = "tiny", width = 4 : i64, height = 4 : i64, colors = 2 : i64, sram_bytes = 49152 : i64}} {
  func.func @matmul(%a: tensor<8x8xf32>, %b: tensor<8x8xf32>) -> tensor<8x8xf32> {
    %zero = arith.constant 0.0 : f32
    %empty = tensor.empty() : tensor<8x8xf32>
    %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<8x8xf32>) -> tensor<8x8xf32>
    %c = linalg.matmul ins(%a, %b : tensor<8x8xf32>, tensor<8x8xf32>) outs(%init : tensor<8x8xf32>) -> tensor<8x8xf32>
    return %c : tensor<8x8xf32>
  }
}
