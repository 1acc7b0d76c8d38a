"""Ahead of time: export a bundled example as a shared library, a C header, a weights
file and a standalone runner, then run the runner on .npy files, as a program
without Python would, and compare with PyTorch.

    python examples/aot_example.py [--model lenet] [--batch 1] [--out DIR]
"""

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

import wafer
from wafer.examples.models import EXAMPLES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet", choices=EXAMPLES)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--out", help="where to export (default: a temporary folder)")
    args = parser.parse_args()

    model, inputs = EXAMPLES[args.model].build(args.batch)
    with tempfile.TemporaryDirectory(prefix="wafer-aot-") as scratch:
        out = Path(args.out or scratch)
        artifact = wafer.export(model, inputs, out)
        print(f"exported {args.model}, batch {args.batch}, to {out}:")
        for path in sorted(out.iterdir()):
            print(f"  {path.name:14} {path.stat().st_size / 1e3:10.1f} kB")
        print("\n" + "\n".join(line for line in artifact.header.read_text().splitlines() if line.startswith("int ")))

        # The runner reads and writes .npy files: nothing of Python or MLIR is loaded.
        names = [out / f"input{i}.npy" for i in range(len(inputs))]
        for name, x in zip(names, inputs):
            np.save(name, x.numpy())
        result = out / "output0.npy"
        command = [str(out / "model_main"), *map(str, names), str(result)]
        print("\n$ " + " ".join(Path(part).name if i else part for i, part in enumerate(command)))
        subprocess.run(command, check=True)
        with torch.no_grad():
            expected = model(*inputs).numpy()
        error = float(np.abs(np.load(result) - expected).max())
        print(f"max |model_main - torch| = {error:.2e}")


if __name__ == "__main__":
    main()
