// wse-partition groups a contraction and its epilogue into one summa region.
// RUN: wafer-opt %S/Inputs/wse-linear.mlir -p 'func.func(linalg-generalize-named-ops),wse-partition' | filecheck %s --check-prefix=PARTITION
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'wse-partition{machine=wse9}' 2>&1 | filecheck %s --check-prefix=BAD-MACHINE
// RUN: not wafer-opt %S/Inputs/wse-linear.mlir -p 'wse-partition' 2>&1 | filecheck %s --check-prefix=NAMED

// PARTITION-LABEL: func.func @linear
// PARTITION: "wse.region"() ({
// PARTITION: linalg.generic
// PARTITION: arith.mulf
// PARTITION: linalg.generic
// PARTITION: arith.maximumf
// PARTITION: "wse.yield"
// PARTITION: kind = "summa", slot = -1 : i64, sym_name = "summa0"

// BAD-MACHINE: error: unknown machine 'wse9'

// NAMED: error: 'linalg.matmul' must be generalized before wse-partition
