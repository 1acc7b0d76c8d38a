// wse-place sizes and positions regions; bad modes and misfits are errors.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=whole-wafer}' | filecheck %s --check-prefix=PLACE
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=sideways}' 2>&1 | filecheck %s --check-prefix=BAD-MODE

// 2*16*64*24 for the product, 2*16*24 for bias and relu.
// PLACE-LABEL: func.func @linear
// The fastest rectangle by wse-place's time model: 16 rows x 8 columns, SUMMA,
// in panels of 16 of k's 64 (4 steps) where the narrowest panel is 4 (16 steps).
// Its streams are costed as the simulator costs them (each PE's own share
// through its row's link), so the model and the simulator agree: 4,372 cycles
// there, against 5,412 in panels of 4 and 5,420 for the 16x16 square that
// Cannon's 2-hop shifts would run on.
// PLACE: {flops = 49920 : i64, height = 16 : i64, kind = "summa", panel = 16 : i64, slot = 0 : i64, sym_name = "summa0", width = 8 : i64, x = 0 : i64, y = 0 : i64}

// BAD-MODE: error: unknown mode 'sideways' (modes: pipelined, whole-wafer, auto)
