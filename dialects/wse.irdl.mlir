// The `wse` dialect: a program placed on a wafer-scale grid of processing
// elements (PEs). Loaded at run time by `wafer.dialects.wse.load_wse`, which
// also attaches the Python verifiers for what IRDL cannot say (rectangles
// inside the fabric and not overlapping, colors within budget, SRAM).
// IRDL ops print in generic form; every example below is that form.
// The enclosing module carries the machine:
//   module attributes {wse.machine = {name = "small", width = 32 : i64,
//     height = 32 : i64, colors = 21 : i64, sram_bytes = 49152 : i64}}
irdl.dialect @wse {
  // A rectangle of PEs and what runs there. `slot` orders regions in time:
  // regions in one slot are live together (layer-pipelined mode puts all in
  // slot 0), and -1 means not placed yet. `flops` is the model's work done
  // here (padding excluded). The body ends in wse.yield.
  //   %y = "wse.region"() ({ ... "wse.yield"(%t) : (tensor<4x8xf32>) -> () })
  //        {sym_name = "fc1", kind = "matmul", x = 0 : i64, y = 0 : i64,
  //         width = 4 : i64, height = 2 : i64, slot = 0 : i64, flops = 512 : i64} : () -> tensor<4x8xf32>
  irdl.operation @region {
    %tensor = irdl.base "!builtin.tensor"
    %sym_name = irdl.base "#builtin.string"
    %kind = irdl.base "#builtin.string"
    %x = irdl.base "#builtin.integer"
    %y = irdl.base "#builtin.integer"
    %width = irdl.base "#builtin.integer"
    %height = irdl.base "#builtin.integer"
    %slot = irdl.base "#builtin.integer"
    %flops = irdl.base "#builtin.integer"
    irdl.attributes {"sym_name" = %sym_name, "kind" = %kind, "x" = %x, "y" = %y, "width" = %width, "height" = %height, "slot" = %slot, "flops" = %flops}
    %body = irdl.region
    irdl.regions(body: %body)
    irdl.results(result: %tensor)
  }

  // Ends a wse.region with the tensor it produces.
  //   "wse.yield"(%t) : (tensor<4x8xf32>) -> ()
  irdl.operation @yield {
    %tensor = irdl.base "!builtin.tensor"
    irdl.operands(value: %tensor)
  }

  // A buffer in the SRAM of every PE of the enclosing region, of one PE's
  // shape, at byte address `offset`. Which SRAM banks two operands of an
  // instruction read from follows from their offsets (wse-align-banks).
  //   %a = "wse.buffer"() {name = "a", offset = 0 : i64} : () -> memref<2x8xf32>
  irdl.operation @buffer {
    %memref = irdl.base "!builtin.memref"
    %name = irdl.base "#builtin.string"
    %offset = irdl.base "#builtin.integer"
    irdl.attributes {"name" = %name, "offset" = %offset}
    irdl.results(result: %memref)
  }

  // Moves a tensor onto the region, in at the wafer's edge (a function
  // argument or constant) or streamed from the region that produced it.
  // Tensor dim `row_dim` is split over the PE rows and `col_dim` over the PE
  // columns (-1: not split, every PE gets the whole extent). A panel of 0
  // splits in blocks; a panel p > 0 deals panels of p cyclically. Dims are
  // padded with zeros to fill whole blocks. A skew rotates the blocks, as
  // Cannon's algorithm starts: with skew = 1 the PE at (row i, column j)
  // holds what the unskewed layout gives column (i + j) mod width; with
  // skew = 2, what it gives row (i + j) mod height; 0 leaves them in place.
  // An optional windows = array<i64: row stride, row span, col stride, col
  // span> splits a dim read through sliding windows by output positions,
  // each PE holding its block's windows and their halo (dialects/README.md).
  //   "wse.scatter"(%x, %a) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64,
  //       col_panel = 4 : i64, skew = 0 : i64, color = 1 : i64} : (tensor<8x32xf32>, memref<2x8xf32>) -> ()
  irdl.operation @scatter {
    %tensor = irdl.base "!builtin.tensor"
    %memref = irdl.base "!builtin.memref"
    irdl.operands(source: %tensor, dest: %memref)
    %row_dim = irdl.base "#builtin.integer"
    %col_dim = irdl.base "#builtin.integer"
    %row_panel = irdl.base "#builtin.integer"
    %col_panel = irdl.base "#builtin.integer"
    %skew = irdl.base "#builtin.integer"
    %color = irdl.base "#builtin.integer"
    irdl.attributes {"row_dim" = %row_dim, "col_dim" = %col_dim, "row_panel" = %row_panel, "col_panel" = %col_panel, "skew" = %skew, "color" = %color}
  }

  // The inverse of wse.scatter: assembles the tensor from every PE's buffer
  // (padding dropped), out at the edge or streamed to the next region.
  //   %t = "wse.gather"(%c) {row_dim = 0 : i64, col_dim = 1 : i64, row_panel = 0 : i64,
  //       col_panel = 0 : i64, skew = 0 : i64, color = 2 : i64} : (memref<2x8xf32>) -> tensor<4x32xf32>
  irdl.operation @gather {
    %memref = irdl.base "!builtin.memref"
    %tensor = irdl.base "!builtin.tensor"
    irdl.operands(source: %memref)
    %row_dim = irdl.base "#builtin.integer"
    %col_dim = irdl.base "#builtin.integer"
    %row_panel = irdl.base "#builtin.integer"
    %col_panel = irdl.base "#builtin.integer"
    %skew = irdl.base "#builtin.integer"
    %color = irdl.base "#builtin.integer"
    irdl.attributes {"row_dim" = %row_dim, "col_dim" = %col_dim, "row_panel" = %row_panel, "col_panel" = %col_panel, "skew" = %skew, "color" = %color}
    irdl.results(result: %tensor)
  }

  // Row or column multicast: along each row (axis "row") or column ("col"),
  // the PE at index `root` sends `source` and every PE of the line, root
  // included, receives it into `dest`. With a `step` operand (inside
  // wse.steps) the sender is the owner of panel `step` of a block-cyclic
  // layout: root = step mod n, and the panel of `panel` elements at
  // (step div n) * panel along `panel_dim` of `source` is sent.
  //   "wse.multicast"(%a, %pa, %k) {axis = "row", root = 0 : i64, panel_dim = 1 : i64,
  //       panel = 4 : i64, color = 3 : i64} : (memref<2x8xf32>, memref<2x4xf32>, index) -> ()
  irdl.operation @multicast {
    %source = irdl.base "!builtin.memref"
    %dest = irdl.base "!builtin.memref"
    %index = irdl.is index
    irdl.operands(source: %source, dest: %dest, step: optional %index)
    %axis = irdl.base "#builtin.string"
    %root = irdl.base "#builtin.integer"
    %panel_dim = irdl.base "#builtin.integer"
    %panel = irdl.base "#builtin.integer"
    %color = irdl.base "#builtin.integer"
    irdl.attributes {"axis" = %axis, "root" = %root, "panel_dim" = %panel_dim, "panel" = %panel, "color" = %color}
  }

  // Every PE sends `source` to the PE (dx, dy) away, which receives it into
  // `dest` (halo exchange, Cannon's shifts). With wrap = 1 the shift is
  // cyclic within the region, the wrapping flows crossing it the long way;
  // otherwise PEs with no sender keep `dest`. With wrap = 2 it is cyclic over
  // a folded ring: the region's PEs along the shift are numbered in
  // interleaved order (physically 0, 2, 4, ..., 5, 3, 1; WaferLLM's MeshGEMM),
  // so no flow travels more than 2 hops per PE of distance.
  //   "wse.shift"(%a, %b) {dx = -1 : i64, dy = 0 : i64, wrap = 1 : i64, color = 4 : i64}
  //       : (memref<2x8xf32>, memref<2x8xf32>) -> ()
  irdl.operation @shift {
    %source = irdl.base "!builtin.memref"
    %dest = irdl.base "!builtin.memref"
    irdl.operands(source: %source, dest: %dest)
    %dx = irdl.base "#builtin.integer"
    %dy = irdl.base "#builtin.integer"
    %wrap = irdl.base "#builtin.integer"
    %color = irdl.base "#builtin.integer"
    irdl.attributes {"dx" = %dx, "dy" = %dy, "wrap" = %wrap, "color" = %color}
  }

  // Chain reduction along each row or column into the PE at `root`:
  // `dest` there becomes the elementwise `kind` ("add", "max", "min") of
  // every PE's `source` on the line; elsewhere `dest` is left as it was.
  //   "wse.reduce"(%p, %s) {axis = "row", root = 0 : i64, kind = "add", color = 5 : i64}
  //       : (memref<2xf32>, memref<2xf32>) -> ()
  irdl.operation @reduce {
    %source = irdl.base "!builtin.memref"
    %dest = irdl.base "!builtin.memref"
    irdl.operands(source: %source, dest: %dest)
    %axis = irdl.base "#builtin.string"
    %root = irdl.base "#builtin.integer"
    %kind = irdl.base "#builtin.string"
    %color = irdl.base "#builtin.integer"
    irdl.attributes {"axis" = %axis, "root" = %root, "kind" = %kind, "color" = %color}
  }

  // Table lookup along each PE column (an embedding). `table` holds the
  // column's share of a table whose rows are split in blocks over the PE
  // rows: with b = the buffer's first extent, PE row i holds rows
  // [i * b, (i + 1) * b). Every PE holds `rows`, the table row of each
  // result row; the PE that holds a row sends its share along the column to
  // the PE at `root`, whose `dest` then holds row `rows[r]` at row r.
  // Elsewhere `dest` is left as it was.
  //   "wse.lookup"(%t, %rows, %out) {axis = "col", root = 0 : i64, color = 6 : i64}
  //       : (memref<13x8xf32>, memref<2x16xi64>, memref<2x16x8xf32>) -> ()
  irdl.operation @lookup {
    %table = irdl.base "!builtin.memref"
    %rows = irdl.base "!builtin.memref"
    %dest = irdl.base "!builtin.memref"
    irdl.operands(table: %table, rows: %rows, dest: %dest)
    %axis = irdl.base "#builtin.string"
    %root = irdl.base "#builtin.integer"
    %color = irdl.base "#builtin.integer"
    irdl.attributes {"axis" = %axis, "root" = %root, "color" = %color}
  }

  // Compute on every PE's local buffers: the body holds linalg ops on the
  // region's wse.buffer values, and runs on each PE of the region at once.
  //   "wse.compute"() ({
  //     linalg.matmul ins(%pa, %pb : memref<2x4xf32>, memref<4x8xf32>) outs(%c : memref<2x8xf32>)
  //   }) : () -> ()
  irdl.operation @compute {
    %body = irdl.region
    irdl.regions(body: %body)
  }

  // Runs its body `count` times; the block argument is the step index.
  // `buffers` = 2: its transfers fill a second set of buffers (declared in the
  // region) for the next step while this step computes, so a step's
  // communication overlaps the previous step's compute; 1: they alternate.
  //   "wse.steps"() ({ ^bb0(%k: index): ... }) {count = 8 : i64, buffers = 2 : i64} : () -> ()
  irdl.operation @steps {
    %count = irdl.base "#builtin.integer"
    %buffers = irdl.base "#builtin.integer"
    irdl.attributes {"count" = %count, "buffers" = %buffers}
    %index = irdl.is index
    %body = irdl.region(%index)
    irdl.regions(body: %body)
  }
}
