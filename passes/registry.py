"""The one table of Wafer passes, read by `wafer-opt`, the pipelines and tests.

Entries are loaded on first use, so importing the registry imports no pass.
User passes join the table through `register_pass` (wafer/plugins.py loads
them from plugin files); an installed package's `wafer.passes` entry points
are read only when a name is not found here, or when every name is listed.
"""

from __future__ import annotations

import importlib

from .pass_base import WaferPass

_PASSES: dict[str, str] = {
    "wafer-verify-cpu-support": "verify_cpu_support:VerifyCpuSupport",
    "wafer-scalars-as-tensors": "scalars_as_tensors:ScalarsAsTensors",
    "wafer-fold-const-globals": "fold_const_globals:FoldConstGlobals",
    "wafer-fold-zero-trip": "fold_zero_trip:FoldZeroTrip",
    "wafer-fold-narrowed-constants": "fold_narrowed_constants:FoldNarrowedConstants",
    "wafer-bf16-builtins": "bf16_builtins:Bf16Builtins",
    "wafer-concat-chains": "concat_chains:ConcatChains",
    "wafer-check-gather-bounds": "check_gather_bounds:CheckGatherBounds",
    "wafer-slab-gathers": "slab_gathers:SlabGathers",
    "wafer-gathered-batch-matmul": "gathered_batch_matmul:GatheredBatchMatmul",
    "wafer-sort-nan-order": "sort_nan_order:SortNanOrder",
    "wafer-sorted-prefix": "sorted_prefix:SortedPrefix",
    "wafer-sort-rows": "sort_rows:SortRows",
    "wafer-fold-transpose": "fold_transpose:FoldTranspose",
    "wafer-fold-broadcast": "fold_broadcast:FoldBroadcast",
    "wafer-softmax-reciprocal": "softmax_reciprocal:SoftmaxReciprocal",
    "wafer-fold-channel-affine": "fold_channel_affine:FoldChannelAffine",
    "wafer-one-row-images": "one_row_images:OneRowImages",
    "wafer-conv3d-as-conv2d": "conv3d_as_conv2d:Conv3dAsConv2d",
    "wafer-transposed-conv-phases": "transposed_conv_phases:TransposedConvPhases",
    "wafer-dilated-conv-phases": "dilated_conv_phases:DilatedConvPhases",
    "wafer-decompose-attention": "decompose_attention:DecomposeAttention",
    "wafer-fuse": "fuse:Fuse",
    "wafer-fuse-rows": "fuse_rows:FuseRows",
    "wafer-attention-head-groups": "attention_head_groups:AttentionHeadGroups",
    "wafer-fuse-epilogues": "fuse_epilogues:FuseEpilogues",
    "wafer-split-epilogues": "split_epilogues:SplitEpilogues",
    "wafer-outline-kernels": "outline_kernels:OutlineKernels",
    "wafer-hoist-broadcast-compute": "hoist_broadcast_compute:HoistBroadcastCompute",
    "wafer-direct-conv": "direct_conv:DirectConv",
    "wafer-depthwise-conv": "depthwise_conv:DepthwiseConv",
    "wafer-depthwise-nhwc": "depthwise_nhwc:DepthwiseNhwc",
    "wafer-im2col": "im2col:Im2col",
    "wafer-channels-last": "channels_last:ChannelsLast",
    "wafer-fuse-inverted-residual": "fuse_inverted_residual:FuseInvertedResidual",
    "wafer-winograd": "winograd:Winograd",
    "wafer-orient-contractions": "orient_contractions:OrientContractions",
    "wafer-matvec": "matvec:Matvec",
    "wafer-pack-matmul": "pack_matmul:PackMatmul",
    "wafer-zero-accumulators": "zero_accumulators:ZeroAccumulators",
    "wafer-lower-contractions": "lower_contractions:LowerContractions",
    "wafer-polynomial-exp": "polynomial_exp:PolynomialExp",
    "wafer-rational-math": "rational_math:RationalMath",
    "wafer-reciprocal-powers": "reciprocal_powers:ReciprocalPowers",
    "wafer-log1p": "log1p:Log1p",
    "wafer-prefetch-panels": "prefetch_panels:PrefetchPanels",
    "wafer-prefetch-rows": "prefetch_rows:PrefetchRows",
    "wafer-prefetch-next-tile": "prefetch_next_tile:PrefetchNextTile",
    "wafer-serial-foralls": "serial_foralls:SerialForalls",
    "wafer-serial-short-calls": "serial_short_calls:SerialShortCalls",
    "wafer-split-asserts": "split_asserts:SplitAsserts",
    "wafer-return-allocations": "return_allocations:ReturnAllocations",
    "wafer-tighten-lifetimes": "tighten_lifetimes:TightenLifetimes",
    "wafer-plan-buffers": "plan_buffers:PlanBuffers",
    "wafer-stack-loop-temporaries": "stack_loop_temporaries:StackLoopTemporaries",
    "wafer-unshare-inits": "unshare_inits:UnshareInits",
    "wafer-eliminate-reshaped-empties": "reshaped_empties:EliminateReshapedEmpties",
    "wafer-scalar-tile-operands": "scalar_tile_operands:ScalarTileOperands",
    "wafer-vectorize": "vectorize:Vectorize",
    "wafer-vectorize-copies": "vectorize_copies:VectorizeCopies",
    "wafer-vectorize-pooling": "vectorize_pooling:VectorizePooling",
    "wafer-vectorize-transposes": "vectorize_transposes:VectorizeTransposes",
    "wafer-fold-channel-scale": "fold_channel_scale:FoldChannelScale",
    "wafer-drop-padding-taps": "drop_padding_taps:DropPaddingTaps",
    "wafer-plane-sums": "plane_sums:PlaneSums",
    "wafer-warm-threads": "warm_threads:WarmThreads",
    "wafer-balance-loops": "balance_loops:BalanceLoops",
    "wafer-expose-c-interface": "expose_c_interface:ExposeCInterface",
    "wafer-lower-assert": "lower_assert:LowerAssert",
    "wafer-profile-kernels": "profile_kernels:ProfileKernels",
    "wafer-count-heap": "count_heap:CountHeap",
    "wafer-annotate-loops": "annotate_loops:AnnotateLoops",
    "wafer-unoptimized-glue": "unoptimized_glue:UnoptimizedGlue",
    "wafer-realign-stack": "realign_stack:RealignStack",
    "wafer-fence-in-place-selects": "fence_in_place_selects:FenceInPlaceSelects",
    "wafer-slice-elementwise": "slice_elementwise:SliceElementwise",
    "wse-verify-support": "wse_verify_support:WseVerifySupport",
    "wse-unfold-windows": "wse_unfold_windows:WseUnfoldWindows",
    "wse-materialize-indices": "wse_materialize_indices:WseMaterializeIndices",
    "wse-split-gathers": "wse_split_gathers:WseSplitGathers",
    "wse-fold-constant-generics": "wse_fold_constant_generics:WseFoldConstantGenerics",
    "wse-partition": "wse_partition:WsePartition",
    "wse-place": "wse_place:WsePlace",
    "wse-distribute": "wse_distribute:WseDistribute",
    "wse-align-banks": "wse_align_banks:WseAlignBanks",
    "wse-transpose-weights": "wse_transpose_weights:WseTransposeWeights",
    "wse-route": "wse_route:WseRoute",
    "wse-trim-windows": "wse_trim_windows:WseTrimWindows",
    "wse-generalize-named": "wse_generalize_named:WseGeneralizeNamed",
    "wse-narrow-accumulators": "wse_narrow_accumulators:WseNarrowAccumulators",
    "wse-bias-after-sums": "wse_bias_after_sums:WseBiasAfterSums",
    "wse-fold-concat-casts": "wse_fold_concat_casts:WseFoldConcatCasts",
    "wse-extend-concats": "wse_extend_concats:WseExtendConcats",
    "wse-group-loops": "wse_group_loops:WseGroupLoops",
    "wse-merge-parallel-roles": "wse_merge_parallel_roles:WseMergeParallelRoles",
    "wse-collapse-loops": "wse_collapse_loops:WseCollapseLoops",
}


