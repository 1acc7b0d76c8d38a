"""wafer-pack-matmul's tile defaults and the threading thresholds, in one place for the passes,
the cpu pipeline and the tuner.

The pipeline forwards its options to the pass; it reads the defaults here so
that listing its options does not load the pass (and torch-mlir's dialects).
The tuner's cost model plans kernels with the pass's threading threshold.
Why each tile value: wafer-pack-matmul's docstring.
"""

CACHE_TILE = (64, 128)
K_UNROLL = 8
K_BLOCK = 128
# Contractions (and direct convolutions) of fewer FLOPs loop over their cache
# tiles on one thread. Within a call a parallel loop's fork and join costs about
# a third of a microsecond (bench/thread_wake.py's "next loops"), some 0.1 MFLOP
# of one core's matmul; from 0.5 MFLOP the second core saves a few times that.
# At 4 MFLOP, an RNN's time steps (8x512x128, 1 MFLOP) all ran on one core.
PARALLEL_FLOPS = 500_000
# A contraction of fewer cache tiles than threads has its tiles split for them
# (matmul_plan.tiles_for_threads) only from this many FLOPs a thread: each part
# packs A's rows again (a 7x7 image's im2col rows against 64 filters, 2.7 MFLOP
# a thread, ran several times slower split).
SPLIT_TILE_FLOPS = 4_000_000
# Elementwise ops, pools, transposes and depthwise stencils over fewer elements
# loop over their tiles on one thread. Within a call the workers spin
# (wafer-warm-threads), and a parallel loop costs a fork and join of under a
# microsecond (bench/thread_wake.py prints it); a few microseconds of one
# core's work, some 16K elements, pay for that and for the other core reading
# what this one wrote. (Where the workers sleep between calls,
# wafer-serial-short-calls keeps a call too short to wake them serial.)
PARALLEL_ELEMENTS = 1 << 14
# A parallel loop's iterations go out in chunks, this many a thread on average,
# to whichever thread is free (wafer-balance-loops). bench/thread_balance.py
# times 2, 4, 8 and one-iteration chunks against static shares on the zoo:
# 4 and 8 ran 2-15% faster than static on most models at 2 threads, and one
# iteration a chunk paid a shared counter per LeNet convolution row.
CHUNKS_PER_THREAD = 8
# The rows of register blocks at which wafer/streamed_weights.py times weights
# streamed from L3 with K whole and in blocks (see `matmul_plan.k_tiled`); more
# rows always take blocks: from 8 rows on, whole ran faster on some shapes and
# some 10% slower on others, on a Zen 5 and on a Zen 4 (bench/kernel_tiles.py).
STREAMED_PROBE_ROWS = (1, 2, 4)
# The largest elementwise tile (or full reduction input) wafer-vectorize makes
# vector code of whole.
VECTOR_TILE_ELEMENTS = 4096
