"""The `cpu` pipeline: linalg-on-tensors to the LLVM dialect, ready to JIT."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import ClassVar

from ..diagnostics import WaferError
from ..pass_pipeline import check_pipeline
from ..passes.conv_algorithm import AUTO, check_conv_algorithm
from ..passes.cpu_target import host_flags, resolve
from ..passes.kernel_defaults import CACHE_TILE, CHUNKS_PER_THREAD, K_BLOCK, K_UNROLL
from ..passes.pass_base import Configurable, OptionError, check_streamed_b_rows, check_tuning_path


@dataclass(frozen=True)
class CpuPipeline(Configurable):
    """Fuse and tile, vectorize, bufferize with deallocation, lower to LLVM.

    Options:
      machine: the CPU the strategies are chosen for (see passes/cpu_target.py):
        `host` (this machine's vector width, registers and caches) or a
        preset (`avx512`, `avx2`, `sse`, `neon`). The JIT emits code for the host.
      tile-sizes: cache tile of the innermost output dims (see wafer-fuse).
      vectorize: lower tiles to `vector` ops (FMAs) where it pays,
        max pooling over disjoint windows to vector row maxima, and copies
        between static buffers to vector rows.
      winograd: in the pack stage, compute big 3x3 stride-1 convolutions as
        Winograd F(2x2, 3x3) (wafer-winograd).
      direct-conv: in the pack stage, compute the convolutions whose output
        row blocks fit the vector registers directly (wafer-direct-conv).
      conv-algorithm: auto (each pass's rule, or the tuning record), or
        winograd, direct, im2col or im2col-swapped (its contraction's
        operands swapped, see wafer-orient-contractions) for every
        convolution it can compute (passes/conv_algorithm.py).
      channels-last: in the pack stage, compute 1x1 stride-1 and depthwise
        convolutions and the elementwise ops between them in NHWC
        (wafer-channels-last).
      inverted-residual: in the pack stage, first compute the expand ->
        depthwise -> project blocks whose images outgrow the caches a block
        of output rows at a time (wafer-fuse-inverted-residual).
      depthwise-conv: in the pack stage, compute depthwise convolutions as
        vector stencils along output rows (wafer-depthwise-conv).
      matvec: in the pack stage, compute one-row products with constant
        weights (batch-1 linear layers) as dot products along the weights'
        rows (wafer-matvec).
      orient: swap a contraction's operands where the packed kernel pads less
        that way (wafer-orient-contractions: late, small images of a CNN).
      pack: turn the other convolutions into im2col matmuls (wafer-im2col) and
        data-tile static f32 matmuls into the packed FMA kernel
        (wafer-pack-matmul) instead of tiling them in place.
      register-tile, cache-tile, k-unroll, k-block: the packed kernel's tile
        sizes (see wafer-pack-matmul); an empty register tile is the machine's.
      streamed-b-rows: K stays whole where at most this many rows of register
        blocks read weights streamed from L3 (see wafer-pack-matmul); -1
        measures it on this host (wafer/streamed_weights.py).
      tuning: a tuning database written by `wafer tune` (wafer/tuning): the
        contractions it has records of for this CPU and thread count take the
        measured kernel instead of these tile sizes. Empty: none.
      out-params: public functions take their (static) results as arguments
        and write them in place (buffer-results-to-out-params): the caller's
        arrays, with no copy after the call.
      threads: worker threads for the `scf.forall` loops, run as OpenMP
        parallel loops (the intel-openmp runtime); 1 keeps them serial, 0
        means one per core.
      wake-instructions: at threads > 1, a function whose parallel loops
        would save fewer instructions than this runs on one thread
        (wafer-serial-short-calls); -1 measures the host's wake-up of a
        sleeping worker (wafer/thread_wake.py), 0 keeps every function parallel.
      chunks-per-thread: at threads > 1, each parallel loop hands its
        iterations out in chunks, this many a thread, to whichever thread is
        free (wafer-balance-loops); 0 splits them evenly before the loop starts.
      profile: time each kernel (wafer-profile-kernels), for
        `CpuExecutable.profile` and `wafer run --profile`.
      realign-stack: each function aligns its stack frame to its widest
        spill slot (wafer-realign-stack); false leaves vector spills at the
        caller's alignment, as bench/stack_depth.py compares.
      prefetch-tiles: kernels that reuse each tile of weights too big for
        the caches prefetch the next tile while they reuse this one
        (wafer-prefetch-next-tile); false leaves the weights to be read on
        demand, as bench/weight_streaming.py compares.
      after-verify, after-simplify, after-pack, after-fuse, after-vectorize,
        after-bufferize, after-lower: a pass pipeline (`my-pass,canonicalize`)
        run at the end of that stage, e.g. a user's pass (wafer/plugins.py).
    """

    name = "cpu"
    kind = "pipeline"
    summary = "linalg-on-tensors -> fused, tiled, bufferized loops -> LLVM dialect"
    # The stage after which the IR is the model's own dataflow, before Wafer picks
    # layouts: the reference a call's peak memory is measured against.
    model_stage: ClassVar[str] = "simplify"

    machine: str = "host"
    tile_sizes: tuple[int, ...] = (8, 64)
    vectorize: bool = True
    pack: bool = True
    winograd: bool = True
    direct_conv: bool = True
    conv_algorithm: str = AUTO
    channels_last: bool = True
    inverted_residual: bool = True
    depthwise_conv: bool = True
    orient: bool = True
    matvec: bool = True
    register_tile: tuple[int, ...] = ()
    cache_tile: tuple[int, ...] = CACHE_TILE
    k_unroll: int = K_UNROLL
    k_block: int = K_BLOCK
    streamed_b_rows: int = -1
    tuning: str = ""
    out_params: bool = True
    threads: int = 0
    wake_instructions: int = -1
    chunks_per_thread: int = CHUNKS_PER_THREAD
    profile: bool = False
    realign_stack: bool = True
    prefetch_tiles: bool = True
    after_verify: str = ""
    after_simplify: str = ""
    after_pack: str = ""
    after_fuse: str = ""
    after_vectorize: str = ""
    after_bufferize: str = ""
    after_lower: str = ""

    def __post_init__(self):
        # An unknown machine or pass is an option error, before anything runs.
        resolve(self.machine)
        if self.threads < 0:
            raise OptionError(f"option {self.name}{{threads}}: expected 0 (one per core) or more, got {self.threads}")
        if self.wake_instructions < -1:
            raise OptionError(f"option {self.name}{{wake-instructions}}: expected -1 (measured on this host), "
                              f"0 (always parallel) or more, got {self.wake_instructions}")
        if self.chunks_per_thread < 0:
            raise OptionError(f"option {self.name}{{chunks-per-thread}}: expected 0 (even shares) or more, "
                              f"got {self.chunks_per_thread}")
        self._check_kernel_options()
        stages = [name for name, _ in self._wafer_stages()]
        for stage, text in self._user_passes().items():
            where = f"option {self.name}{{after-{stage}}}"
            if stage not in stages:
                raise OptionError(f"{where}: the {stage} stage is off ({stage}=false)")
            try:
                check_pipeline(text)
            except WaferError as err:
                raise OptionError(f"{where}: {str(err).removeprefix('error: ')}") from None

    def _check_kernel_options(self) -> None:
        """The packed kernel's tile options, checked here: wafer-pack-matmul
        divides by them and unpacks them in pairs."""
        for option, value, count in (("register-tile", self.register_tile, 2), ("cache-tile", self.cache_tile, 2),
                                     ("tile-sizes", self.tile_sizes, None)):
            if value and (count is not None and len(value) != count or any(v < 1 for v in value)):
                expected = f"{count} positive sizes" if count else "positive sizes"
                raise OptionError(f"option {self.name}{{{option}}}: expected {expected}, got {_ints(value)}")
        if self.k_unroll < 1:
            raise OptionError(f"option {self.name}{{k-unroll}}: expected 1 or more, got {self.k_unroll}")
        if self.k_block < 0:
            raise OptionError(f"option {self.name}{{k-block}}: expected 0 (K whole) or more, got {self.k_block}")
        check_streamed_b_rows(self.name, self.streamed_b_rows)
        check_tuning_path(self.name, self.tuning)
        check_conv_algorithm(self.name, self.conv_algorithm)

    def stages(self) -> list[tuple[str, str]]:
        """(stage name, pipeline text) in order, each stage's `after-<stage>`
        passes at its end; `wafer run` reports each stage."""
        user = self._user_passes()
        return [(name, f"{text},{user[name]}" if name in user else text) for name, text in self._wafer_stages()]

    def _user_passes(self) -> dict[str, str]:
        """{stage: pipeline text} of the after-<stage> options that are set."""
        return {
            f.name.removeprefix("after_"): getattr(self, f.name)
            for f in fields(self) if f.name.startswith("after_") and getattr(self, f.name)
        }

    def _wafer_stages(self) -> list[tuple[str, str]]:
        """Wafer's own stages, without the user's passes.

        tm_tensor ops have no One-Shot model: one-shot-bufferize leaves them
        (`allow-unknown-ops`) and tm-tensor-bufferize then gives them fresh
        buffers. The other order fails: One-Shot Analysis rejects the
        `to_tensor` ops (without `restrict`) that tm-tensor-bufferize leaves.
        """
        tile = _ints(self.tile_sizes)
        threads = self.thread_count()
        # At threads > 1 the loops wafer-fuse marked too small for threads stay serial,
        # and so do all of a function's loops where together they save less than waking a worker.
        forall = ("scf-forall-to-for" if threads == 1 else
                  f"wafer-serial-short-calls{{machine={self.machine} threads={threads} "
                  f"wake-instructions={self.wake_instructions}}},"
                  "wafer-serial-foralls,scf-forall-to-parallel")
        # canonicalize inlines the memref.alloca_scope each parallel body gets,
        # which scf-to-cf would otherwise split into blocks it may not have.
        # Allocations call functions wafer-count-heap defines, so each call reports its peak memory.
        memref_to_llvm = "finalize-memref-to-llvm{use-generic-functions=true}"
        profile = "wafer-profile-kernels," if self.profile else ""
        # The JIT emits code for the host, whatever `machine` the strategies are for.
        exp = f"wafer-polynomial-exp{{scalef={'true' if 'avx512f' in host_flags() else 'false'}}}"
        balance = f"wafer-balance-loops{{threads={threads} chunks-per-thread={self.chunks_per_thread}}},"
        openmp = "" if threads == 1 else (f"convert-scf-to-openmp{{num-threads={threads}}},canonicalize,{balance}"
                                          f"wafer-warm-threads{{threads={threads}}},")
        return [
            ("verify", "wafer-verify-cpu-support"),
            (
                "simplify",
                "wafer-scalars-as-tensors,wafer-fold-const-globals,symbol-dce,wafer-decompose-attention,func.func(canonicalize,cse),"
                "wafer-slice-elementwise,wafer-fold-channel-affine,wafer-transposed-conv-phases,wafer-one-row-images,"
                "wafer-conv3d-as-conv2d,wafer-fold-zero-trip,wafer-fold-narrowed-constants,wafer-sort-nan-order,wafer-sorted-prefix,"
                f"wafer-check-gather-bounds,wafer-gathered-batch-matmul,wafer-slab-gathers{self._on_machine},"
                "wafer-fold-transpose,wafer-fold-broadcast,wafer-concat-chains,"
                "wafer-softmax-reciprocal,"
                f"wafer-attention-head-groups{{machine={self.machine} threads={threads}}}",
            ),
            # Packing comes before elementwise fusion, which would otherwise fuse
            # producers (softmax, say) into a matmul and hide the contraction.
            *([("pack", self._pack_matmul())] if self.pack else []),
            (
                "fuse",
                f"wafer-plane-sums{self._on_machine},func.func(linalg-fuse-elementwise-ops),wafer-hoist-broadcast-compute,wafer-split-asserts,"
                "wafer-split-epilogues,func.func(canonicalize,cse),wafer-fuse-epilogues,"
                + (f"wafer-vectorize-pooling{self._on_machine},wafer-vectorize-transposes{self._on_machine},"
                   if self.vectorize else "")
                + f"wafer-fuse-rows{self._on_machine},wafer-fuse{{tile-sizes={tile}}},func.func(canonicalize,cse)",
            ),
            *([("vectorize", f"wafer-scalar-tile-operands{self._on_machine},wafer-vectorize{self._on_machine},func.func(canonicalize,cse)")]
              if self.vectorize else []),
            (
                "bufferize",
                "func.func(refback-generalize-tensor-pad,refback-generalize-tensor-concat),wafer-unshare-inits,wafer-eliminate-reshaped-empties,eliminate-empty-tensors,"
                "one-shot-bufferize{allow-unknown-ops bufferize-function-boundaries "
                "function-boundary-type-conversion=identity-layout-map "
                "unknown-type-conversion=identity-layout-map},"
                "func.func(tm-tensor-bufferize),refback-mlprogram-bufferize,func.func(canonicalize),"
                + ("wafer-return-allocations,"
                   "buffer-results-to-out-params{hoist-static-allocs modify-public-functions add-result-attr},"
                   if self.out_params else "")
                + f"{forall},buffer-deallocation-pipeline,wafer-tighten-lifetimes,wafer-plan-buffers,"
                "wafer-stack-loop-temporaries,"
                "wafer-prefetch-panels,wafer-prefetch-rows"
                + (",wafer-prefetch-next-tile" if self.prefetch_tiles else "")
                + (f",wafer-vectorize-copies{{machine={self.machine} threads={threads}}},func.func(canonicalize)"
                   if self.vectorize else ""),
            ),
            (
                "lower",
                # Kernels are timed as loop nests, before they become OpenMP regions.
                # bf16 is looked for here, in a module a sixth the size of the LLVM dialect's.
                f"wafer-lower-contractions,wafer-bf16-builtins,wafer-fence-in-place-selects,{profile}{openmp}"
                "wafer-sort-rows,func.func(tm-tensor-to-loops,refback-munge-memref-copy,"
                "convert-linalg-to-loops),"
                "wafer-outline-kernels,func.func(convert-vector-to-scf{full-unroll},"
                f"lower-affine),convert-scf-to-cf,wafer-lower-assert,{exp},wafer-rational-math,wafer-log1p,"
                # LLVM's powi takes one scalar exponent: constant ones become multiplies, the rest calls.
                "wafer-reciprocal-powers,func.func(math-expand-ops{ops=fpowi}),convert-math-to-funcs,"
                # x86 has no bf16 or f16 arithmetic: compute in f32, and round to bf16 in integer ops.
                "func.func(math-extend-to-supported-types{target-type=f32},arith-emulate-unsupported-floats{source-types=bf16 target-type=f32},"
                "arith-expand{include-bf16},convert-math-to-llvm),"
                f"convert-math-to-libm,expand-strided-metadata,{memref_to_llvm},lower-affine,"
                f"convert-bufferization-to-memref,{memref_to_llvm},"
                # A function at a time: one conversion of the whole module gives the same IR, more slowly.
                "func.func(convert-arith-to-llvm,convert-vector-to-llvm{enable-x86=true}),"
                "wafer-expose-c-interface,convert-func-to-llvm,convert-cf-to-llvm,"
                "convert-complex-to-llvm,convert-ub-to-llvm,convert-openmp-to-llvm,"
                "reconcile-unrealized-casts,wafer-count-heap,wafer-annotate-loops,wafer-unoptimized-glue"
                + (",wafer-realign-stack" if self.realign_stack else ""),
            ),
        ]

    def thread_count(self) -> int:
        return self.threads if self.threads > 0 else os.cpu_count() or 1

    def _pack_matmul(self) -> str:
        register_tile = f" register-tile={_ints(self.register_tile)}" if self.register_tile else ""
        options = (f"machine={self.machine}{register_tile} cache-tile={_ints(self.cache_tile)} "
                   f"k-unroll={self.k_unroll} k-block={self.k_block} streamed-b-rows={self.streamed_b_rows} "
                   f"threads={self.thread_count()}{self._tuning}")
        return (f"{self.contraction_passes()},wafer-pack-matmul{{{options}}},wafer-zero-accumulators,"
                "func.func(canonicalize,cse)")

    def contraction_passes(self) -> str:
        """The pack stage's passes before wafer-pack-matmul: they turn convolutions
        into the contractions it packs (what `wafer tune` collects)."""
        choice = (f"{{machine={self.machine} conv-algorithm={self.conv_algorithm} "
                  f"threads={self.thread_count()}{self._tuning}}}")
        winograd = f"wafer-dilated-conv-phases{choice},wafer-winograd{choice}," if self.winograd else ""
        direct = f"wafer-direct-conv{choice}," if self.direct_conv else ""
        depthwise = f"wafer-depthwise-conv{self._on_machine}," if self.depthwise_conv else ""
        orient = f",wafer-orient-contractions{self._on_machine}" if self.orient else ""
        channels_last = (f"wafer-channels-last{self._on_machine},func.func(canonicalize,cse),"
                         f"wafer-depthwise-nhwc{self._on_machine},"
                         if self.channels_last else "")
        fused = f"wafer-fuse-inverted-residual{self._on_machine}," if self.inverted_residual else ""
        matvec = f",wafer-matvec{self._on_machine}" if self.matvec else ""
        return (f"wafer-drop-padding-taps,{fused}{channels_last}wafer-fold-channel-scale,"
                f"{winograd}{direct}{depthwise}wafer-im2col{choice}{matvec}{orient}")

    @property
    def _tuning(self) -> str:
        """The option of the passes that read the tuning database, if there is one."""
        return f" tuning={self.tuning}" if self.tuning else ""

    @property
    def _on_machine(self) -> str:
        """The option every machine-dependent pass takes."""
        return f"{{machine={self.machine}}}"

    def pipeline(self) -> str:
        return "builtin.module(" + ",".join(text for _, text in self.stages()) + ")"


def _ints(values: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values)
