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
      pack: data-tile static f32 matmuls into the packed FMA kernel
        (wafer-pack-matmul) instead of tiling them in place.
      register-tile, cache-tile, k-unroll: the packed kernel's tile sizes
        (see wafer-pack-matmul).
    """

    name = "cpu"
    summary = "linalg-on-tensors -> fused, tiled, bufferized loops -> LLVM dialect"

    tile_sizes: tuple[int, ...] = (8, 64)
    vectorize: bool = True
    pack: bool = True
    register_tile: tuple[int, ...] = (8, 32)
    cache_tile: tuple[int, ...] = (64, 256)
    k_unroll: int = 8

    def stages(self) -> list[tuple[str, str]]:
        """(stage name, pipeline text) in order; `wafer run` reports each stage."""
        tile = _ints(self.tile_sizes)
        return [
            ("verify", "wafer-verify-cpu-support"),
            (
                "simplify",
                "func.func(canonicalize,cse),wafer-fold-transpose,"
                "func.func(linalg-fuse-elementwise-ops,canonicalize,cse)",
            ),
            *([("pack", self._pack_matmul())] if self.pack else []),
            ("fuse", f"wafer-fuse{{tile-sizes={tile}}},func.func(canonicalize,cse)"),
            *([("vectorize", "wafer-vectorize,func.func(canonicalize,cse)")] if self.vectorize else []),
            (
                "bufferize",
                "func.func(refback-generalize-tensor-pad,refback-generalize-tensor-concat,"
                "tm-tensor-bufferize),"
                "one-shot-bufferize{bufferize-function-boundaries "
                "function-boundary-type-conversion=identity-layout-map},"
                "refback-mlprogram-bufferize,func.func(canonicalize),"
                "scf-forall-to-for,buffer-deallocation-pipeline",
            ),
            (
                "lower",
                "func.func(tm-tensor-to-loops,refback-munge-memref-copy,convert-linalg-to-loops,"
                "convert-vector-to-scf{full-unroll},"
                "lower-affine),convert-scf-to-cf,"
                "func.func(refback-expand-ops-for-llvm,arith-expand,convert-math-to-llvm),"
                "convert-math-to-libm,expand-strided-metadata,finalize-memref-to-llvm,lower-affine,"
                "convert-bufferization-to-memref,finalize-memref-to-llvm,"
                "func.func(convert-arith-to-llvm),convert-vector-to-llvm,"
                "wafer-expose-c-interface,convert-func-to-llvm,convert-cf-to-llvm,"
                "convert-complex-to-llvm,convert-ub-to-llvm,reconcile-unrealized-casts",
            ),
        ]

    def _pack_matmul(self) -> str:
        options = (f"register-tile={_ints(self.register_tile)} cache-tile={_ints(self.cache_tile)} "
                   f"k-unroll={self.k_unroll}")
        return f"wafer-pack-matmul{{{options}}},func.func(canonicalize,cse)"

    def pipeline(self) -> str:
        return "builtin.module(" + ",".join(text for _, text in self.stages()) + ")"


def _ints(values: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values)
