// The wse lowering pass by pass on one linear layer with bias and relu.
// RUN: wafer-opt %s -p 'func.func(linalg-generalize-named-ops),wse-partition' | filecheck %s --check-prefix=PARTITION
// RUN: wafer-opt %s -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=whole-wafer}' | filecheck %s --check-prefix=PLACE
// RUN: wafer-opt %s -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place,wse-distribute' | filecheck %s --check-prefix=DISTRIBUTE
// RUN: wafer-opt %s --pipeline 'wse{mode=pipelined}' | filecheck %s --check-prefix=ROUTE
// RUN: not wafer-opt %s -p 'wse-partition{machine=wse9}' 2>&1 | filecheck %s --check-prefix=BAD-MACHINE
// RUN: not wafer-opt %s -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-place{mode=sideways}' 2>&1 | filecheck %s --check-prefix=BAD-MODE
// RUN: not wafer-opt %s -p 'func.func(linalg-generalize-named-ops),wse-partition,wse-distribute' 2>&1 | filecheck %s --check-prefix=UNPLACED
// RUN: not wafer-opt %s -p 'wse-partition' 2>&1 | filecheck %s --check-prefix=NAMED

// PARTITION-LABEL: func.func @linear
// PARTITION: "wse.region"() ({
// PARTITION: linalg.generic
// PARTITION: arith.mulf
// PARTITION: linalg.generic
// PARTITION: arith.maximumf
// PARTITION: "wse.yield"
// PARTITION: kind = "summa", slot = -1 : i64, sym_name = "summa0"

// 2*16*64*24 for the product, 2*16*24 for bias and relu.
// PLACE-LABEL: func.func @linear
// PLACE: {flops = 49920 : i64, height = 32 : i64, kind = "summa", slot = 0 : i64, sym_name = "summa0", width = 24 : i64, x = 0 : i64, y = 0 : i64}

// DISTRIBUTE-LABEL: func.func @linear
// DISTRIBUTE: "wse.scatter"(%{{.*}}) {col_dim = 1 : i64, col_panel = 2 : i64, color = -1 : i64, row_dim = 0 : i64, row_panel = 0 : i64} : (tensor<16x64xf32>, memref<1x4xf32>)
// DISTRIBUTE: "wse.steps"() ({
// DISTRIBUTE: "wse.multicast"({{.*}}) {axis = "row", color = -1 : i64, panel = 2 : i64, panel_dim = 1 : i64, root = 0 : i64}
// DISTRIBUTE: "wse.multicast"({{.*}}) {axis = "col", color = -1 : i64, panel = 2 : i64, panel_dim = 0 : i64, root = 0 : i64}
// DISTRIBUTE: "wse.compute"() ({
// DISTRIBUTE: }) {count = 32 : i64}
// DISTRIBUTE: "wse.compute"() ({
// DISTRIBUTE: arith.maximumf
// DISTRIBUTE: "wse.gather"

// ROUTE-LABEL: func.func @linear
// ROUTE: "wse.multicast"({{.*}}) {axis = "row", color = 0 : i64
// ROUTE: "wse.multicast"({{.*}}) {axis = "col", color = 1 : i64
// ROUTE: "wse.gather"({{.*}}) {col_dim = 1 : i64, col_panel = 0 : i64, color = {{[2-9]}} : i64

// BAD-MACHINE: error: unknown machine 'wse9'
// BAD-MODE: error: unknown mode 'sideways' (modes: pipelined, whole-wafer)
// UNPLACED: error: region 'summa0' is not placed: run wse-place first
// NAMED: error: 'linalg.matmul' must be generalized before wse-partition

func.func @linear(%x: tensor<16x64xf32>, %w: tensor<64x24xf32>, %b: tensor<24xf32>) -> tensor<16x24xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<16x24xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<16x24xf32>) -> tensor<16x24xf32>
  %y = linalg.matmul ins(%x, %w : tensor<16x64xf32>, tensor<64x24xf32>) outs(%init : tensor<16x24xf32>) -> tensor<16x24xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%y, %b : tensor<16x24xf32>, tensor<24xf32>) outs(%empty : tensor<16x24xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %s = arith.addf %in, %bias : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<16x24xf32>
  return %r : tensor<16x24xf32>
}
