// wse-place sizes and positions regions; bad modes and misfits are errors.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=whole-wafer}' | filecheck %s --check-prefix=PLACE
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=sideways}' 2>&1 | filecheck %s --check-prefix=BAD-MODE

// 2*16*64*24 for the product, 2*16*24 for bias and relu.
// PLACE-LABEL: func.func @linear
// The fastest rectangle by wse-place's time model: 16x16, double-buffered, its
// transfers under the products. On the simulator it and 16x8 are within 1%,
// both well ahead of the whole 32x24 (longer multicasts) and of 8x8. On the
// square, Cannon's 2-hop shifts model (and simulate) a little faster than
// SUMMA's 16-hop multicasts: the region becomes a cannon region.
// PLACE: {flops = 49920 : i64, height = 16 : i64, kind = "cannon", slot = 0 : i64, sym_name = "summa0", width = 16 : i64, x = 0 : i64, y = 0 : i64}

// BAD-MODE: error: unknown mode 'sideways' (modes: pipelined, whole-wafer, auto)
