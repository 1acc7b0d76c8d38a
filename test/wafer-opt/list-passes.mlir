// --list-passes names every Wafer pass with its summary and options (type and
// default), then the named pipelines with theirs; it reads no input.
// RUN: wafer-opt --list-passes < /dev/null | filecheck %s

// CHECK: Wafer passes:
// CHECK-DAG: {{^}}  wafer-expose-c-interface {{ *}}Mark public functions llvm.emit_c_interface
// CHECK-DAG: {{^}}  wafer-fold-transpose {{ *}}Fold linalg.transpose into the indexing maps of matmul operands
// CHECK-DAG: {{^}}  wafer-fuse {{ *}}Tile contraction + elementwise groups with scf.forall
// CHECK-DAG: {{^}}  wafer-verify-cpu-support {{ *}}Check that every op belongs to a dialect the CPU target lowers
// CHECK-DAG: {{^}}  wafer-vectorize {{ *}}{{[A-Za-z]+}}
// CHECK: Named pipelines (--pipeline NAME{options}):
// CHECK-NEXT: {{^}}  cpu {{ *}}linalg-on-tensors -> {{.*}} -> LLVM dialect
// CHECK-DAG: tile-sizes: list of int = 8,64
// CHECK-DAG: vectorize: bool = true
// CHECK: Upstream MLIR and torch-mlir passes are also accepted by name.

// wafer-fuse's one option comes right after its summary line.
// FUSE: {{^}}  wafer-fuse {{ *}}Tile
// FUSE-NEXT: {{^ +}}tile-sizes: list of int = 8,64{{$}}
// RUN: wafer-opt --list-passes | filecheck %s --check-prefix=FUSE
