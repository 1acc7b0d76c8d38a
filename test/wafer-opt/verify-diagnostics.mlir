// Every expected diagnostic is produced and nothing else: exit 0, no output
// on stderr.
// RUN: wafer-opt %s --split-input-file --verify-diagnostics -p wafer-verify-cpu-support 2>&1 >/dev/null | filecheck %s --check-prefix=QUIET --allow-empty
// Without --verify-diagnostics the same input fails.
// RUN: not wafer-opt %s --split-input-file -p wafer-verify-cpu-support 2>/dev/null

// QUIET-NOT: error

// An error from the parser.
func.func @parse_error() {
  // expected-error@+1 {{Dialect `foo' not found for custom op 'foo.bar'}}
  foo.bar
}

// -----

// An error from the verifier, anchored with @below.
func.func @verifier_error() {
  %c = arith.constant 1 : i32
  // expected-error@below {{'func.return' op has 1 operands}}
  return %c : i32
}

// -----

// An error from a Wafer pass.
func.func @pass_error(%a: tensor<4xf32>) -> tensor<4xf32> {
  %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
  // expected-error@-1 {{'tosa.abs' is not supported by the CPU target}}
  return %r : tensor<4xf32>
}

// -----

// A chunk with no diagnostics and none expected.
func.func @fine() {
  return
}
