// Bad options to a named pipeline must be one-line errors like bad pass
// options. Expected to fail for now: wafer_opt._pipeline_text lets
// OptionError (and the ValueError of `(item,) = parse_pipeline(...)`) escape
// as a traceback. Remove the marker below once that is fixed.
// XFAIL: *
// RUN: not wafer-opt %s --pipeline 'cpu{no-such-option=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not wafer-opt %s --pipeline 'cpu{vectorize=maybe}' 2>&1 | filecheck %s --check-prefix=VALUE
// RUN: not wafer-opt %s --pipeline 'cpu,cse' 2>&1 | filecheck %s --check-prefix=TWO

// OPTION-NOT: Traceback
// OPTION: error: {{.*}}'cpu' has no option 'no-such-option' (options: tile-sizes, vectorize)
// OPTION-NOT: Traceback

// VALUE-NOT: Traceback
// VALUE: error: option cpu{vectorize}: cannot read 'maybe' as bool
// VALUE-NOT: Traceback

// TWO-NOT: Traceback
// TWO: error: {{.*}}cpu,cse
// TWO-NOT: Traceback

func.func @f() {
  return
}
