// Verifier errors of the wse dialect, each at the op's location.
// RUN: wafer-opt %s --split-input-file --verify-diagnostics

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @outside(%t: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{region 'r' at (6, 0) of 4x2 PEs lies outside the 8x8 fabric of 'small'}}
  %r = "wse.region"() ({
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 6 : i64, y = 0 : i64, width = 4 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @overlap(%t: tensor<4xf32>) -> tensor<4xf32> {
  %a = "wse.region"() ({
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "a", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 4 : i64, height = 4 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  // expected-error@+1 {{region 'b' (2, 2, 4, 4) overlaps region 'a' (0, 0, 4, 4), which is live in the same slot 0}}
  %b = "wse.region"() ({
    "wse.yield"(%a) : (tensor<4xf32>) -> ()
  }) {sym_name = "b", kind = "rowwise", x = 2 : i64, y = 2 : i64, width = 4 : i64, height = 4 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %b : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @color(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<4xf32>
    // expected-error@+1 {{color 21 is beyond the 21 routable colors of 'small'}}
    "wse.scatter"(%t, %a) {row_dim = -1 : i64, col_dim = -1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64, color = 21 : i64} : (tensor<4xf32>, memref<4xf32>) -> ()
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @sram(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<128xf32>
    %b = "wse.buffer"() {name = "b", offset = 512 : i64} : () -> memref<128xf32>
    // expected-error@+1 {{buffer 'c' (4 B at offset 1024) takes region 'r' to 1028 B per PE, over the 1024 B of SRAM on a PE of 'small' by 4 B}}
    %c = "wse.buffer"() {name = "c", offset = 1024 : i64} : () -> memref<1xf32>
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @overlap(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<4xf32>
    // expected-error@+1 {{buffer 'b' at bytes [12, 28) overlaps buffer 'a' at [0, 16)}}
    %b = "wse.buffer"() {name = "b", offset = 12 : i64} : () -> memref<4xf32>
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @misaligned(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<3xf16>
    // expected-error@+1 {{buffer 'b' at offset 6 is not aligned to its 4-byte elements}}
    %b = "wse.buffer"() {name = "b", offset = 6 : i64} : () -> memref<4xf32>
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @root(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<4xf32>
    // expected-error@+1 {{root 2 is outside the 2 PEs along a col of the region}}
    "wse.multicast"(%a, %a) {axis = "col", root = 2 : i64, panel_dim = 0 : i64, panel = 0 : i64, color = 0 : i64} : (memref<4xf32>, memref<4xf32>) -> ()
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 3 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

func.func @no_machine(%t: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'wse.region' needs an enclosing module with a 'wse.machine' attribute}}
  %r = "wse.region"() ({
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 1 : i64, height = 1 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @missing(%t: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'wse.region' op attribute "slot" is expected but not provided}}
  %r = "wse.region"() ({
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 1 : i64, height = 1 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @missing_color(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<4xf32>
    // expected-error@+1 {{'wse.scatter' op attribute "color" is expected but not provided}}
    "wse.scatter"(%t, %a) {row_dim = -1 : i64, col_dim = -1 : i64, row_panel = 0 : i64, col_panel = 0 : i64, skew = 0 : i64} : (tensor<4xf32>, memref<4xf32>) -> ()
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "rowwise", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @lookup_shapes(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %table = "wse.buffer"() {name = "table", offset = 0 : i64} : () -> memref<3x8xf32>
    %rows = "wse.buffer"() {name = "rows", offset = 96 : i64} : () -> memref<4xi64>
    %out = "wse.buffer"() {name = "out", offset = 128 : i64} : () -> memref<4x6xf32>
    // expected-error@+1 {{a lookup reads rows of a 2-D table into a result of the row numbers' shape and one more dim as long as a table row; got table [3, 8], rows [4], result [4, 6]}}
    "wse.lookup"(%table, %rows, %out) {axis = "col", root = 0 : i64, color = 0 : i64} : (memref<3x8xf32>, memref<4xi64>, memref<4x6xf32>) -> ()
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "lookup", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}

// -----

module attributes {wse.machine = {name = "small", width = 8 : i64, height = 8 : i64, colors = 21 : i64, sram_bytes = 1024 : i64}} {
func.func @lookup_axis(%t: tensor<4xf32>) -> tensor<4xf32> {
  %r = "wse.region"() ({
    %table = "wse.buffer"() {name = "table", offset = 0 : i64} : () -> memref<3x8xf32>
    %rows = "wse.buffer"() {name = "rows", offset = 96 : i64} : () -> memref<4xi64>
    %out = "wse.buffer"() {name = "out", offset = 128 : i64} : () -> memref<4x8xf32>
    // expected-error@+1 {{a lookup runs along the PE columns: axis must be "col"}}
    "wse.lookup"(%table, %rows, %out) {axis = "row", root = 0 : i64, color = 0 : i64} : (memref<3x8xf32>, memref<4xi64>, memref<4x8xf32>) -> ()
    "wse.yield"(%t) : (tensor<4xf32>) -> ()
  }) {sym_name = "r", kind = "lookup", x = 0 : i64, y = 0 : i64, width = 2 : i64, height = 2 : i64, slot = 0 : i64, flops = 0 : i64} : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}
}
