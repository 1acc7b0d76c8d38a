"""The `cpu` pipeline: linalg-on-tensors to the LLVM dialect, ready to JIT."""

from __future__ import annotations

from dataclasses import dataclass

from ..passes.pass_base import Configurable


@dataclass(frozen=True)
class CpuPipeline(Configurable):
    """Fuse and tile, vectorize, bufferize with deallocation, lower to LLVM.

    Options:
      tile-sizes: cache tile of the innermost output dims (see wafer-fuse).
      vectorize: lower tiles to `vector` ops (AVX-512 FMAs) where it pays.
    """

    name = "cpu"
    kind = "pipeline"
    summary = "linalg-on-tensors -> fused, tiled, bufferized loops -> LLVM dialect"

    tile_sizes: tuple[int, ...] = (8, 64)
    vectorize: bool = True

    def stages(self) -> list[tuple[str, str]]:
        """(stage name, pipeline text) in order; `wafer run` reports each stage.

        tm_tensor ops have no One-Shot model: one-shot-bufferize leaves them
        (`allow-unknown-ops`) and tm-tensor-bufferize then gives them fresh
        buffers. The other order fails: One-Shot Analysis rejects the
        `to_tensor` ops (without `restrict`) that tm-tensor-bufferize leaves.
        """
        tile = ",".join(str(size) for size in self.tile_sizes)
        return [
            ("verify", "wafer-verify-cpu-support"),
            (
                "simplify",
                "wafer-fold-const-globals,symbol-dce,func.func(canonicalize,cse),wafer-fold-transpose,"
                "func.func(linalg-fuse-elementwise-ops,canonicalize,cse)",
            ),
            ("fuse", f"wafer-fuse{{tile-sizes={tile}}},func.func(canonicalize,cse)"),
            *([("vectorize", "wafer-vectorize,func.func(canonicalize,cse)")] if self.vectorize else []),
            (
                "bufferize",
                "func.func(refback-generalize-tensor-pad,refback-generalize-tensor-concat),"
                "one-shot-bufferize{allow-unknown-ops bufferize-function-boundaries "
                "function-boundary-type-conversion=identity-layout-map "
                "unknown-type-conversion=identity-layout-map},"
                "func.func(tm-tensor-bufferize),refback-mlprogram-bufferize,func.func(canonicalize),"
                "scf-forall-to-for,buffer-deallocation-pipeline",
            ),
            (
                "lower",
                "func.func(tm-tensor-to-loops,refback-munge-memref-copy,convert-linalg-to-loops,"
                "convert-vector-to-scf{full-unroll},"
                "lower-affine),convert-scf-to-cf,wafer-lower-assert,"
                "func.func(refback-expand-ops-for-llvm,arith-expand,convert-math-to-llvm),"
                "convert-math-to-libm,expand-strided-metadata,finalize-memref-to-llvm,lower-affine,"
                "convert-bufferization-to-memref,finalize-memref-to-llvm,"
                "func.func(convert-arith-to-llvm),convert-vector-to-llvm,"
                "wafer-expose-c-interface,convert-func-to-llvm,convert-cf-to-llvm,"
                "convert-complex-to-llvm,convert-ub-to-llvm,reconcile-unrealized-casts",
            ),
        ]

    def pipeline(self) -> str:
        return "builtin.module(" + ",".join(text for _, text in self.stages()) + ")"
