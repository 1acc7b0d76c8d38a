// A bad pass pipeline is a one-line driver error with exit 1, no traceback.
// (The parser's other malformed cases are in test/python/test_pipeline_parser.py.)
// RUN: not wafer-opt %s -p no-such-pass 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not wafer-opt %s -p 'canonicalize{no-such-option=1}' 2>&1 | filecheck %s --check-prefix=UPSTREAM-OPTION
// RUN: not wafer-opt %s -p 'wafer-fuse{no-such-option=1}' 2>&1 | filecheck %s --check-prefix=WAFER-OPTION
// RUN: not wafer-opt %s --pass-pipeline='builtin.module(func.func(wafer-fuse))' 2>&1 | filecheck %s --check-prefix=NESTED
// RUN: not wafer-opt %s -p 'wafer-fuse(cse)' 2>&1 | filecheck %s --check-prefix=WAFER-NESTING
// RUN: not wafer-opt %s --pass-pipeline='builtin.module(func.func(cse)' 2>&1 | filecheck %s --check-prefix=UNCLOSED
// RUN: not wafer-opt %s --pipeline no-such-pipeline 2>&1 | filecheck %s --check-prefix=PIPELINE
// Two ways to give a pipeline at once: argparse's usage error, exit 2.
// RUN: not wafer-opt %s -p cse --pass-pipeline='builtin.module(cse)' 2>&1 | filecheck %s --check-prefix=TWO

// UNKNOWN-NOT: Traceback
// UNKNOWN: error: in pass pipeline at 'no-such-pass': {{.*}}'no-such-pass' does not refer to a registered pass or pass pipeline
// UNKNOWN-NOT: Traceback

// UPSTREAM-OPTION: error: in pass pipeline at 'canonicalize{no-such-option=1}': {{.*}}no such option no-such-option
// UPSTREAM-OPTION-NOT: Traceback

// WAFER-OPTION: error: pass 'wafer-fuse' has no option 'no-such-option' (options: loose-elements, parallel-elements, tile-sizes)
// WAFER-OPTION-NOT: Traceback

// NESTED: error: Wafer pass 'wafer-fuse' runs on builtin.module; move it out of 'func.func(...)' to the top level of the pipeline
// NESTED-NOT: Traceback

// WAFER-NESTING: error: Wafer pass 'wafer-fuse' takes no nested pipeline
// WAFER-NESTING-NOT: Traceback

// The parser shows where it stopped.
// UNCLOSED: error: malformed pass pipeline: expected ')' at column 30
// UNCLOSED-NEXT: {{^}}  builtin.module(func.func(cse){{$}}
// UNCLOSED-NEXT: {{^}}                               ^{{$}}
// UNCLOSED-NOT: Traceback

// PIPELINE: error: unknown pipeline 'no-such-pipeline' (known: cpu, wse)
// PIPELINE-NOT: Traceback

// TWO: wafer-opt: error: argument --pass-pipeline: not allowed with argument -p

func.func @f() {
  return
}
