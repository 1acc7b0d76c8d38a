"""Wafer from Python, without PyTorch: run passes over a linalg module as
`wafer-opt` does, then compile it for the CPU and for the simulated wafer.

    python examples/basic_usage.py [--size 64]
"""

import argparse

import numpy as np

import wafer
from wafer.compiler import count_ops, parse_module
from wafer.context import make_context
from wafer.pass_pipeline import build_pass_manager
from wafer.passes import registry

LINEAR_RELU = """
#rows = affine_map<(i, j) -> (i, j)>
#cols = affine_map<(i, j) -> (j)>
func.func @linear_relu(%x: tensor<{m}x{k}xf32>, %w: tensor<{k}x{n}xf32>, %b: tensor<{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<{m}x{n}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %xw = linalg.matmul ins(%x, %w : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>)
      outs(%init : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %y = linalg.generic {{indexing_maps = [#rows, #cols, #rows], iterator_types = ["parallel", "parallel"]}}
      ins(%xw, %b : tensor<{m}x{n}xf32>, tensor<{n}xf32>) outs(%empty : tensor<{m}x{n}xf32>) {{
  ^bb0(%v: f32, %bias: f32, %out: f32):
    %sum = arith.addf %v, %bias : f32
    %relu = arith.maximumf %sum, %zero : f32
    linalg.yield %relu : f32
  }} -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}
"""

# What `wafer-opt linear_relu.mlir -p '...'` runs: Wafer's passes and upstream ones by name.
PASSES = "wafer-pack-matmul{register-tile=4,16},func.func(linalg-fuse-elementwise-ops,canonicalize,cse),wafer-fuse"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="rows, inner and output size of the layer")
    size = parser.parse_args().size
    text = LINEAR_RELU.format(m=size, k=size, n=size)
    print(f"{len(registry.pass_names())} Wafer passes, e.g. {', '.join(registry.pass_names()[:4])}, ...")

    module = parse_module(text, make_context())
    before = count_ops(module)
    build_pass_manager(f"builtin.module({PASSES})", module.context).run(module.operation)
    after = count_ops(module)
    print(f"\nwafer-opt -p '{PASSES}':")
    for op in sorted(set(before) | set(after)):
        if op.startswith(("linalg.", "scf.", "vector.")):
            print(f"  {op:24} {before[op]:>4} -> {after[op]:<4}")

    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(shape, dtype=np.float32) for shape in ((size, size), (size, size), (size,)))
    expected = np.maximum(x @ w + b, 0)
    cpu = wafer.compile_mlir(text, target="cpu", threads=1, tile_sizes=(8, 32))
    wse = wafer.compile_mlir(text, target="wse", machine="small")
    print("\nthe cpu pipeline's stages:\n" + cpu.compile_report.table())
    print(f"\n{'target':8} {'max error':>10}  strategy or cost")
    print(f"{'cpu':8} {np.abs(cpu.linear_relu(x, w, b) - expected).max():>10.2e}  {cpu.compile_report.strategies[0]}")
    wse_error = np.abs(wse.invoke("linear_relu", x, w, b) - expected).max()
    print(f"{'wse':8} {wse_error:>10.2e}  {wse.report.cycles:,.0f} cycles on {wse.report.pes_in_use} PEs")


if __name__ == "__main__":
    main()
