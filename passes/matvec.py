"""wafer-matvec: a one-row product with constant weights as dot products over the weights' rows."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, scf, vector

from .cpu_target import TargetedPass
from .kernel_defaults import PARALLEL_FLOPS
from .linalg_builders import (
    extract_slice,
    index_constant,
    parallel_insert,
    read_vector,
    scaled,
    splat,
    write_vector,
)
from .matmul_contraction import Contraction, in_parallel_loop, match_contraction
from .pack_matmul import record_strategy
from .pass_base import find_ops
from .serial_foralls import SERIAL


@dataclass(frozen=True)
class Matvec(TargetedPass):
    """Compute C[1, N] += A[1, K] * B[N, K]^T, B a constant (a batch-1 linear
    layer's weights, as torch lays them out), as N dot products along B's rows.

    Each weight is used once, so the product runs at the speed the weights
    stream from memory. wafer-pack-matmul's one-row kernel reads one panel at
    a time, a single sequential stream; here a block of rows, one per FMA
    chain (`CpuTarget.fma_chains`), is read side by side, each row its own
    stream and its own vector of partial sums, reduced across lanes once at
    the end. The weights are read in place: nothing is packed at compile or
    run time. bench/matvec.py times both against ONNX Runtime.

    Options:
      machine: the CPU (see cpu_target) whose vectors and FMA chains set the block.
      parallel-flops: smaller products run their row blocks serially.
    """

    name = "wafer-matvec"
    summary = "Compute one-row products with constant weights as dot products over the weights' rows"

    parallel_flops: int = PARALLEL_FLOPS

    def apply(self, module: ir.Operation) -> None:
        for op in find_ops(module, lambda op: op.name in ("linalg.matmul", "linalg.generic")):
            contraction = match_contraction(op.opview)
            if contraction is not None and self._reads_weight_rows(contraction):
                self._rewrite(contraction)

    def _reads_weight_rows(self, contraction: Contraction) -> bool:
        """One row of A, a constant B whose rows run along K, and K in whole vectors."""
        m, n, k = (contraction.primary[role] for role in "mnk")
        return (contraction.operand_loops == [[m, k], [n, k], [m, n]] and contraction.extents[m] == 1
                and contraction.constant == (False, True) and contraction.extents[k] % self.cpu.lanes == 0)

    def _rewrite(self, contraction: Contraction) -> None:
        op = contraction.op
        a, weights, init = op.operands
        n, k = weights.type.shape
        lanes = self.cpu.lanes
        rows = max(d for d in range(1, self.cpu.fma_chains + 1) if n % d == 0)
        unroll = next(u for u in (4, 2, 1) if k // lanes % u == 0)
        parallel = 2 * n * k >= self.parallel_flops and not in_parallel_loop(op)
        record_strategy(op, f"matrix-vector 1x{n}x{k}: {rows} weight rows at a time, {unroll} vectors a step"
                        + ("" if parallel else ", serial"))
        f32 = init.type.element_type
        lane_type, rows_type = ir.VectorType.get([lanes], f32), ir.VectorType.get([rows], f32)
        with ir.InsertionPoint(op), op.location:
            forall = scf.ForallOp([0], [n // rows], [1], [init])
            if not parallel:
                forall.operation.attributes[SERIAL] = ir.UnitAttr.get()
            with ir.InsertionPoint(forall.body):
                first_row = scaled(forall.induction_variables[0], rows)
                sums = _row_sums(a, weights, first_row, rows, lanes * unroll, lane_type)
                dots = vector.FromElementsOp(rows_type, [
                    vector.ReductionOp(f32, vector.CombiningKind.ADD, s).result for s in sums]).result
                zero = index_constant(0)
                tile = extract_slice(forall.inner_iter_args[0], [zero, first_row], [1, rows])
                start = read_vector(tile, [zero, zero], rows, arith.ConstantOp(f32, 0.0).result, True)
                tile = write_vector(arith.addf(start, dots), tile, [zero, zero], True)
                with ir.InsertionPoint(forall.terminator().block):
                    parallel_insert(tile, forall.inner_iter_args[0], [zero, first_row], [1, rows])
        op.results[0].replace_all_uses_with(forall.results[0])
        op.erase()


def _row_sums(a: ir.Value, weights: ir.Value, first_row: ir.Value, rows: int, step: int,
              lane_type: ir.VectorType) -> list[ir.Value]:
    """Per weight row from `first_row`, the lane-wise partial sums of its products
    with A's row: a loop over K, `step` values a turn, one FMA per row and vector."""
    lanes = lane_type.shape[0]
    k = weights.type.shape[1]
    pad = arith.ConstantOp(lane_type.element_type, 0.0).result
    loop = scf.ForOp(index_constant(0), index_constant(k), index_constant(step), [splat(0.0, lane_type)] * rows)
    with ir.InsertionPoint(loop.body):
        sums = list(loop.inner_iter_args)
        for offset in range(0, step, lanes):
            column = arith.addi(loop.induction_variable, index_constant(offset))
            x = read_vector(a, [index_constant(0), column], lanes, pad, True)
            for r in range(rows):
                row = read_vector(weights, [arith.addi(first_row, index_constant(r)), column], lanes, pad, True)
                sums[r] = vector.FMAOp(row, x, sums[r]).result
        scf.YieldOp(sums)
    return list(loop.results)
