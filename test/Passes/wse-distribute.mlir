// wse-distribute expands a placed summa region into buffers, steps and transfers.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place,wse-distribute' | filecheck %s --check-prefix=DISTRIBUTE
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-distribute' 2>&1 | filecheck %s --check-prefix=UNPLACED

// DISTRIBUTE-LABEL: func.func @linear
// On 16x16 PEs. x: rows of 16 over the 16 PE rows, k dealt over the columns
// in panels of 4 (one each).
// DISTRIBUTE: "wse.scatter"(%{{.*}}) {col_dim = 1 : i64, col_panel = 4 : i64, color = -1 : i64, row_dim = 0 : i64, row_panel = 0 : i64} : (tensor<16x64xf32>, memref<1x4xf32>)
// w: k dealt over the rows in panels of 4, n=24 in blocks of 2 over the columns (padded to 32).
// DISTRIBUTE: "wse.scatter"(%{{.*}}) {col_dim = 1 : i64, col_panel = 0 : i64, color = -1 : i64, row_dim = 0 : i64, row_panel = 4 : i64} : (tensor<64x24xf32>, memref<4x2xf32>)
// A second pair of panels fits: the next step's multicasts fill it while this step computes.
// DISTRIBUTE: "wse.buffer"() {name = "apanelnext{{[0-9]+}}"} : () -> memref<1x4xf32>
// DISTRIBUTE: "wse.buffer"() {name = "bpanelnext{{[0-9]+}}"} : () -> memref<4x2xf32>
// DISTRIBUTE: "wse.steps"() ({
// DISTRIBUTE: "wse.multicast"({{.*}}) {axis = "row", color = -1 : i64, panel = 4 : i64, panel_dim = 1 : i64, root = 0 : i64}
// DISTRIBUTE: "wse.multicast"({{.*}}) {axis = "col", color = -1 : i64, panel = 4 : i64, panel_dim = 0 : i64, root = 0 : i64}
// DISTRIBUTE: "wse.compute"() ({
// DISTRIBUTE: }) {buffers = 2 : i64, count = 16 : i64}
// DISTRIBUTE: "wse.compute"() ({
// DISTRIBUTE: arith.maximumf
// DISTRIBUTE: "wse.gather"

// UNPLACED: error: region 'summa0' is not placed: run wse-place first
