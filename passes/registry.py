"""The one table of Wafer passes, read by `wafer-opt`, the pipelines and tests.

Entries are loaded on first use, so importing the registry imports no pass.
"""

from __future__ import annotations

import importlib

from .pass_base import WaferPass

_PASSES: dict[str, str] = {
    "wafer-verify-cpu-support": "verify_cpu_support:VerifyCpuSupport",
    "wafer-scalars-as-tensors": "scalars_as_tensors:ScalarsAsTensors",
    "wafer-fold-const-globals": "fold_const_globals:FoldConstGlobals",
    "wafer-fold-zero-trip": "fold_zero_trip:FoldZeroTrip",
    "wafer-fold-transpose": "fold_transpose:FoldTranspose",
    "wafer-fold-broadcast": "fold_broadcast:FoldBroadcast",
    "wafer-decompose-attention": "decompose_attention:DecomposeAttention",
    "wafer-fuse": "fuse:Fuse",
    "wafer-fuse-epilogues": "fuse_epilogues:FuseEpilogues",
    "wafer-hoist-broadcast-compute": "hoist_broadcast_compute:HoistBroadcastCompute",
    "wafer-direct-conv": "direct_conv:DirectConv",
    "wafer-depthwise-conv": "depthwise_conv:DepthwiseConv",
    "wafer-im2col": "im2col:Im2col",
    "wafer-winograd": "winograd:Winograd",
    "wafer-pack-matmul": "pack_matmul:PackMatmul",
    "wafer-polynomial-exp": "polynomial_exp:PolynomialExp",
    "wafer-rational-math": "rational_math:RationalMath",
    "wafer-prefetch-panels": "prefetch_panels:PrefetchPanels",
    "wafer-serial-foralls": "serial_foralls:SerialForalls",
    "wafer-split-asserts": "split_asserts:SplitAsserts",
    "wafer-return-allocations": "return_allocations:ReturnAllocations",
    "wafer-tighten-lifetimes": "tighten_lifetimes:TightenLifetimes",
    "wafer-unshare-inits": "unshare_inits:UnshareInits",
    "wafer-vectorize": "vectorize:Vectorize",
    "wafer-vectorize-copies": "vectorize_copies:VectorizeCopies",
    "wafer-vectorize-pooling": "vectorize_pooling:VectorizePooling",
    "wafer-warm-threads": "warm_threads:WarmThreads",
    "wafer-expose-c-interface": "expose_c_interface:ExposeCInterface",
    "wafer-lower-assert": "lower_assert:LowerAssert",
    "wafer-profile-kernels": "profile_kernels:ProfileKernels",
    "wafer-count-heap": "count_heap:CountHeap",
    "wafer-annotate-loops": "annotate_loops:AnnotateLoops",
    "wse-unfold-windows": "wse_unfold_windows:WseUnfoldWindows",
    "wse-materialize-indices": "wse_materialize_indices:WseMaterializeIndices",
    "wse-partition": "wse_partition:WsePartition",
    "wse-place": "wse_place:WsePlace",
    "wse-distribute": "wse_distribute:WseDistribute",
    "wse-route": "wse_route:WseRoute",
}


def pass_names() -> list[str]:
    return sorted(_PASSES)


def is_wafer_pass(name: str) -> bool:
    return name in _PASSES


def get_pass(name: str) -> type[WaferPass]:
    module_name, class_name = _PASSES[name].split(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    return getattr(module, class_name)
