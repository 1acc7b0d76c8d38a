// Bad options to a named pipeline are one-line errors like bad pass options.
// RUN: not wafer-opt %s --pipeline 'cpu{no-such-option=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not wafer-opt %s --pipeline 'cpu{vectorize=maybe}' 2>&1 | filecheck %s --check-prefix=VALUE
// RUN: not wafer-opt %s --pipeline 'cpu,cse' 2>&1 | filecheck %s --check-prefix=TWO
// RUN: not wafer-opt %s --pipeline 'cpu{wake-instructions=-2}' 2>&1 | filecheck %s --check-prefix=WAKE
// RUN: not wafer-opt %s --pipeline 'cpu{streamed-b-rows=-2}' 2>&1 | filecheck %s --check-prefix=STREAMED
// RUN: not wafer-opt %s --pass-pipeline 'builtin.module(wafer-pack-matmul{streamed-b-rows=-3})' 2>&1 | filecheck %s --check-prefix=PASS

// OPTION-NOT: Traceback
// OPTION: error: {{.*}}'cpu' has no option 'no-such-option' (options: after-bufferize, after-fuse, after-lower, after-pack, after-simplify, after-vectorize, after-verify, cache-tile, channels-last, chunks-per-thread, conv-algorithm, depthwise-conv, direct-conv, inverted-residual, k-block, k-unroll, machine, matvec, orient, out-params, pack, prefetch-tiles, profile, realign-stack, register-tile, streamed-b-rows, threads, tile-sizes, tuning, vectorize, wake-instructions, winograd)
// OPTION-NOT: Traceback

// VALUE-NOT: Traceback
// VALUE: error: option cpu{vectorize}: cannot read 'maybe' as bool
// VALUE-NOT: Traceback

// TWO-NOT: Traceback
// TWO: error: --pipeline takes one named pipeline with options, got 'cpu,cse'
// TWO-NOT: Traceback

// WAKE-NOT: Traceback
// WAKE: error: option cpu{wake-instructions}: expected -1 (measured on this host), 0 (always parallel) or more, got -2
// WAKE-NOT: Traceback

// STREAMED-NOT: Traceback
// STREAMED: error: option cpu{streamed-b-rows}: expected -1 (measured on this host) or 0 or more, got -2
// STREAMED-NOT: Traceback

// PASS-NOT: Traceback
// PASS: error: option wafer-pack-matmul{streamed-b-rows}: expected -1 (measured on this host) or 0 or more, got -3
// PASS-NOT: Traceback

func.func @f() {
  return
}
