// wse-distribute expands a placed region into buffers, steps and transfers:
// Cannon's shifts where wse-place chose them, SUMMA's multicasts on the same
// rectangle when the region says summa.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition' | sed 's/height = 1 : i64, kind = "summa", slot = -1 : i64, sym_name = "summa0", width = 1 : i64/height = 16 : i64, kind = "cannon", slot = 0 : i64, sym_name = "summa0", width = 16 : i64/' | wafer-opt -p wse-distribute | filecheck %s --check-prefix=CANNON
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition' | sed 's/height = 1 : i64, kind = "summa", slot = -1 : i64, sym_name = "summa0", width = 1 : i64/height = 16 : i64, kind = "cannon", slot = 0 : i64, sym_name = "summa0", width = 16 : i64/' | sed 's/kind = "cannon"/kind = "summa"/' | wafer-opt -p wse-distribute | filecheck %s --check-prefix=DISTRIBUTE
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition' | sed 's/height = 1 : i64, kind = "summa", slot = -1 : i64, sym_name = "summa0", width = 1 : i64/height = 16 : i64, kind = "cannon", slot = 0 : i64, sym_name = "summa0", width = 16 : i64/' | sed 's/height = 16 : i64, kind = "cannon"/height = 8 : i64, kind = "cannon"/' | not wafer-opt -p wse-distribute 2>&1 | filecheck %s --check-prefix=NOT-SQUARE
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-distribute' 2>&1 | filecheck %s --check-prefix=UNPLACED

// On 16x16 PEs, k = 64 in 16 blocks of 4. x: rows of 16 over the 16 PE rows,
// k over the columns, skewed: PE (i, j) starts with k block i + j.
// CANNON-LABEL: func.func @linear
// CANNON: "wse.scatter"(%{{.*}}) {col_dim = 1 : i64, col_panel = 4 : i64, color = -1 : i64, row_dim = 0 : i64, row_panel = 0 : i64, skew = 1 : i64} : (tensor<16x64xf32>, memref<1x4xf32>)
// CANNON: "wse.buffer"() {name = "anext{{[0-9]+}}", offset = {{[0-9]+}} : i64} : () -> memref<1x4xf32>
// w: k over the rows, skewed by column; n = 24 in blocks of 2 over the columns (padded to 32).
// CANNON: "wse.scatter"(%{{.*}}) {col_dim = 1 : i64, col_panel = 0 : i64, color = -1 : i64, row_dim = 0 : i64, row_panel = 4 : i64, skew = 2 : i64} : (tensor<64x24xf32>, memref<4x2xf32>)
// CANNON: "wse.buffer"() {name = "bnext{{[0-9]+}}", offset = {{[0-9]+}} : i64} : () -> memref<4x2xf32>
// Each step multiplies the blocks it holds, then passes x's west and w's north.
// CANNON: "wse.steps"() ({
// CANNON: "wse.compute"() ({
// CANNON: "wse.shift"({{.*}}) {color = -1 : i64, dx = -1 : i64, dy = 0 : i64, wrap = 2 : i64}
// CANNON: "wse.shift"({{.*}}) {color = -1 : i64, dx = 0 : i64, dy = -1 : i64, wrap = 2 : i64}
// CANNON: }) {buffers = 2 : i64, count = 16 : i64}
// CANNON-NOT: "wse.multicast"
// CANNON: "wse.compute"() ({
// CANNON: arith.maximumf
// CANNON: "wse.gather"

// DISTRIBUTE-LABEL: func.func @linear
// x: k dealt over the columns in panels of 4 (one each), not skewed.
// DISTRIBUTE: "wse.scatter"(%{{.*}}) {col_dim = 1 : i64, col_panel = 4 : i64, color = -1 : i64, row_dim = 0 : i64, row_panel = 0 : i64, skew = 0 : i64} : (tensor<16x64xf32>, memref<1x4xf32>)
// DISTRIBUTE: "wse.scatter"(%{{.*}}) {col_dim = 1 : i64, col_panel = 0 : i64, color = -1 : i64, row_dim = 0 : i64, row_panel = 4 : i64, skew = 0 : i64} : (tensor<64x24xf32>, memref<4x2xf32>)
// A second pair of panels fits: the next step's multicasts fill it while this step computes.
// DISTRIBUTE: "wse.buffer"() {name = "apanelnext{{[0-9]+}}", offset = {{[0-9]+}} : i64} : () -> memref<1x4xf32>
// DISTRIBUTE: "wse.buffer"() {name = "bpanelnext{{[0-9]+}}", offset = {{[0-9]+}} : i64} : () -> memref<4x2xf32>
// DISTRIBUTE: "wse.steps"() ({
// DISTRIBUTE: "wse.multicast"({{.*}}) {axis = "row", color = -1 : i64, panel = 4 : i64, panel_dim = 1 : i64, root = 0 : i64}
// DISTRIBUTE: "wse.multicast"({{.*}}) {axis = "col", color = -1 : i64, panel = 4 : i64, panel_dim = 0 : i64, root = 0 : i64}
// DISTRIBUTE: "wse.compute"() ({
// DISTRIBUTE: }) {buffers = 2 : i64, count = 16 : i64}
// DISTRIBUTE: "wse.compute"() ({
// DISTRIBUTE: arith.maximumf
// DISTRIBUTE: "wse.gather"

// NOT-SQUARE: error: region 'summa0' of kind 'cannon' needs a square of PEs whose k loop splits into one block per PE row; it is 8x16 for k = 64

// UNPLACED: error: region 'summa0' is not placed: run wse-place first
