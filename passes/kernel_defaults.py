"""wafer-pack-matmul's tile defaults, in one place for the pass and the cpu pipeline.

The pipeline forwards its options to the pass; it reads the defaults here so
that listing its options does not load the pass (and torch-mlir's dialects).
Why each value: wafer-pack-matmul's docstring.
"""

CACHE_TILE = (64, 128)
K_UNROLL = 8
K_BLOCK = 128
