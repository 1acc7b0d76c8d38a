"""Your own pass in Wafer's pipelines: a rewrite pattern that turns `x * 2.0`
into `x + x`, run by `wafer-opt` as a plugin and by `wafer.compile` after the
cpu pipeline's simplify stage.

    python examples/custom_pass.py
    wafer-opt in.mlir --load-pass-plugin examples/custom_pass.py -p double-to-add
    wafer-opt in.mlir --load-pass-plugin examples/custom_pass.py --pipeline 'cpu{after-simplify=double-to-add}'

As a plugin, the file registers the WaferPass subclass it defines,
`DoubleToAdd` (see wafer/plugins.py); `main()` runs only as a script.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from torch_mlir import ir, rewrite
from torch_mlir.dialects import arith

from wafer.passes.pass_base import WaferPass


def double_to_add(op, rewriter):
    """arith.mulf %x, 2.0 (the constant on either side) -> arith.addf %x, %x."""
    for x, factor in ((op.operands[0], op.operands[1]), (op.operands[1], op.operands[0])):
        if _is_float_constant(factor, 2.0):
            with rewriter.ip, op.location:
                rewriter.replace_op(op, [arith.addf(x, x)])
            return False
    return True  # no match


def _is_float_constant(value: ir.Value, number: float) -> bool:
    owner = value.owner
    if not isinstance(owner, ir.OpView) or owner.name != "arith.constant":
        return False
    attr = owner.attributes["value"]
    return isinstance(attr, ir.FloatAttr) and attr.value == number


@dataclass(frozen=True)
class DoubleToAdd(WaferPass):
    """Rewrite `arith.mulf %x, 2.0` as `arith.addf %x, %x`.

    The sum is exact, as the product is, so the results are bit for bit the
    same. A pass's options would be its dataclass fields (this one has none).
    """

    name = "double-to-add"
    summary = "Rewrite arith.mulf by 2.0 as arith.addf of the operand with itself"

    def apply(self, module: ir.Operation) -> None:
        patterns = rewrite.RewritePatternSet()
        patterns.add("arith.mulf", double_to_add)
        rewrite.apply_patterns_and_fold_greedily(module, patterns.freeze())


DOUBLE = """\
func.func @double(%x: f32) -> f32 {
  %two = arith.constant 2.0 : f32
  %y = arith.mulf %x, %two : f32
  return %y : f32
}
"""


def run_wafer_opt(folder: Path) -> None:
    """The pass as a plugin of `wafer-opt`, in its own process, as a user runs it."""
    source = folder / "double.mlir"
    source.write_text(DOUBLE)
    plugin = Path(__file__).resolve()
    print(f"{source.name}:\n{DOUBLE}")
    print(f"$ wafer-opt {source.name} --load-pass-plugin {plugin.name} -p {DoubleToAdd.name}")
    run = subprocess.run([sys.executable, "-m", "wafer.tools.wafer_opt", str(source),
                          "--load-pass-plugin", str(plugin), "-p", DoubleToAdd.name],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(run.stderr)
    print(run.stdout)


def arith_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if "arith.mulf" in line or "arith.addf" in line]


def run_compile(folder: Path, size: int) -> None:
    """The pass at the end of the cpu pipeline's simplify stage, from Python."""
    import torch

    import wafer

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(size, size)

        def forward(self, x):
            return torch.tanh(self.linear(x) * 2.0)

    torch.manual_seed(0)
    model, x = Model().eval(), torch.randn(4, size)
    wafer.register_pass(DoubleToAdd)
    for options in ({}, {"after_simplify": DoubleToAdd.name}):
        dump = folder / ("with-pass" if options else "without-pass")
        compiled = wafer.compile(model, (x,), threads=1, dump_ir=str(dump), **options)
        with torch.no_grad():
            error = (compiled(x) - model(x)).abs().max().item()
        arguments = ", ".join(["model", "x", *(f"{key}={value!r}" for key, value in options.items())])
        print(f"wafer.compile({arguments}): after the simplify stage")
        print("\n".join(f"  {line}" for line in arith_lines(next(dump.glob("*-simplify.mlir")))))
        print(f"  max |wafer - torch| = {error:.2e}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16, help="features of the model's linear layer")
    size = parser.parse_args().size
    with tempfile.TemporaryDirectory(prefix="wafer-custom-pass-") as folder:
        run_wafer_opt(Path(folder))
        run_compile(Path(folder), size)


if __name__ == "__main__":
    main()