# User passes by name, with where each came from (for a clash's error).
_REGISTERED: dict[str, tuple[type[WaferPass], str]] = {}


def pass_names() -> list[str]:
    from ..plugins import load_all_entry_points

    load_all_entry_points()
    return sorted([*_PASSES, *_REGISTERED])


def is_wafer_pass(name: str) -> bool:
    if name in _PASSES or name in _REGISTERED:
        return True
    from ..plugins import load_entry_point

    return load_entry_point(name)


def get_pass(name: str) -> type[WaferPass]:
    if name in _REGISTERED:
        return _REGISTERED[name][0]
    module_name, class_name = _PASSES[name].split(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    return getattr(module, class_name)


def register_pass(pass_class: type[WaferPass], origin: str) -> None:
    """Add a user pass under its `name`; `origin` (a plugin file, an entry point)
    names where it came from. A name taken by another pass is a ValueError."""
    name = pass_class.name
    if name in _PASSES:
        raise ValueError(f"pass '{name}' from {origin} has the name of a built-in Wafer pass")
    if name in _REGISTERED and not _same_pass(_REGISTERED[name][0], pass_class):
        raise ValueError(f"pass '{name}' from {origin} has the name of the pass from {_REGISTERED[name][1]}")
    _REGISTERED[name] = (pass_class, origin)


def _same_pass(old: type[WaferPass], new: type[WaferPass]) -> bool:
    """One class, or the same class defined again (a notebook cell run twice)."""
    return (old.__module__, old.__qualname__) == (new.__module__, new.__qualname__)
