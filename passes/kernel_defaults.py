"""wafer-pack-matmul's tile defaults, in one place for the pass, the cpu pipeline and the tuner.

The pipeline forwards its options to the pass; it reads the defaults here so
that listing its options does not load the pass (and torch-mlir's dialects).
The tuner's cost model plans kernels with the pass's threading threshold.
Why each value: wafer-pack-matmul's docstring.
"""

CACHE_TILE = (64, 128)
K_UNROLL = 8
K_BLOCK = 128
PARALLEL_FLOPS = 4_000_000
