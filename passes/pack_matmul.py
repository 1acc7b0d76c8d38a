"""wafer-pack-matmul: data-tile matmuls (the mmt4d layout) into a register-blocked kernel.

The pass only sequences the steps; each concern has a module of its own:
matmul_contraction (what is packed), matmul_plan (tile sizes and threads),
matmul_packing (the packed layout), matmul_kernel (the micro-kernel) and
matmul_gathers (im2col columns copied into the panels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured
from torch_mlir.dialects.transform import tensor as tensor_transform

from ..tuning.database import KernelChoice, TuningDatabase
from .constant_pack import fold_constant_packs
from .conv_algorithm import open_tuning_database
from .cpu_target import CpuTarget, TargetedPass
from .kernel_defaults import CACHE_TILE, K_BLOCK, K_UNROLL, PARALLEL_FLOPS
from .matmul_bias import add_bias_after_sums
from .matmul_contraction import Contraction, in_parallel_loop, match_contraction
from .matmul_gathers import gather_into_panels, im2col_gather, image_row, lower_gathers
from .matmul_kernel import emit_kernel, to_contractions
from .matmul_packing import (
    PACKED,
    fold_reshaping_packs,
    fuse_accumulator_fills,
    lower_relayouts,
    pack_operands,
    read_rows_in_place,
    unpack_accumulators,
)
from .matmul_plan import Kernel, plan_kernel, tuning_signature
from .matmul_residual import accumulate_onto_residual
from .matmul_split import split_ragged
from .pass_base import check_streamed_b_rows, enclosing_function, find_ops
from .transform_script import (
    TAG,
    group_functions,
    hoist_loop_invariant_subsets,
    remove_tags,
    tag,
    transform_script,
)

STRATEGY = "wafer.strategy"
TUNED_AS = "wafer.tuned_as"  # on the parts of a split contraction: the index of its whole's record


def record_strategy(op: ir.OpView, text: str) -> None:
    """Append `text` to the `wafer.strategy` list of the function holding `op`.

    The function outlives every loop the strategy makes, so the choice stays
    visible in each later IR dump and in the compile report.
    """
    func = enclosing_function(op)
    known = list(func.attributes[STRATEGY]) if STRATEGY in func.attributes else []
    func.attributes[STRATEGY] = ir.ArrayAttr.get(known + [ir.StringAttr.get(text)])


@dataclass(frozen=True)
class PackMatmul(TargetedPass):
    """Pack matmul operands into register-block panels and emit an FMA micro-kernel.

    Each static f32 matmul, batch matmul or matmul-like generic (any operand
    layout, e.g. the transposed weights of wafer-fold-transpose) is data-tiled
    with `linalg.pack`: A into [M/mr][K][mr] panels, B into [N/nr][K][nr],
    C into [M/mr][N/nr][mr][nr], so the inner loop streams both operands
    contiguously. Where M and N need no padding, C is accumulated in place
    (`unpack_accumulators`), and A, unless it is a constant, is read in place
    (`read_rows_in_place`). The packed op is tiled with `scf.forall` over cache tiles
    (one per thread), then over register blocks, then over K in steps of
    `kc`; each step is one `vector.contract` on an mr x nr accumulator that
    stays in registers across the K loop (kc broadcast-FMA outer products
    once wafer-lower-contractions runs, in the lower stage: until then the
    stages between carry one op per step instead of kc x mr). Packs of
    constants (weights) are folded at compile time; a B computed per call is
    packed inside each parallel cache tile when one tile spans M, else one
    K block at a time, A then per tile and block (see `k_blocked`). When B is
    a wafer-im2col gather, cache tiles are whole rows of the image where
    that fits, and each tile gathers its own columns too, so the column
    matrix never goes to memory (in vector runs straight into the packed
    panels where they fit, see `gather_into_panels`); other gathers are
    copied window by window, a vector row at a time. The choice is recorded in the function's
    `wafer.strategy` attribute.

    Options:
      machine: the CPU whose registers and caches size the kernel (see
        cpu_target): `host`, or a preset such as `avx2`.
      register-tile: mr,nr for M >= mr; empty (the default) takes the
        target's register tile. Shorter M gets a proportionally wider nr, a
        power of two of vectors (see `CpuTarget.vector_block`).
      k-unroll: largest number of k steps per loop iteration (a divisor of
        K; a prime K is unrolled whole).
      cache-tile: rows,cols of C per forall iteration. 64,128 keeps a tile's
        B panels in L2 while its rows of register blocks go by (784 deep:
        400 KB), and its 32 KB of C in cache for the fused epilogue; side by
        side it ran 1-9% faster than 64,256 on every benchmark model.
      parallel-flops: smaller matmuls loop over their cache tiles serially.
        Within a call the threads spin (wafer-warm-threads), and a fork and
        join costs far less than such a matmul (see kernel_defaults).
      tuning: a tuning database (wafer/tuning, written by `wafer tune`); a
        contraction with a record for this CPU takes the record's register
        tile, cache tile, k-unroll and k-block instead of the options, and
        its strategy says "tuned". Empty: none.
      threads: the worker threads the kernels run on; a record applies only
        at the thread count it was measured with, and cache tiles over
        weights leave at least two per thread (see `rows_reusing_weights`).
      k-block: K steps per block when B is packed at run time and not per
        cache tile (see `k_blocked`), and per block of a K too deep for the
        caches otherwise (see `k_tiled`). 128 keeps an 8x32 kernel's kc x nr
        panel of B (16 KB) in half of a 32 KB L1; with AVX2's 4x16 kernel
        it was as fast as 256 and held less (bench/kernel_tiles.py).
      streamed-b-rows: K stays whole where at most this many rows of register
        blocks read weights that outgrow L2 but not L3 (see `k_tiled`); -1
        (the default) measures it on this host (wafer/streamed_weights.py, once
        a machine, and only for a module with such weights).
    """

    name = "wafer-pack-matmul"
    summary = "Data-tile matmuls with linalg.pack into a register-blocked kernel"

    register_tile: tuple[int, ...] = ()
    k_unroll: int = K_UNROLL
    cache_tile: tuple[int, ...] = CACHE_TILE
    parallel_flops: int = PARALLEL_FLOPS
    k_block: int = K_BLOCK
    tuning: str = ""
    threads: int = 1
    streamed_b_rows: int = -1

    def __post_init__(self):
        super().__post_init__()
        check_streamed_b_rows(self.name, self.streamed_b_rows)

    @property
    def cpu(self) -> CpuTarget:
        target = super().cpu
        return target if self.streamed_b_rows < 0 else replace(target, streamed_b_rows=self.streamed_b_rows)

    def apply(self, module: ir.Operation) -> None:
        database = open_tuning_database(self.tuning, self.cpu, module.location)
        # The parts of a split contraction keep the record tuned for it whole.
        records = []

        def plan_whole(contraction: Contraction) -> Kernel:
            # Ragged edges split by the option's tile rows: a tile over all rows would
            # leave nothing to split and A packed with padding on every call.
            kernel, _, tuned, *_ = self._plan(contraction, database, records, threads=0)
            if tuned is not None:
                contraction.op.attributes[TUNED_AS] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64),
                                                                         len(records))
                records.append(tuned)
            return kernel

        for contraction in self._match(module):  # before a split: its parts start from zeros or their residual
            add_bias_after_sums(contraction.op)
            accumulate_onto_residual(contraction.op)
        split_ragged(module, lambda: self._match(module), plan_whole)
        found = self._match(module)
        if not found:
            return
        plans = []
        with transform_script(module) as root:
            for i, contraction in enumerate(found):
                kernel, per_tile, tuned, gather, row = self._plan(contraction, database, records)
                record_strategy(contraction.op, ("tuned " if tuned is not None else "") + kernel.describe(contraction))
                tag(contraction.op.operation, f"mm{i}")
                pack_operands(root, f"mm{i}", contraction, kernel)
                plans.append((contraction, kernel, per_tile, gather, row))
        unpack_accumulators(module)
        # With K in blocks, each cache tile packs its rows of A per block instead.
        read_rows_in_place(module, {f"mm{i}" for i, (_, kernel, *_) in enumerate(plans) if not kernel.k_block})
        names = [f"mm{i}" for i in range(len(plans))]
        with transform_script(module, outline=names, keys=(TAG, PACKED)) as root:
            for i, (contraction, kernel, per_tile, gather, row) in enumerate(plans):
                if gather is not None:
                    tag(gather.operation, f"mm{i}.gather")
                emit_kernel(root, f"mm{i}", contraction, kernel, per_tile, gather, row)
            funcs = group_functions(root)
            to_contractions(funcs)
            # A pack fused into a loop writes a slice of the whole packed tensor; make
            # that slice a tensor of its own, so only the tile's panels are allocated.
            empty = transform.ApplyPatternsOp(funcs)
            with ir.InsertionPoint(empty.patterns):
                tensor_transform.ApplyFoldTensorEmptyPatternsOp()
            hoist_loop_invariant_subsets(root)  # the accumulator stays in registers across K
        # The patterns above ran on the groups' own functions: fold the rest of the
        # model too, and what lies across the groups' edges (a reshaped fill of the
        # empty accumulator two contractions share, say).
        with transform_script(module) as root:
            funcs = structured.MatchOp.match_op_names(root, ["func.func"]).result
            fold = transform.ApplyPatternsOp(funcs)
            with ir.InsertionPoint(fold.patterns):
                transform.ApplyCanonicalizationPatternsOp()
                tensor_transform.ApplyFoldTensorEmptyPatternsOp()
        remove_tags(module, (PACKED, TUNED_AS))
        gather_into_panels(module)
        fold_constant_packs(module)  # weights are packed once, here, not on every call
        fold_reshaping_packs(module)
        fuse_accumulator_fills(module)
        lower_relayouts(module, self.cpu.lanes)
        lower_gathers(module)

    @staticmethod
    def _match(module: ir.Operation) -> list[Contraction]:
        return [c for c in (match_contraction(op.opview) for op in find_ops(module, lambda op: True))
                if c is not None]

    def _plan(self, contraction: Contraction, database: TuningDatabase | None, records: list,
              threads: int | None = None):
        """The kernel of `contraction`, whether B is packed per cache tile, the
        tuned record that chose it (if any; a part of a split contraction has
        its whole's, in `records`), and B's im2col gather and row; at the
        pass's threads, or at 0 for the choice's own cache tile rows."""
        gather = im2col_gather(contraction)
        row = image_row(contraction)
        # A contraction inside a parallel loop (wafer-winograd's blocks) is one thread's work.
        parallel_flops = math.inf if in_parallel_loop(contraction.op) else self.parallel_flops
        if TUNED_AS in contraction.op.attributes:
            tuned = records[ir.IntegerAttr(contraction.op.attributes[TUNED_AS]).value]
        else:
            signature = tuning_signature(contraction, self.threads)
            tuned = database.lookup(signature) if database is not None and signature is not None else None
        choice = tuned.choice if tuned is not None else self._options_choice()
        kernel, per_tile = plan_kernel(contraction, choice, self.cpu, parallel_flops, row,
                                       self.threads if threads is None else threads)
        return kernel, per_tile, tuned, gather, row

    def _options_choice(self) -> KernelChoice:
        """The kernel this pass's options ask for, where no tuned record applies."""
        return KernelChoice(tuple(self.register_tile or self.cpu.register_tile), tuple(self.cache_tile),
                            self.k_unroll, self.k_block)
