// wse-place sizes and positions regions; bad modes and misfits are errors.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=whole-wafer}' | filecheck %s --check-prefix=PLACE
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=sideways}' 2>&1 | filecheck %s --check-prefix=BAD-MODE

// 2*16*64*24 for the product, 2*16*24 for bias and relu.
// PLACE-LABEL: func.func @linear
// The fastest rectangle by wse-place's time model: 16 rows x 24 columns, each
// PE its own output over all of k (rowwise, rows and columns of the product
// split), its row of x and column of w streamed in once and fanned out along
// the PE rows and columns: 3,532 cycles, against 4,369 for SUMMA on 16 x 8 in
// panels of 16 and 4,606 for the 16x16 square.
// PLACE: {flops = 49920 : i64, height = 16 : i64, kind = "rowwise", loops = array<i64: 0, 1>, slot = 0 : i64, sym_name = "summa0", width = 24 : i64, x = 0 : i64, y = 0 : i64}

// BAD-MODE: error: unknown mode 'sideways' (modes: pipelined, whole-wafer, auto)
